//! Validates Keptn files: detects what each file is (shipyard, SLO, SLI config, remediation,
//! webhook config, event), parses and validates it, and reports located errors and warnings.
//!
//! ```text
//! cargo run -p keptn-examples --example spec_validate -- [--strict] FILE...
//! ```
//!
//! For each file it prints `FILE: ok (<kind>)` followed by any warnings, one per line, each
//! located (`  warning: FILE:LINE:COLUMN: path: message`); or `FILE: invalid (<kind>)` /
//! `FILE: cannot parse` followed by the located errors (`  error: …`).
//!
//! Exit status: 0 when every file is valid, 1 when a file parsed but is invalid, 2 when a file
//! cannot be read or parsed at all (the highest applies). `--strict` makes unknown keys errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use keptn_spec::document::Document;
use keptn_spec::{Error, ParseOptions};

/// Validates Keptn files (shipyard, SLO, SLI config, remediation, webhook config, event).
#[derive(Debug, Parser)]
#[command(name = "spec_validate")]
struct Args {
    /// Treat unknown keys as errors instead of warnings.
    #[arg(long)]
    strict: bool,
    /// The files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// The outcome for one file, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Valid = 0,
    Invalid = 1,
    Unreadable = 2,
}

fn check(path: &PathBuf, strict: bool) -> Outcome {
    let name = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            println!("{name}: cannot read");
            println!("  error: {name}: {e}");
            return Outcome::Unreadable;
        }
    };
    let mut options = ParseOptions::new().file(name.clone());
    if strict {
        options = options.strict();
    }
    match Document::parse(&src, &options) {
        Ok(parsed) => {
            println!("{name}: ok ({})", parsed.value.kind());
            for w in &parsed.warnings {
                println!("  warning: {w}");
            }
            Outcome::Valid
        }
        Err(e @ Error::Invalid { .. }) => {
            match Document::detect(&src) {
                Some(kind) => println!("{name}: invalid ({kind})"),
                None => println!("{name}: invalid"),
            }
            if let Error::Invalid { problems, .. } = &e {
                for p in problems {
                    println!("  error: {p}");
                }
            }
            Outcome::Invalid
        }
        Err(e) => {
            println!("{name}: cannot parse");
            println!("  error: {e}");
            Outcome::Unreadable
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let worst = args
        .files
        .iter()
        .map(|f| check(f, args.strict))
        .max()
        .unwrap_or(Outcome::Valid);
    ExitCode::from(worst as u8)
}
