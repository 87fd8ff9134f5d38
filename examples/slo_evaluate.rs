//! The quality gate from the command line: evaluates SLI values against an SLO exactly as
//! Keptn's lighthouse does.
//!
//! ```text
//! cargo run -p keptn-examples --example slo_evaluate -- \
//!     --slo examples/fixtures/slo/slo.yaml --sli examples/fixtures/slo/sli-0.11.2.json \
//!     --previous examples/fixtures/slo/previous.json --format table
//! ```
//!
//! Exit codes: 0 pass or warning (1 on warning with `--fail-on-warning`), 1 fail, 2 invalid input,
//! 3 inconclusive.
//! See `keptn_examples::slo_cli` for the full contract.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = keptn_examples::slo_cli::run(std::env::args_os(), std::io::stdout().is_terminal());
    // Ignore write errors on closed pipes; the exit code still tells the verdict.
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(out.code)
}
