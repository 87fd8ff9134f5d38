//! One test per rule of §2 of the behaviour spec (Keptn 1.4.5's lighthouse), named after it.

mod util;

use keptn_slo::{EvaluationContext, NO_VALUE_MESSAGE, SliReport, SliReportResult, evaluate};
use keptn_spec::evaluation::{IndicatorStatus, Status};
use keptn_spec::{SliValue, Verdict};
use util::*;

const RT: &str = "response_time_p95";

fn one_objective(comparison: &str, pass: &str, warning: &str) -> keptn_spec::Slo {
    slo(&format!(
        "comparison: {comparison}\nobjectives:\n  - sli: {RT}\n    pass: {pass}\n    warning: {warning}\ntotal_score: {{ pass: \"90%\", warning: \"50%\" }}\n"
    ))
}

/// §2.3 (1.x): an unparsable pass criterion aborts: fail, succeeded, score 0, Keptn's message.
#[test]
fn rule_2_3_unparsable_pass_criterion_fails_the_evaluation() {
    let s = slo(
        "objectives:\n  - sli: rt\n    displayName: Response time\n    pass: [{criteria: [\"<600ms\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(&s, vec![ok("rt", 1.0)], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(e.status(), Status::Succeeded);
    assert_eq!(e.score(), 0.0);
    assert_eq!(
        e.data.message,
        "error with Response time: could not parse criteria target value"
    );
    assert!(e.data.evaluation.indicator_results().is_empty());
}

/// §2.12: an unparsable warning criterion makes the warning unsatisfied and leaves no warning
/// targets (this replaces the older "violated, target 0").
#[test]
fn rule_2_3_unparsable_warning_criterion_is_unsatisfied_without_targets() {
    let s = one_objective(
        "{}",
        "[{criteria: [\"<10\"]}]",
        "[{criteria: [\"<=800ms\"]}]",
    );
    let e = eval(&s, vec![ok(RT, 20.0)], &[]);
    assert_eq!(warning_targets(&e, 0), []);
    assert_eq!(
        e.data.evaluation.indicator_results()[0].warning_targets,
        None
    );
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Fail
    );
}

/// §2.3: the reported `criteria` is the text as written (spaces kept).
#[test]
fn rule_2_3_targets_report_the_criterion_as_written() {
    let s = one_objective("{}", "[{criteria: [\"< 10\"]}]", "[]");
    let e = eval(&s, vec![ok(RT, 5.0)], &[]);
    assert_eq!(pass_targets(&e, 0), [("< 10".to_owned(), 10.0, false)]);
}

/// §2.4: criteria inside one `criteria` list are combined with AND.
#[test]
fn rule_2_4_criteria_in_a_block_are_anded() {
    let s = one_objective("{}", "[{criteria: [\">1\", \"<10\"]}]", "[]");
    assert_eq!(
        eval(&s, vec![ok(RT, 5.0)], &[])
            .data
            .evaluation
            .indicator_results()[0]
            .status,
        IndicatorStatus::Pass
    );
    let e = eval(&s, vec![ok(RT, 20.0)], &[]);
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Fail
    );
    assert_eq!(
        pass_targets(&e, 0),
        [(">1".into(), 1.0, false), ("<10".into(), 10.0, true)]
    );
}

/// §2.4: several blocks are combined with OR, and every block is evaluated and reported.
#[test]
fn rule_2_4_blocks_are_ored_and_all_reported() {
    let s = one_objective(
        "{}",
        "[{criteria: [\"<10\"]}, {criteria: [\">100\"]}]",
        "[]",
    );
    let e = eval(&s, vec![ok(RT, 5.0)], &[]);
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Pass
    );
    assert_eq!(
        pass_targets(&e, 0),
        [("<10".into(), 10.0, false), (">100".into(), 100.0, true)]
    );
}

