//! The gate features beyond Keptn (issue 14, item 3): the no-data policy with the inconclusive
//! verdict, and shadow objectives, through both `evaluate` and `CompiledSlo`.

mod util;

use keptn_slo::{CompiledSlo, Evaluation, FailedOn, SliReport, evaluate};
use keptn_spec::evaluation::IndicatorStatus;
use keptn_spec::{SliValue, Slo, Verdict};
use util::{ctx, ok, slo};

/// Evaluates with both engines, checks they agree, returns one.
fn both(slo: &Slo, sli: &SliReport) -> Evaluation {
    let one_shot = evaluate(Some(slo), sli, &[], &ctx());
    let compiled = CompiledSlo::new(slo).evaluate(sli, &[], &ctx());
    assert_eq!(one_shot, compiled);
    one_shot
}

fn two_objectives(top: &str, second: &str) -> Slo {
    slo(&format!(
        "{top}objectives:\n  - sli: rt\n    pass: [{{criteria: [\"<600\"]}}]\n  - sli: errors\n{second}    pass: [{{criteria: [\"<1\"]}}]\n    weight: 3\ntotal_score: {{pass: \"90%\", warning: \"50%\"}}\n"
    ))
}

fn failed_errors() -> SliReport {
    SliReport::succeeded(vec![ok("rt", 400.0), SliValue::failed("errors", "timeout")])
}

fn missing_errors() -> SliReport {
    SliReport::succeeded(vec![ok("rt", 400.0)])
}

fn status(e: &Evaluation, i: usize) -> IndicatorStatus {
    e.data.evaluation.indicator_results()[i].status
}

/// `fail` (and no key at all) is Keptn's rule: the objective fails, counted in the maximum.
#[test]
fn no_data_fail_is_keptns_rule() {
    for top in ["", "no_data: fail\n"] {
        let e = both(&two_objectives(top, ""), &failed_errors());
        assert_eq!(e.verdict(), Verdict::Fail);
        assert_eq!(e.score(), 25.0);
        assert!(!e.is_inconclusive());
        let json = keptn_slo::render::json(&e);
        assert!(!json.contains("keptn-rs"), "{json}");
    }
}

/// `warn`: the objective is a warning worth half its weight.
#[test]
fn no_data_warn_scores_half() {
    for sli in [failed_errors(), missing_errors()] {
        let e = both(&two_objectives("", "    no_data: warn\n"), &sli);
        assert_eq!(status(&e, 1), IndicatorStatus::Warning);
        assert_eq!(e.score(), 62.5);
        assert_eq!(e.verdict(), Verdict::Warning);
    }
}

/// `ignore`: the objective leaves the maximum and is reported as `info`; the rest decides.
#[test]
fn no_data_ignore_leaves_the_maximum() {
    let e = both(&two_objectives("no_data: ignore\n", ""), &failed_errors());
    assert_eq!(status(&e, 1), IndicatorStatus::Info);
    assert_eq!(e.score(), 100.0);
    assert_eq!(e.verdict(), Verdict::Pass);
    assert!(!e.is_inconclusive());
}

/// `ignore` on everything without data is inconclusive, never a pass.
#[test]
fn no_data_ignore_everything_is_inconclusive() {
    let e = both(
        &two_objectives("no_data: ignore\n", ""),
        &SliReport::succeeded(vec![]),
    );
    assert!(e.is_inconclusive());
    assert_eq!(e.verdict(), Verdict::Fail);
    assert_eq!(e.score(), 0.0);
}

/// `inconclusive`: the whole evaluation is inconclusive; the event says `fail` with a message
/// and the `keptn-rs` extension; the pipeline, not the build, is to blame.
#[test]
fn no_data_inconclusive_makes_the_evaluation_inconclusive() {
    let e = both(
        &two_objectives("", "    no_data: inconclusive\n"),
        &missing_errors(),
    );
    assert!(e.is_inconclusive());
    assert_eq!(e.verdict(), Verdict::Fail);
    assert_eq!(e.data.evaluation.result, "fail");
    assert_eq!(e.failed_on(), Some(FailedOn::Pipeline));
    assert_eq!(
        e.data.message,
        "evaluation inconclusive: no data for errors"
    );
    let v: serde_json::Value = serde_json::to_value(&e.data).unwrap();
    assert_eq!(v["result"], "fail");
    assert_eq!(v["keptn-rs"], serde_json::json!({"inconclusive": true}));
    // with data, the same SLO decides as usual
    let e = both(
        &two_objectives("", "    no_data: inconclusive\n"),
        &SliReport::succeeded(vec![ok("rt", 400.0), ok("errors", 0.0)]),
    );
    assert!(!e.is_inconclusive());
    assert_eq!(e.verdict(), Verdict::Pass);
}

