//! The `slo_evaluate` command: the quality gate from the command line.
//!
//! ```text
//! slo_evaluate [--slo SLO.yaml] --sli SLI.json [--previous PREV.json]
//!              [--format json|table|junit] [--fail-on-warning]
//! slo_evaluate --replay HISTORY --slo NEW.yaml [--format json|table]
//! ```
//!
//! * `--slo` absent means "no SLO file" (Keptn passes without evaluating).
//! * `SLI.json`: a JSON array of `{"metric","value","success","message"}` or a Keptn
//!   `get-sli.finished` data object (`{"status","result","message","indicatorValues":[…]}`).
//! * `PREV.json`: a JSON array of previous `evaluation.finished` data objects, newest first
//!   (each may carry an `id`, reported in `comparedEvents`, and `"invalidated": true`).
//! * `--format`: `json` prints the `evaluation.finished` data object, `table` a readable report
//!   with the explanation, `junit` JUnit XML. Default: `table` when stdout is a terminal,
//!   `json` otherwise (so pipes and scripts get machine-readable output).
//! * Exit codes: 0 pass or warning (1 on warning with `--fail-on-warning`), 1 fail, 2 invalid
//!   input, with a located message (`file:line:column: …`) on stderr, 3 inconclusive (an
//!   objective with `no_data: inconclusive` had no data; the JSON says `result: fail` and
//!   `"keptn-rs": {"inconclusive": true}`).
//!
//! * `--replay HISTORY` (with `--slo NEW.yaml`): re-evaluates a recorded history under the new
//!   SLO in time order, each evaluation against the baselines it would have had, and prints which
//!   verdicts change (`table`: a summary line and one line per change; `json`: every evaluation
//!   with `before`/`after`, plus `total`, `changed` and `newlyBlocked`). HISTORY is a
//!   `FileHistory` JSON-lines file, Keptn's datastore `GET /event` answer or a JSON array / JSON
//!   lines of `evaluation.finished` events (see `keptn_slo::replay`). Exit 0 (2 on invalid
//!   input).
//!
//! The logic is a function ([`run`]) so it is tested without spawning the binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use keptn_spec::{Slo, Verdict};

use keptn_slo::{EvaluationContext, evaluate};
use keptn_slo::{PreviousEvaluation, SliReport};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The `evaluation.finished` data object.
    Json,
    /// A readable report with the explanation.
    Table,
    /// JUnit XML.
    Junit,
}

/// Command-line arguments of `slo_evaluate`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "slo_evaluate",
    about = "Evaluate SLI values against an SLO exactly as Keptn's lighthouse does"
)]
pub struct Args {
    /// The SLO file (slo.yaml). Absent: no SLO file (Keptn passes without evaluating).
    #[arg(long, value_name = "SLO.yaml")]
    pub slo: Option<PathBuf>,
    /// SLI values: a JSON array of {metric,value,success,message} or a get-sli.finished object.
    #[arg(long, value_name = "SLI.json", required_unless_present = "replay")]
    pub sli: Option<PathBuf>,
    /// Replay a recorded history (FileHistory JSON lines, a datastore export or evaluation.finished
    /// events) under the SLO given with --slo, and print which verdicts change.
    #[arg(long, value_name = "HISTORY", requires = "slo", conflicts_with_all = ["sli", "previous"])]
    pub replay: Option<PathBuf>,
    /// Previous evaluation.finished data objects, newest first (JSON array).
    #[arg(long, value_name = "PREV.json")]
    pub previous: Option<PathBuf>,
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Exit with 1 when the result is a warning.
    #[arg(long)]
    pub fail_on_warning: bool,
}

/// What a run printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Text for stdout.
    pub stdout: String,
    /// Text for stderr.
    pub stderr: String,
    /// The process exit code.
    pub code: u8,
}

impl Output {
    fn invalid(message: &str) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            code: 2,
        }
    }
}