/// §2.4 (1.x): a failed SLI lists every criterion violated: absolute → its number, relative →
/// the raw previous aggregate (no percentage applied).
#[test]
fn rule_2_4_failed_sli_lists_all_targets_violated_with_raw_targets() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: all}",
        "[{criteria: [\"<=+10%\", \"<600\"]}]",
        "[{criteria: [\"<=800\"]}]",
    );
    let e = eval(
        &s,
        vec![SliValue::failed(RT, "no data")],
        &[prev("p1", Verdict::Pass, &[(RT, 500.0)])],
    );
    assert_eq!(
        pass_targets(&e, 0),
        [("<=+10%".into(), 500.0, true), ("<600".into(), 600.0, true)]
    );
    assert_eq!(warning_targets(&e, 0), [("<=800".into(), 800.0, true)]);
    let r = &e.data.evaluation.indicator_results()[0];
    assert_eq!(r.status, IndicatorStatus::Fail);
    assert_eq!(value(&e, 0).message, "no data");
    assert!(!value(&e, 0).success);
}

/// §2.5: `single_result` compares with the newest matching evaluation only.
#[test]
fn rule_2_5_single_result_uses_the_newest_evaluation() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: all}",
        "[{criteria: [\"<=+10%\"]}]",
        "[]",
    );
    let history = [
        prev("new", Verdict::Pass, &[(RT, 100.0)]),
        prev("old", Verdict::Pass, &[(RT, 1000.0)]),
    ];
    let e = eval(&s, vec![ok(RT, 105.0)], &history);
    assert_eq!(pass_targets(&e, 0), [("<=+10%".into(), 110.0, false)]);
    assert_eq!(e.data.evaluation.compared_events(), ["new"]);
}

/// §2.5: `several_results` aggregates `number_of_comparison_results` evaluations with avg.
#[test]
fn rule_2_5_compare_with_several_results_uses_avg() {
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 2, include_result_with_score: all, aggregate_function: avg}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    let history = [
        prev("a", Verdict::Pass, &[(RT, 100.0)]),
        prev("b", Verdict::Fail, &[(RT, 300.0)]),
        prev("c", Verdict::Pass, &[(RT, 9000.0)]),
    ];
    let e = eval(&s, vec![ok(RT, 150.0)], &history);
    assert_eq!(pass_targets(&e, 0), [("<=+0%".into(), 200.0, false)]);
    assert_eq!(value(&e, 0).compared_value, 200.0);
    assert_eq!(e.data.evaluation.compared_events(), ["a", "b"]);
}

/// §2.5 (0.7.1+): `include_result_with_score: pass` keeps only evaluations whose overall result passed.
#[test]
fn rule_2_5_include_result_with_score_pass_filters_on_the_overall_result() {
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 2, include_result_with_score: pass}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    let history = [
        prev("w", Verdict::Warning, &[(RT, 1.0)]),
        prev("p1", Verdict::Pass, &[(RT, 100.0)]),
        prev("f", Verdict::Fail, &[(RT, 1.0)]),
        prev("p2", Verdict::Pass, &[(RT, 200.0)]),
    ];
    let e = eval(&s, vec![ok(RT, 1.0)], &history);
    assert_eq!(e.data.evaluation.compared_events(), ["p1", "p2"]);
    assert_eq!(value(&e, 0).compared_value, 150.0);
}

/// §2.5: `pass_or_warn` keeps passed and warning evaluations; unknown values keep everything.
#[test]
fn rule_2_5_include_result_with_score_pass_or_warn_and_unknown() {
    let history = [
        prev("f", Verdict::Fail, &[(RT, 1.0)]),
        prev("w", Verdict::Warning, &[(RT, 2.0)]),
        prev("p", Verdict::Pass, &[(RT, 3.0)]),
    ];
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass_or_warn}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    assert_eq!(
        eval(&s, vec![ok(RT, 1.0)], &history)
            .data
            .evaluation
            .compared_events(),
        ["w", "p"]
    );
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass_or_warning}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    assert_eq!(
        eval(&s, vec![ok(RT, 1.0)], &history)
            .data
            .evaluation
            .compared_events(),
        ["f", "w", "p"]
    );
}