/// The objective's key wins over the SLO-wide one.
#[test]
fn no_data_objective_key_wins() {
    let e = both(
        &two_objectives("no_data: inconclusive\n", "    no_data: warn\n"),
        &failed_errors(),
    );
    assert!(!e.is_inconclusive());
    assert_eq!(status(&e, 1), IndicatorStatus::Warning);
}

/// An errored SLI provider under the SLO-wide `inconclusive` policy: Keptn's errored event,
/// marked inconclusive.
#[test]
fn no_data_inconclusive_provider_errored() {
    let s = two_objectives("no_data: inconclusive\n", "");
    let e = both(&s, &SliReport::errored("Dynatrace answered 503"));
    assert!(e.is_inconclusive());
    assert_eq!(e.verdict(), Verdict::Fail);
    let plain = both(&two_objectives("", ""), &SliReport::errored("x"));
    assert!(!plain.is_inconclusive());
}

/// A shadow objective is evaluated and reported, never counted: not in the score, and a
/// failing shadow key SLI fails nothing. It reads its SLI's value without taking it from a
/// counted objective on the same SLI.
#[test]
fn shadow_objective_is_reported_not_counted() {
    let s = slo(
        "objectives:\n  - sli: rt\n    shadow: true\n    key_sli: true\n    pass: [{criteria: [\"<300\"]}]\n  - sli: rt\n    pass: [{criteria: [\"<600\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = both(&s, &SliReport::succeeded(vec![ok("rt", 400.0)]));
    assert_eq!(status(&e, 0), IndicatorStatus::Fail);
    assert_eq!(status(&e, 1), IndicatorStatus::Pass);
    assert_eq!(e.verdict(), Verdict::Pass);
    assert_eq!(e.score(), 100.0);
    assert_eq!(e.data.message, "");
    assert_eq!(e.data.keptn_rs.shadow_objectives, vec!["rt".to_owned()]);
    let v: serde_json::Value = serde_json::to_value(&e.data).unwrap();
    assert_eq!(
        v["keptn-rs"],
        serde_json::json!({"shadowObjectives": ["rt"]})
    );
}

/// A shadow SLO blocks nothing: the event passes (score 100), the verdict and score it would
/// have given are in the message and the `keptn-rs` extension — also for an inconclusive or
/// errored evaluation.
#[test]
fn shadow_slo_blocks_nothing() {
    let s = two_objectives("shadow: true\nno_data: inconclusive\n", "");
    let e = both(
        &s,
        &SliReport::succeeded(vec![ok("rt", 900.0), ok("errors", 5.0)]),
    );
    assert_eq!(e.verdict(), Verdict::Pass);
    assert_eq!(e.score(), 100.0);
    assert_eq!(e.failed_on(), None);
    assert_eq!(e.shadow_verdict(), Some(Verdict::Fail));
    assert_eq!(e.data.keptn_rs.shadow_score, Some(0.0));
    assert_eq!(status(&e, 0), IndicatorStatus::Fail);
    assert!(
        e.data.message.starts_with(
            "shadow SLO, blocks nothing: it would have given fail with score 0: Evaluation failed"
        ),
        "{}",
        e.data.message
    );
    let v: serde_json::Value = serde_json::to_value(&e.data).unwrap();
    assert_eq!(
        v["keptn-rs"],
        serde_json::json!({"shadowResult": "fail", "shadowScore": 0.0})
    );
    let e = both(&s, &missing_errors());
    assert!(!e.is_inconclusive());
    assert_eq!(e.verdict(), Verdict::Pass);
    assert!(
        e.data.message.contains("would have given inconclusive"),
        "{}",
        e.data.message
    );
    let e = both(&s, &SliReport::errored("down"));
    assert_eq!(e.verdict(), Verdict::Pass);
    assert_eq!(e.shadow_verdict(), Some(Verdict::Fail));
    // no SLO file and an errored provider: still Keptn's errored event
    let none = evaluate(None, &SliReport::errored("down"), &[], &ctx());
    assert_eq!(none.verdict(), Verdict::Fail);
}
