//! The `slo_evaluate` command: the quality gate from the command line (feature `cli`).
//!
//! ```text
//! slo_evaluate [--slo SLO.yaml] --sli SLI.json [--previous PREV.json]
//!              [--format json|table|junit] [--fail-on-warning]
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
//!   input, with a located message (`file:line:column: …`) on stderr.
//!
//! The logic is a function ([`run`]) so it is tested without spawning the binary.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use keptn_spec::{Slo, Verdict};

use crate::engine::{Evaluation, EvaluationContext, evaluate};
use crate::explain::{ObjectiveExplanation, TargetKind};
use crate::file_provider::FileSliProvider;
use crate::report::PreviousEvaluation;

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
    #[arg(long, value_name = "SLI.json")]
    pub sli: PathBuf,
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

fn run_args(args: &Args, stdout_is_terminal: bool) -> Result<Output, String> {
    let (slo, raw) = match &args.slo {
        None => (None, None),
        Some(path) => {
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
            (Some(slo), Some(text))
        }
    };
    let sli_text = read(&args.sli)?;
    let report = FileSliProvider::parse(&sli_text).map_err(|e| json_error(&args.sli, &e))?;
    let previous: Vec<PreviousEvaluation> = match &args.previous {
        None => Vec::new(),
        Some(path) => {
            let text = read(path)?;
            serde_json::from_str(&text).map_err(|e| json_error(path, &e))?
        }
    };
    let mut ctx = EvaluationContext::default();
    if let Some(raw) = &raw {
        ctx = ctx.with_slo_file(raw);
    }
    let evaluation = evaluate(slo.as_ref(), &report, &previous, &ctx);
    let format = args.format.unwrap_or(if stdout_is_terminal {
        Format::Table
    } else {
        Format::Json
    });
    let empty = Slo::default();
    let slo_ref = slo.as_ref().unwrap_or(&empty);
    let stdout = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&evaluation.data)
                .map_err(|e| format!("cannot write JSON: {e}"))?;
            s.push('\n');
            s
        }
        Format::Table => table(&evaluation, slo_ref),
        Format::Junit => junit(&evaluation, slo_ref),
    };
    let code = match evaluation.verdict() {
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

fn num(v: f64) -> String {
    format!("{v}")
}

/// The readable report.
pub fn table(e: &Evaluation, slo: &Slo) -> String {
    let mut out = String::new();
    let d = &e.data;
    let _ = writeln!(
        out,
        "result: {}  score: {}  status: {}",
        d.result,
        num(d.evaluation.score),
        d.status
    );
    if !d.message.is_empty() {
        let _ = writeln!(out, "message: {}", d.message);
    }
    if let Some(ts) = &slo.total_score {
        let _ = writeln!(
            out,
            "thresholds: pass >= {}  warning >= {}",
            ts.pass.as_deref().unwrap_or("-"),
            ts.warning.as_deref().unwrap_or("-")
        );
    }
    if d.evaluation.compared_events().is_empty() {
        let _ = writeln!(out, "compared with: no previous evaluation");
    } else {
        let _ = writeln!(
            out,
            "compared with: {}",
            d.evaluation.compared_events().join(", ")
        );
    }
    for x in e.explain(slo) {
        out.push('\n');
        objective(&mut out, &x);
    }
    out
}

fn objective(out: &mut String, x: &ObjectiveExplanation) {
    let key = if x.key_sli { "  key SLI" } else { "" };
    let _ = writeln!(
        out,
        "{}  [{}]  score {}/{}{key}",
        x.name,
        x.status,
        num(x.score),
        x.weight
    );
    match x.observed {
        Some(v) => {
            let _ = writeln!(out, "  value     {}", num(v));
        }
        None => {
            let _ = writeln!(out, "  value     none ({})", x.message);
        }
    }
    match x.baseline {
        Some(b) => {
            let plural = if x.baseline_samples == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "  baseline  {} ({} previous value{plural})",
                num(b),
                x.baseline_samples
            );
        }
        None => {
            let _ = writeln!(out, "  baseline  none");
        }
    }
    let width = x
        .targets
        .iter()
        .map(|t| t.criteria.len())
        .max()
        .unwrap_or(0);
    for t in &x.targets {
        let kind = match t.kind {
            TargetKind::Pass => "pass   ",
            TargetKind::Warning => "warning",
        };
        let margin = t
            .margin
            .map(|m| format!("  margin {}", num(m)))
            .unwrap_or_default();
        let met = if t.met { "met" } else { "violated" };
        let _ = writeln!(
            out,
            "  {kind}   {:<width$}  target {}{margin}  {met}",
            t.criteria,
            num(t.target)
        );
    }
    if let Some(c) = x.would_pass_when {
        let _ = writeln!(out, "  would pass with a value {c}");
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per objective plus one for the total verdict.
pub fn junit(e: &Evaluation, slo: &Slo) -> String {
    use keptn_spec::evaluation::IndicatorStatus as S;
    let explained = e.explain(slo);
    let tests = explained.len() + 1;
    let mut failures = explained.iter().filter(|x| x.status == S::Fail).count();
    if e.verdict() == Verdict::Fail {
        failures += 1;
    }
    let skipped = explained.iter().filter(|x| x.status == S::Info).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"keptn quality gate\" tests=\"{tests}\" failures=\"{failures}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"slo\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\">"
    );
    for x in &explained {
        let _ = write!(
            out,
            "    <testcase classname=\"slo\" name=\"{}\"",
            xml(&x.name)
        );
        let details: Vec<String> = x
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{} {} target {} {}",
                    match t.kind {
                        TargetKind::Pass => "pass",
                        TargetKind::Warning => "warning",
                    },
                    t.criteria,
                    num(t.target),
                    if t.met { "met" } else { "violated" }
                )
            })
            .collect();
        let value = x
            .observed
            .map_or_else(|| format!("no value ({})", x.message), num);
        match x.status {
            S::Pass => out.push_str("/>\n"),
            S::Info => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"info objective, value {}\"/>\n    </testcase>",
                    xml(&value)
                );
            }
            S::Warning => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&format!("warning: value {value}; {}", details.join("; ")))
                );
            }
            S::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&format!("value {value}")),
                    xml(&details.join("\n"))
                );
            }
        }
    }
    let d = &e.data;
    let _ = write!(out, "    <testcase classname=\"slo\" name=\"total score\"");
    let summary = format!(
        "result {} score {} {}",
        d.result,
        num(d.evaluation.score),
        d.message
    );
    match e.verdict() {
        Verdict::Fail => {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\"/>\n    </testcase>",
                xml(summary.trim_end())
            );
        }
        Verdict::Pass | Verdict::Warning => {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml(summary.trim_end())
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