/// §2.5 (0.7.3+): invalidated evaluations are never compared with.
#[test]
fn rule_2_5_invalidated_evaluations_are_skipped() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: all}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    let mut bad = prev("bad", Verdict::Pass, &[(RT, 1.0)]);
    bad.invalidated = true;
    let history = [bad, prev("good", Verdict::Pass, &[(RT, 100.0)])];
    let e = eval(&s, vec![ok(RT, 100.0)], &history);
    assert_eq!(e.data.evaluation.compared_events(), ["good"]);
    assert_eq!(pass_targets(&e, 0)[0].1, 100.0);
}

/// §2.5 (#1263): only successful previous SLI values count.
#[test]
fn rule_2_5_only_successful_previous_values_count() {
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 2, include_result_with_score: all}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    let history = [
        prev_with("a", Verdict::Fail, vec![(RT, 0.0, false)]),
        prev("b", Verdict::Pass, &[(RT, 80.0)]),
    ];
    let e = eval(&s, vec![ok(RT, 80.0)], &history);
    assert_eq!(value(&e, 0).compared_value, 80.0);
    assert_eq!(e.baseline_samples, [1]);
}

/// §2.5 note: an errored previous evaluation (no indicator results) occupies the single slot
/// with `all`, so there is no comparison value.
#[test]
fn rule_2_5_errored_previous_evaluation_occupies_a_slot() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: all}",
        "[{criteria: [\"<=+10%\"]}]",
        "[]",
    );
    let history = [
        prev_with("err", Verdict::Fail, vec![]),
        prev("p", Verdict::Pass, &[(RT, 10.0)]),
    ];
    let e = eval(&s, vec![ok(RT, 1000.0)], &history);
    assert_eq!(pass_targets(&e, 0), [("<=+10%".into(), 0.0, false)]);
    assert_eq!(e.data.evaluation.compared_events(), ["err"]);
}

/// §2.5: percentiles use `pos = p × (n + 1)` with linear interpolation; the spec's example.
#[test]
fn rule_2_5_percentiles_use_keptn_interpolation() {
    use keptn_spec::slo::AggregateFunction as F;
    let v = [400.0, 100.0, 300.0, 200.0];
    assert_eq!(keptn_slo::aggregate(&F::P50, &mut v.clone()), 250.0);
    assert_eq!(keptn_slo::aggregate(&F::P90, &mut v.clone()), 400.0);
    assert_eq!(keptn_slo::aggregate(&F::P95, &mut v.clone()), 400.0);
    assert_eq!(keptn_slo::aggregate(&F::P50, &mut [7.0]), 7.0);
    // pos < 1 → min: p50 of 1 value = pos 1.0 → max rule; p90 of [1,2] = 2.7 → max.
    assert_eq!(keptn_slo::aggregate(&F::P90, &mut [2.0, 1.0]), 2.0);
    assert_eq!(keptn_slo::aggregate(&F::Avg, &mut v.clone()), 250.0);
    // Through the engine: p90 of 10, 20, 30, 40, 50 → pos 5.4 ≥ 5 → 50.
    let s = one_objective(
        "{compare_with: several_results, number_of_comparison_results: 5, include_result_with_score: all, aggregate_function: p90}",
        "[{criteria: [\"<=+0%\"]}]",
        "[]",
    );
    let history: Vec<_> = (1..=5)
        .map(|i| {
            prev(
                &format!("e{i}"),
                Verdict::Pass,
                &[(RT, f64::from(i) * 10.0)],
            )
        })
        .collect();
    assert_eq!(
        eval(&s, vec![ok(RT, 1.0)], &history)
            .data
            .evaluation
            .indicator_results()[0]
            .value()
            .unwrap()
            .compared_value,
        50.0
    );
}