/// Runs `slo_evaluate` with `args` (including the program name); `stdout_is_terminal` selects
/// the default format.
pub fn run<I, T>(args: I, stdout_is_terminal: bool) -> Output
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let text = e.render().to_string();
            let code = u8::try_from(e.exit_code()).unwrap_or(2);
            return if e.use_stderr() {
                Output {
                    stdout: String::new(),
                    stderr: text,
                    code,
                }
            } else {
                Output {
                    stdout: text,
                    stderr: String::new(),
                    code,
                }
            };
        }
    };
    match run_args(&args, stdout_is_terminal) {
        Ok(o) => o,
        Err(message) => Output::invalid(&message),
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The first line of a YAML error, without a repeated `error:` / `line N column M:` prefix.
fn short_message(message: &str) -> &str {
    let first = message.lines().next().unwrap_or(message).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, m)| m),
        None => first,
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let text = text.strip_suffix(&suffix).unwrap_or(&text);
    format!("{}:{}:{}: {text}", path.display(), e.line(), e.column())
}

fn read_slo(path: &Path) -> Result<(Slo, String), String> {
    let text = read(path)?;
    let slo = Slo::from_yaml_str(&text).map_err(|e| match e {
        keptn_spec::Error::Parse {
            location: Some(l),
            message,
            ..
        } => format!(
            "{}:{}:{}: {}",
            path.display(),
            l.line,
            l.column,
            short_message(&message)
        ),
        other => format!("{}: {other}", path.display()),
    })?;
    Ok((slo, text))
}

/// The JSON answer of `--replay`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplayJson<'a> {
    total: usize,
    changed: usize,
    newly_blocked: usize,
    evaluations: &'a [keptn_slo::replay::Replayed],
}

fn run_replay(history: &Path, slo_path: &Path, format: Format) -> Result<Output, String> {
    let (slo, _) = read_slo(slo_path)?;
    let text = read(history)?;
    let recorded = keptn_slo::replay::read_recorded(&text)
        .map_err(|e| format!("{}:{e}", history.display()))?;
    let replay = keptn_slo::replay::replay(&slo, &recorded);
    let stdout = match format {
        Format::Table => replay.to_string(),
        Format::Json => {
            let body = ReplayJson {
                total: replay.evaluations.len(),
                changed: replay.changed().count(),
                newly_blocked: replay.newly_blocked(),
                evaluations: &replay.evaluations,
            };
            // Plain data with string keys: serializing cannot fail.
            let mut s = serde_json::to_string_pretty(&body).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Junit => return Err("--replay prints json or table, not junit".into()),
    };
    Ok(Output {
        stdout,
        stderr: String::new(),
        code: 0,
    })
}

fn run_args(args: &Args, stdout_is_terminal: bool) -> Result<Output, String> {
    let format = args.format.unwrap_or(if stdout_is_terminal {
        Format::Table
    } else {
        Format::Json
    });
    if let (Some(history), Some(slo)) = (&args.replay, &args.slo) {
        return run_replay(history, slo, format);
    }
    let (slo, raw) = match &args.slo {
        None => (None, None),
        Some(path) => {
            let (slo, text) = read_slo(path)?;
            (Some(slo), Some(text))
        }
    };
    let Some(sli_path) = &args.sli else {
        return Err("--sli is required".into());
    };
    let sli_text = read(sli_path)?;
    let report = SliReport::from_json_str(&sli_text).map_err(|e| json_error(sli_path, &e))?;
    let previous: Vec<PreviousEvaluation> = match &args.previous {
        None => Vec::new(),
        Some(path) => {
            let text = read(path)?;
            // Only what the evaluation reads: large histories load several times faster.
            PreviousEvaluation::baselines_from_json_str(&text).map_err(|e| json_error(path, &e))?
        }
    };
    let mut ctx = EvaluationContext::default();
    if let Some(raw) = &raw {
        ctx = ctx.with_slo_file(raw);
    }
    let evaluation = evaluate(slo.as_ref(), &report, &previous, &ctx);
    let empty = Slo::default();
    let slo_ref = slo.as_ref().unwrap_or(&empty);
    let stdout = match format {
        Format::Json => keptn_slo::render::json(&evaluation),
        Format::Table => keptn_slo::render::table(&evaluation, slo_ref),
        Format::Junit => keptn_slo::render::junit(&evaluation, slo_ref),
    };
    let code = match evaluation.verdict() {
        _ if evaluation.is_inconclusive() => 3,
        Verdict::Pass => 0,
        Verdict::Warning if args.fail_on_warning => 1,
        Verdict::Warning => 0,
        Verdict::Fail => 1,
    };
    Ok(Output {
        stdout,
        stderr: String::new(),
        code,
    })
}
