//! Ready-made reports of an evaluation: a readable table, JUnit XML and Keptn's JSON. Plain
//! functions over [`Evaluation`] (no command-line parsing), used by `slo_evaluate`.
//!
//! ```
//! use keptn_slo::{evaluate, render, EvaluationContext, SliReport};
//! use keptn_spec::{Slo, SliValue};
//!
//! let slo = Slo::from_yaml_str("objectives:\n  - sli: error_rate\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
//! let sli = SliReport::succeeded(vec![SliValue::ok("error_rate", 3.0)]);
//! let e = evaluate(Some(&slo), &sli, &[], &EvaluationContext::default());
//! let table = render::table(&e, &slo);
//! assert!(table.starts_with("result: fail  score: 0"));
//! assert!(table.contains("would pass with a value < 1"));
//! assert!(render::junit(&e, &slo).contains("<failure"));
//! assert!(render::json(&e).contains("\"indicatorResults\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use keptn_spec::{Slo, Verdict};

use crate::engine::Evaluation;
use crate::explain::{ObjectiveExplanation, TargetKind};

/// The `evaluation.finished` data as pretty-printed JSON, with a final newline (what
/// `slo_evaluate --format json` prints).
pub fn json(e: &Evaluation) -> String {
    // Serializing plain data with string keys cannot fail.
    let mut s = serde_json::to_string_pretty(&e.data).unwrap_or_default();
    s.push('\n');
    s
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
        let _ = writeln!(out);
        let _ = objective(&mut out, &x);
    }
    out
}

/// One objective as the table prints it (`ObjectiveExplanation`'s `Display`).
pub(crate) fn objective(
    out: &mut impl std::fmt::Write,
    x: &ObjectiveExplanation,
) -> std::fmt::Result {
    let key = if x.key_sli { "  key SLI" } else { "" };
    writeln!(
        out,
        "{}  [{}]  score {}/{}{key}",
        x.name,
        x.status,
        num(x.score),
        x.weight
    )?;
    match x.observed {
        Some(v) => {
            writeln!(out, "  value     {}", num(v))?;
        }
        None => {
            writeln!(out, "  value     none ({})", x.message)?;
        }
    }
    match x.baseline {
        Some(b) => {
            let plural = if x.baseline_samples == 1 { "" } else { "s" };
            writeln!(
                out,
                "  baseline  {} ({} previous value{plural})",
                num(b),
                x.baseline_samples
            )?;
        }
        None => {
            writeln!(out, "  baseline  none")?;
        }
    }
    let width = x
        .targets
        .iter()
        .map(|t| t.criteria.chars().count())
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
        // Padded by hand: `{:<width$}` panics when the width exceeds u16::MAX, and a criterion
        // in an SLO file may be that long.
        let pad = width.saturating_sub(t.criteria.chars().count());
        write!(out, "  {kind}   {}", t.criteria)?;
        for _ in 0..pad {
            out.write_char(' ')?;
        }
        writeln!(out, "  target {}{margin}  {met}", num(t.target))?;
    }
    if let Some(c) = x.would_pass_when {
        writeln!(out, "  would pass with a value {c}")?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvaluationContext, SliReport, evaluate};
    use keptn_spec::SliValue;

    /// Issue 16: a criterion longer than 65,535 characters made `table` panic (a `{:<width$}`
    /// width above `u16::MAX`). Every renderer now handles it, and the columns still line up.
    #[test]
    fn criterion_longer_than_u16_max_does_not_panic() {
        let long = format!("<={}5", "0".repeat(70_000));
        let slo = Slo::from_yaml_str(&format!(
            "objectives:\n  - sli: rt\n    pass: [{{criteria: [\"{long}\", \"<9\"]}}]\ntotal_score: {{pass: \"90%\"}}\n"
        ))
        .unwrap();
        let sli = SliReport::succeeded(vec![SliValue::ok("rt", 7.0)]);
        let e = evaluate(Some(&slo), &sli, &[], &EvaluationContext::default());
        let table = table(&e, &slo);
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("  pass ")).collect();
        let brief: Vec<String> = lines.iter().map(|l| l.chars().take(60).collect()).collect();
        assert_eq!(lines.len(), 2, "{brief:?}");
        assert!(lines[0].starts_with(&format!("  pass      {long}  target 5")));
        let short = format!("  pass      <9{}  target 9", " ".repeat(long.len() - 2));
        assert!(lines[1].starts_with(&short), "{:.300}", lines[1]);
        assert!(lines[0].ends_with("violated") && lines[1].ends_with("met"));
        assert!(junit(&e, &slo).contains(&format!(
            "pass &lt;={}5 target 5 violated",
            "0".repeat(70_000)
        )));
        assert!(json(&e).contains(&long));
    }
}