/// §2.5 QUIRK: an unknown aggregate function aggregates to 0.
#[test]
fn rule_2_5_unknown_aggregate_function_is_zero() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: all, aggregate_function: max}",
        "[{criteria: [\"<=+10\"]}]",
        "[]",
    );
    let e = eval(
        &s,
        vec![ok(RT, 11.0)],
        &[prev("p", Verdict::Pass, &[(RT, 500.0)])],
    );
    assert_eq!(pass_targets(&e, 0), [("<=+10".into(), 10.0, true)]);
}

/// §2.5: no previous values → relative criteria satisfied with target 0; absolute still evaluated.
#[test]
fn rule_2_5_no_baseline_satisfies_relative_criteria() {
    let s = one_objective("{}", "[{criteria: [\"<=+10%\", \"<600\"]}]", "[]");
    let e = eval(&s, vec![ok(RT, 580.0)], &[]);
    assert_eq!(
        pass_targets(&e, 0),
        [("<=+10%".into(), 0.0, false), ("<600".into(), 600.0, false)]
    );
    assert_eq!(value(&e, 0).compared_value, 0.0);
    let e = eval(&s, vec![ok(RT, 700.0)], &[]);
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Fail
    );
}

/// §2.5 (0.12+): `comparedValue` is the aggregate used for relative targets.
#[test]
fn rule_2_5_compared_value_is_reported() {
    let s = one_objective(
        "{compare_with: single_result, include_result_with_score: pass}",
        "[{criteria: [\"<=+10%\"]}]",
        "[]",
    );
    let e = eval(
        &s,
        vec![ok(RT, 540.0)],
        &[prev("p", Verdict::Pass, &[(RT, 500.0)])],
    );
    assert_eq!(value(&e, 0).compared_value, 500.0);
}

/// §2.6: pass scores the weight, warning half the weight, fail 0.
#[test]
fn rule_2_6_status_and_score_per_objective() {
    let s = slo(
        "objectives:\n  - sli: a\n    weight: 4\n    pass: [{criteria: [\"<10\"]}]\n    warning: [{criteria: [\"<20\"]}]\ntotal_score: {pass: \"90%\", warning: \"40%\"}\n",
    );
    let status = |v| {
        let e = eval(&s, vec![ok("a", v)], &[]);
        let r = &e.data.evaluation.indicator_results()[0];
        (r.status, r.score, e.score())
    };
    assert_eq!(status(5.0), (IndicatorStatus::Pass, 4.0, 100.0));
    assert_eq!(status(15.0), (IndicatorStatus::Warning, 2.0, 50.0));
    assert_eq!(status(25.0), (IndicatorStatus::Fail, 0.0, 0.0));
}

/// §2.6 (0.8+): warning targets are computed even when pass succeeded.
#[test]
fn rule_2_6_warning_targets_always_reported() {
    let s = one_objective("{}", "[{criteria: [\"<10\"]}]", "[{criteria: [\"<20\"]}]");
    let e = eval(&s, vec![ok(RT, 5.0)], &[]);
    assert_eq!(warning_targets(&e, 0), [("<20".into(), 20.0, false)]);
}

/// §2.6 (1.x): no pass criteria → info: score 0, never counted, targets listed violated.
#[test]
fn rule_2_6_info_objectives_are_reported_not_scored() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    warning: [{criteria: [\"<=+10%\", \"<5\"]}]\n  - sli: c\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(
        &s,
        vec![ok("a", 1.0), ok("b", 100.0), ok("c", 3.0)],
        &[prev("p", Verdict::Pass, &[("b", 50.0)])],
    );
    assert_verdict(&e, Verdict::Pass);
    assert_eq!(e.score(), 100.0);
    let b = &e.data.evaluation.indicator_results()[1];
    assert_eq!(b.status, IndicatorStatus::Info);
    assert_eq!(b.score, 0.0);
    assert!(b.pass_targets().is_empty());
    assert_eq!(
        warning_targets(&e, 1),
        [("<=+10%".into(), 50.0, true), ("<5".into(), 5.0, true)]
    );
    assert_eq!(
        e.data.evaluation.indicator_results()[2].status,
        IndicatorStatus::Info
    );
    let json = serde_json::to_value(&e.data).unwrap();
    assert_eq!(
        json["evaluation"]["indicatorResults"][2]["passTargets"],
        serde_json::json!([])
    );
}

/// §2.6 (1.x): a missing SLI value fails the objective with Keptn's message and still counts.
#[test]
fn rule_2_6_missing_value_fails_with_message() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"50%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0)], &[]);
    let b = &e.data.evaluation.indicator_results()[1];
    assert_eq!(b.status, IndicatorStatus::Fail);
    assert_eq!(b.status, IndicatorStatus::Fail);
    assert_eq!(&*value(&e, 1).metric, "b");
    assert!(!value(&e, 1).success);
    assert_eq!(value(&e, 1).message, NO_VALUE_MESSAGE);
    assert_eq!(e.score(), 50.0);
    assert_verdict(&e, Verdict::Pass);
}

/// §2.6: only a key SLI in status fail forces the verdict to fail, whatever the score.
#[test]
fn rule_2_6_failing_key_sli_fails_the_gate() {
    let s = slo(
        "objectives:\n  - sli: a\n    weight: 10\n    pass: [{criteria: [\"<10\"]}]\n  - sli: k\n    displayName: Key one\n    key_sli: true\n    pass: [{criteria: [\"=0\"]}]\n    warning: [{criteria: [\"<5\"]}]\ntotal_score: {pass: \"50%\", warning: \"10%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0), ok("k", 7.0)], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert!(e.score() > 90.0);
    assert!(
        e.data.message.contains("key_sli objective 'Key one'"),
        "{}",
        e.data.message
    );
    // A key SLI in warning does not fail the gate.
    let e = eval(&s, vec![ok("a", 1.0), ok("k", 3.0)], &[]);
    assert_verdict(&e, Verdict::Pass);
}

/// §2.6 (1.x): values without an objective are named in the message, in Keptn's words
/// (`checkLeftoverSLI` in lighthouse's `evaluate_sli_handler.go`).
#[test]
fn rule_2_6_additional_slis_are_reported() {
    let s = one_objective("{}", "[{criteria: [\"<10\"]}]", "[]");
    let e = eval(&s, vec![ok(RT, 1.0), ok("extra", 2.0)], &[]);
    assert_verdict(&e, Verdict::Pass);
    assert_eq!(
        e.data.message,
        "Lighthouse received additional SLIs, which are not specified as SLO: extra . Please consider using them as an SLO."
    );
    assert_eq!(e.data.evaluation.indicator_results().len(), 1);
    // Several: comma-separated, in the provider's order.
    let e = eval(&s, vec![ok("x", 1.0), ok(RT, 1.0), ok("y", 2.0)], &[]);
    assert_eq!(
        e.data.message,
        "Lighthouse received additional SLIs, which are not specified as SLO: x, y . Please consider using them as an SLO."
    );
}

/// §2.6/§2.7 (1.x): Keptn writes the additional-SLIs note before scoring; a warning or fail
/// verdict then sets its own message, which replaces the note.
#[test]
fn rule_2_6_verdict_message_replaces_the_additional_slis_note() {
    let s = one_objective("{}", "[{criteria: [\"<10\"]}]", "[]");
    let e = eval(&s, vec![ok(RT, 50.0), ok("extra", 2.0)], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(
        e.data.message,
        "Evaluation failed since the calculated score of 0 is below the warning value of 50"
    );
}

/// §2.7: no scored objectives → pass with score 100 (total_score still required in 1.x).
#[test]
fn rule_2_7_only_info_objectives_pass_with_100() {
    let s = slo("objectives:\n  - sli: a\ntotal_score: {pass: \"90%\"}\n");
    let e = eval(&s, vec![ok("a", 1.0)], &[]);
    assert_verdict(&e, Verdict::Pass);
    assert_eq!(e.score(), 100.0);
    let s = slo("objectives:\n  - sli: a\n");
    let e = eval(&s, vec![ok("a", 1.0)], &[]);
    assert_eq!((e.verdict(), e.status()), (Verdict::Fail, Status::Errored));
    assert_eq!(e.data.message, "no target score defined");
}

/// §2.7: thresholds are inclusive (`>=`), and the messages name score and threshold.
#[test]
fn rule_2_7_thresholds_are_inclusive() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\n    warning: [{criteria: [\"<20\"]}]\ntotal_score: {pass: \"75%\", warning: \"50%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 15.0)], &[]);
    assert_eq!(e.score(), 75.0);
    assert_verdict(&e, Verdict::Pass);
    let e = eval(&s, vec![ok("a", 11.0), ok("b", 1.0)], &[]);
    assert_eq!(e.score(), 50.0);
    assert_verdict(&e, Verdict::Warning);
    assert_eq!(
        e.data.message,
        "Evaluation returned a warning: the calculated score of 50 is close to the warning target value of 50"
    );
    let e = eval(&s, vec![ok("a", 11.0), ok("b", 15.0)], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(
        e.data.message,
        "Evaluation failed since the calculated score of 25 is below the warning value of 50"
    );
}

/// §2.7: scores in messages are written as Go's `%v` writes a float64 (shortest digits).
#[test]
fn rule_2_7_message_scores_are_go_formatted() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\n  - sli: c\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\", warning: \"33.3%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 11.0), ok("c", 11.0)], &[]);
    assert_verdict(&e, Verdict::Warning);
    assert_eq!(
        e.data.message,
        "Evaluation returned a warning: the calculated score of 33.33333333333333 is close to the warning target value of 33.3"
    );
}

/// §2.7: without a warning threshold a score below pass fails; `"90"` works like `"90%"`.
#[test]
fn rule_2_7_no_warning_threshold_fails_below_pass() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n    warning: [{criteria: [\"<20\"]}]\ntotal_score: {pass: \"90\"}\n",
    );
    let e = eval(&s, vec![ok("a", 15.0)], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(
        e.data.message,
        "Evaluation failed since the calculated score of 50 is below the target value of 90"
    );
}

/// §2.7/§2.12: unparsable thresholds are errors; in 1.4.5 an unparsable warning threshold is
/// one even when the score passes.
#[test]
fn rule_2_7_unparsable_thresholds_are_errors() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"high\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0)], &[]);
    assert_eq!(
        (e.verdict(), e.status(), e.data.message.as_str()),
        (
            Verdict::Fail,
            Status::Errored,
            "could not parse pass target percentage"
        )
    );
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\", warning: \"low\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0)], &[]);
    assert_eq!(
        (e.status(), e.data.message.as_str()),
        (Status::Errored, "could not parse warning target percentage")
    );
}

/// §2.7 (1.x): an SLO with no objectives fails.
#[test]
fn rule_2_7_no_objectives_fails() {
    let s = slo("spec_version: '0.1.0'\ncomparison:\nobjectives:\ntotal_score: {pass: \"90%\"}\n");
    let e = eval(&s, vec![], &[]);
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(
        e.data.message,
        "lighthouse failed because no SLO objective was provided"
    );
}

/// §2.7: the score is 100 × Σ scores / Σ weights of scored objectives, not rounded.
#[test]
fn rule_2_7_score_is_weighted_and_not_rounded() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\n  - sli: c\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\", warning: \"50%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 1.0), ok("c", 11.0)], &[]);
    assert_eq!(e.score(), 100.0 * (2.0 / 3.0));
}

/// §2.12: provider `status: errored` or `aborted` → errored fail, no indicator results.
#[test]
fn rule_2_8_provider_errored_fails_the_evaluation() {
    let s = slo(SEED);
    let e = evaluate(Some(&s), &SliReport::errored("token expired"), &[], &ctx());
    assert_eq!((e.verdict(), e.status()), (Verdict::Fail, Status::Errored));
    assert_eq!(
        e.data.message,
        "evaluation performed by lighthouse received an unexpected error: token expired"
    );
    let mut aborted = SliReport::errored("stop");
    aborted.status = Status::Aborted;
    let e = evaluate(Some(&s), &aborted, &[], &ctx());
    assert_eq!((e.verdict(), e.status()), (Verdict::Fail, Status::Errored));
    assert_eq!(
        e.data.message,
        "evaluation performed by lighthouse was aborted"
    );
}

/// §2.8 (1.x): provider `result: fail` → indicator results computed, verdict forced to fail.
#[test]
fn rule_2_8_provider_result_fail_forces_fail() {
    let s = slo(SEED);
    let mut r = report(vec![ok(RT, 100.0)]);
    r.result = SliReportResult::Fail;
    r.message = "some-silly-msg".into();
    let e = evaluate(Some(&s), &r, &[], &ctx());
    assert_eq!(
        (e.verdict(), e.status()),
        (Verdict::Fail, Status::Succeeded)
    );
    assert_eq!(
        e.data.message,
        "lighthouse failed because SLI failed with message some-silly-msg"
    );
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Pass
    );
}

/// §2.9: no SLO file → pass, succeeded, Keptn's message.
#[test]
fn rule_2_9_no_slo_file_passes() {
    let e = evaluate(None, &report(vec![]), &[], &ctx());
    assert_eq!(
        (e.verdict(), e.status()),
        (Verdict::Pass, Status::Succeeded)
    );
    assert_eq!(
        e.data.message,
        "no evaluation performed by lighthouse because no SLO file configured for project sockshop"
    );
}

/// §2.10: the result serializes to the gen-2 `evaluation.finished` data shape.
#[test]
fn rule_2_10_output_has_keptn_shape() {
    let s = slo(SEED);
    let ctx = EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
    .with_slo_file("a");
    let e = evaluate(
        Some(&s),
        &report(vec![ok(RT, 700.0)]),
        &[prev("p", Verdict::Pass, &[(RT, 520.0)])],
        &ctx,
    );
    let json = serde_json::to_string(&e.data).unwrap();
    insta::assert_snapshot!(json, @r#"{"project":"sockshop","stage":"staging","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":50,"sloFileContent":"YQ==","indicatorResults":[{"score":0.5,"value":{"metric":"response_time_p95","value":700,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false}],"keySli":false,"status":"warning"}],"comparedEvents":["p"],"gitCommit":""}}"#);
}

/// §2.11: the worked example (540 pass, 580 warning → fail, no baseline 580 pass).
#[test]
fn rule_2_11_worked_example() {
    let s = slo(SEED);
    let history = [prev("p", Verdict::Pass, &[(RT, 500.0)])];
    let e = eval(&s, vec![ok(RT, 540.0)], &history);
    assert_verdict(&e, Verdict::Pass);
    assert_eq!(pass_targets(&e, 0)[0].1, 550.0);
    let e = eval(&s, vec![ok(RT, 580.0)], &history);
    assert_eq!(
        e.data.evaluation.indicator_results()[0].status,
        IndicatorStatus::Warning
    );
    assert_eq!(e.score(), 50.0);
    assert_verdict(&e, Verdict::Fail);
    assert_verdict(&eval(&s, vec![ok(RT, 580.0)], &[]), Verdict::Pass);
}

/// Duplicate SLI names: both objectives share the baseline; values are consumed, so the second
/// objective gets the second value.
#[test]
fn duplicate_sli_names_share_baseline_and_consume_values() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: a\n    pass: [{criteria: [\"<=+0%\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(
        &s,
        vec![ok("a", 5.0), ok("a", 50.0)],
        &[prev("p", Verdict::Pass, &[("a", 5.0)])],
    );
    assert_verdict(&e, Verdict::Fail);
    assert_eq!(value(&e, 1).value, 50.0);
    assert_eq!(value(&e, 1).compared_value, 5.0);
}
