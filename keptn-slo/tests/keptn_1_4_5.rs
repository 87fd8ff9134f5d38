//! Keptn 1.4.5's lighthouse, rule by rule: the input checks in their order, the per-objective
//! rules, the total and the history, each with the exact `evaluation.finished` data Keptn sends
//! (compact JSON, byte for byte, `null` where Keptn leaves a list unset).

mod util;

use keptn_slo::{
    CompiledSlo, NO_VALUE_MESSAGE, PreviousEvaluation, SliReport, SliReportResult, evaluate,
};
use keptn_spec::evaluation::Status;
use keptn_spec::{SliValue, Slo, Verdict};
use util::*;

const HEAD: &str = r#"{"project":"sockshop","stage":"staging","service":"carts","#;

/// Evaluates through both engines, checks they agree and returns the one-shot result.
fn both(slo: Option<&Slo>, sli: &SliReport, previous: &[PreviousEvaluation]) -> String {
    let ctx = ctx().with_slo_file("a");
    let one = evaluate(slo, sli, previous, &ctx);
    if let Some(slo) = slo {
        let compiled = CompiledSlo::new(slo).evaluate(sli, previous, &ctx);
        assert_eq!(one, compiled, "one-shot and compiled differ");
    }
    json(&one)
}

fn details(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

/// Input check 1: `status: aborted` ends as errored, details' result still `pass`, score 0, no
/// SLO file content, no indicator results.
#[test]
fn input_1_aborted_provider_ends_as_errored() {
    let mut r = SliReport::errored("stop");
    r.status = Status::Aborted;
    assert_eq!(
        both(Some(&slo(SEED)), &r, &[prev("p1", Verdict::Pass, &[])]),
        details(
            r#""status":"errored","result":"fail","message":"evaluation performed by lighthouse was aborted","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":0,"sloFileContent":"","indicatorResults":null,"comparedEvents":null,"gitCommit":""}}"#
        )
    );
}

/// Input check 2: `status: errored` ends the same way, with the provider's message; it is
/// checked before the SLO file, so it applies without one.
#[test]
fn input_2_errored_provider_ends_as_errored_even_without_slo() {
    let expected = details(
        r#""status":"errored","result":"fail","message":"evaluation performed by lighthouse received an unexpected error: token expired","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":0,"sloFileContent":"","indicatorResults":null,"comparedEvents":null,"gitCommit":""}}"#,
    );
    let r = SliReport::errored("token expired");
    assert_eq!(both(None, &r, &[]), expected);
    assert_eq!(both(Some(&slo(SEED)), &r, &[]), expected);
}

/// Input check 3: no SLO file passes with Keptn's message.
#[test]
fn input_3_no_slo_file_passes() {
    let e = evaluate(None, &report(vec![ok("a", 1.0)]), &[], &ctx());
    assert_eq!(
        json(&e),
        details(
            r#""status":"succeeded","result":"pass","message":"no evaluation performed by lighthouse because no SLO file configured for project sockshop","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":0,"sloFileContent":"","indicatorResults":null,"comparedEvents":null,"gitCommit":""}}"#
        )
    );
}

/// Input check 4: `comparedEvents` is set once the SLO is read: kept on the no-objective and
/// "error with" outcomes, absent (`null`) on the `total_score` errors.
#[test]
fn input_4_compared_events_survive_later_failures_only() {
    let history = [prev("p1", Verdict::Pass, &[("a", 1.0)])];
    let no_objectives = slo("objectives: []\ntotal_score: {pass: \"90%\"}\n");
    assert!(
        both(Some(&no_objectives), &report(vec![]), &history)
            .contains(r#""comparedEvents":["p1"]"#)
    );
    let bad_criterion = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1ms\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    assert!(
        both(Some(&bad_criterion), &report(vec![ok("a", 1.0)]), &history)
            .contains(r#""comparedEvents":["p1"]"#)
    );
    let no_score = slo("objectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\n");
    assert!(
        both(Some(&no_score), &report(vec![ok("a", 1.0)]), &history)
            .contains(r#""comparedEvents":null"#)
    );
}

/// Input check 5: `total_score` is read first: a missing `pass` is an error even when every
/// objective is informational; an unparsable `warning` is an error even when the score
/// passes; `warning:` without a value is no warning threshold.
#[test]
fn input_5_total_score_errors_come_first_and_always() {
    let errored = |message: &str| {
        details(&format!(
            r#""status":"errored","result":"fail","message":"{message}","evaluation":{{"timeStart":"","timeEnd":"","result":"fail","score":0,"sloFileContent":"YQ==","indicatorResults":null,"comparedEvents":null,"gitCommit":""}}}}"#
        ))
    };
    let history = [prev("p1", Verdict::Pass, &[("a", 1.0)])];
    let info_only = slo("objectives:\n  - sli: a\n");
    assert_eq!(
        both(Some(&info_only), &report(vec![ok("a", 1.0)]), &history),
        errored("no target score defined")
    );
    let empty_pass = slo("objectives:\n  - sli: a\ntotal_score: {pass: \"\"}\n");
    assert_eq!(
        both(Some(&empty_pass), &report(vec![]), &[]),
        errored("no target score defined")
    );
    let bad_pass = slo("objectives:\n  - sli: a\ntotal_score: {pass: high}\n");
    assert_eq!(
        both(Some(&bad_pass), &report(vec![]), &[]),
        errored("could not parse pass target percentage")
    );
    let bad_warning = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\", warning: low}\n",
    );
    assert_eq!(
        both(Some(&bad_warning), &report(vec![ok("a", 1.0)]), &[]),
        errored("could not parse warning target percentage")
    );
    // No objectives: the total_score error still comes first.
    let nothing = slo("objectives: []\ntotal_score: {warning: \"x\"}\n");
    assert_eq!(
        both(Some(&nothing), &report(vec![]), &[]),
        errored("no target score defined")
    );
    let null_warning = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score:\n  pass: \"90%\"\n  warning:\n",
    );
    let e = eval(&null_warning, vec![ok("a", 20.0)], &[]);
    assert_eq!(
        e.data.message,
        "Evaluation failed since the calculated score of 0 is below the target value of 90"
    );
}

/// Input check 6: an SLO without objectives fails (after the `total_score` check).
#[test]
fn input_6_no_objectives_fails() {
    let s = slo("objectives: []\ntotal_score: {pass: \"90%\"}\n");
    assert_eq!(
        both(
            Some(&s),
            &report(vec![ok("a", 1.0)]),
            &[prev("p1", Verdict::Pass, &[])]
        ),
        details(
            r#""status":"succeeded","result":"fail","message":"lighthouse failed because no SLO objective was provided","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":0,"sloFileContent":"YQ==","indicatorResults":null,"comparedEvents":["p1"],"gitCommit":""}}"#
        )
    );
}

/// Input check 7: an unparsable pass criterion ends the evaluation only when its objective
/// received a successful value; otherwise the criterion is left out of the targets.
#[test]
fn input_7_unparsable_pass_criterion_with_a_value_ends_the_evaluation() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: rt\n    displayName: Response time\n    pass: [{criteria: [\"<600ms\", \"<700\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    assert_eq!(
        both(Some(&s), &report(vec![ok("a", 1.0), ok("rt", 1.0)]), &[]),
        details(
            r#""status":"succeeded","result":"fail","message":"error with Response time: could not parse criteria target value","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":0,"sloFileContent":"YQ==","indicatorResults":null,"comparedEvents":null,"gitCommit":""}}"#
        )
    );
    // Without a value the objective simply fails; the unparsable criterion is left out.
    assert_eq!(
        both(Some(&s), &report(vec![ok("a", 1.0)]), &[]),
        details(
            r#""status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the target value of 90","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":50,"sloFileContent":"YQ==","indicatorResults":[{"score":1,"value":{"metric":"a","value":1,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<10","targetValue":10,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Response time","passTargets":[{"criteria":"<700","targetValue":700,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"}],"comparedEvents":null,"gitCommit":""}}"#
        )
    );
}

/// Values are consumed: a second objective on one SLI gets no value unless the provider sent
/// the metric twice, and then it gets the value Keptn's swap-removal leaves first. What is
/// left over is reported as additional SLIs.
#[test]
fn objective_values_are_matched_by_name_and_consumed() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"50%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 5.0)], &[]);
    assert_eq!(value(&e, 0).value, 5.0);
    assert_eq!(value(&e, 1).message, NO_VALUE_MESSAGE);
    assert_eq!(e.score(), 50.0);
    // Three objectives on `a`, sent three times: [a=1, x, a=2, a=3] → the first objective
    // takes a=1 and a=3 moves into its place, so the second one gets 3 and the third 2.
    let three = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let values = vec![ok("a", 1.0), ok("x", 9.0), ok("a", 2.0), ok("a", 3.0)];
    let e = eval(&three, values.clone(), &[]);
    let got: Vec<f64> = (0..3).map(|i| value(&e, i).value).collect();
    assert_eq!(got, [1.0, 3.0, 2.0]);
    assert_eq!(
        e.data.message,
        "Lighthouse received additional SLIs, which are not specified as SLO: x . Please consider using them as an SLO."
    );
    let compiled = CompiledSlo::new(&three).evaluate(&report(values), &[], &ctx());
    assert_eq!(compiled, e);
    // A value sent twice for one objective: the second copy is additional.
    let one = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(&one, vec![ok("a", 1.0), ok("a", 2.0)], &[]);
    assert_eq!(
        e.data.message,
        "Lighthouse received additional SLIs, which are not specified as SLO: a . Please consider using them as an SLO."
    );
}

/// An unparsable warning criterion on an objective with a value: warning unsatisfied,
/// `warningTargets` `null`.
#[test]
fn objective_unparsable_warning_criterion_empties_the_warning_targets() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n    warning: [{criteria: [\"<=20\", \"<=800ms\"]}]\ntotal_score: {pass: \"90%\", warning: \"10%\"}\n",
    );
    assert_eq!(
        both(Some(&s), &report(vec![ok("a", 15.0)]), &[]),
        details(
            r#""status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 0 is below the warning value of 10","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":0,"sloFileContent":"YQ==","indicatorResults":[{"score":0,"value":{"metric":"a","value":15,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<10","targetValue":10,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"}],"comparedEvents":null,"gitCommit":""}}"#
        )
    );
    // Without a value the parsable warning criterion is listed, the other left out.
    let e = eval(&s, vec![SliValue::failed("a", "no data")], &[]);
    assert_eq!(warning_targets(&e, 0), [("<=20".to_owned(), 20.0, true)]);
}

/// `keySli` is true only on results evaluated with a successful value; the key-SLI failure
/// names the display name only and the value's message when there was no successful value.
#[test]
fn objective_key_sli_only_on_evaluated_results() {
    let s = slo(
        "objectives:\n  - sli: k\n    key_sli: true\n    pass: [{criteria: [\"<10\"]}]\n  - sli: i\n    key_sli: true\ntotal_score: {pass: \"90%\"}\n",
    );
    assert_eq!(
        both(Some(&s), &report(vec![ok("i", 3.0)]), &[]),
        details(
            r#""status":"succeeded","result":"fail","message":"Evaluation failed due to key_sli objective '': no value received from SLI provider","evaluation":{"timeStart":"","timeEnd":"","result":"fail","score":0,"sloFileContent":"YQ==","indicatorResults":[{"score":0,"value":{"metric":"k","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<10","targetValue":10,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"},{"score":0,"value":{"metric":"i","value":3,"comparedValue":0,"success":true},"displayName":"","passTargets":[],"warningTargets":[],"keySli":false,"status":"info"}],"comparedEvents":null,"gitCommit":""}}"#
        )
    );
    let e = eval(&s, vec![ok("k", 30.0)], &[]);
    assert!(e.data.evaluation.indicator_results()[0].key_sli);
    assert_eq!(
        e.data.message,
        "Evaluation failed due to key_sli objective '': failed evaluation with score 0.000000"
    );
}

/// `comparedValue` is set only on evaluated results; a failed value reports 0 while its
/// relative target is the raw baseline.
#[test]
fn objective_compared_value_only_on_evaluated_results() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<=+10%\"]}]\n  - sli: b\n    pass: [{criteria: [\"<=+10%\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let history = [prev("p1", Verdict::Pass, &[("a", 100.0), ("b", 100.0)])];
    let e = eval(
        &s,
        vec![ok("a", 105.0), SliValue::failed("b", "timeout")],
        &history,
    );
    assert_eq!(value(&e, 0).compared_value, 100.0);
    assert_eq!(value(&e, 1).compared_value, 0.0);
    assert_eq!(pass_targets(&e, 0), [("<=+10%".to_owned(), 110.0, false)]);
    assert_eq!(pass_targets(&e, 1), [("<=+10%".to_owned(), 100.0, true)]);
    assert!(json(&e).contains(
        r#"{"metric":"b","value":0,"comparedValue":0,"success":false,"message":"timeout"}"#
    ));
}

/// An informational objective without a value has `"value": null`, score 0, its display name
/// and empty target lists.
#[test]
fn objective_info_without_value_has_null_value() {
    let s = slo(
        "objectives:\n  - sli: i\n    displayName: Info only\n    warning: [{criteria: [\"<5\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    assert_eq!(
        both(Some(&s), &report(vec![]), &[]),
        details(
            r#""status":"succeeded","result":"pass","message":"","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":100,"sloFileContent":"YQ==","indicatorResults":[{"score":0,"value":null,"displayName":"Info only","passTargets":[],"warningTargets":[],"keySli":false,"status":"info"}],"comparedEvents":null,"gitCommit":""}}"#
        )
    );
}

/// Weight is a signed integer: 0 becomes 1, negative weights are taken as they are.
#[test]
fn objective_weight_is_signed_and_zero_means_one() {
    let s = slo(
        "objectives:\n  - sli: a\n    weight: 0\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    weight: -1\n    pass: [{criteria: [\"<10\"]}]\n  - sli: c\n    weight: 2\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    // max = 1 - 1 + 2 = 2; a and b pass: 1 + (-1) = 0 → 0 %.
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 1.0), ok("c", 11.0)], &[]);
    assert_eq!(e.data.evaluation.indicator_results()[1].score, -1.0);
    assert_eq!(e.score(), 0.0);
    // b fails: 1 + 0 + 2 = 3 of 2 → 150 %.
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 11.0), ok("c", 1.0)], &[]);
    assert_eq!(e.score(), 150.0);
    assert_verdict(&e, Verdict::Pass);
}

/// Lists Keptn never filled are `null`: `passTargets` of `pass: [{criteria: []}]`,
/// `warningTargets` without a warning block.
#[test]
fn objective_unfilled_lists_are_null() {
    let s =
        slo("objectives:\n  - sli: a\n    pass: [{criteria: []}]\ntotal_score: {pass: \"90%\"}\n");
    assert!(
        both(Some(&s), &report(vec![ok("a", 1.0)]), &[]).contains(
            r#"{"score":1,"value":{"metric":"a","value":1,"comparedValue":0,"success":true},"displayName":"","passTargets":null,"warningTargets":null,"keySli":false,"status":"pass"}"#
        )
    );
}

/// Only results with pass targets add to the sum; the maximum counts every objective with a
/// pass block, so `pass: [{criteria: []}]` adds its weight to the maximum only.
#[test]
fn total_empty_pass_block_counts_in_the_maximum_only() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: []}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\", warning: \"50%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 1.0), ok("b", 1.0)], &[]);
    assert_eq!(e.score(), 50.0);
    assert_verdict(&e, Verdict::Warning);
}

/// The key-SLI failure names the last failing key SLI in SLO order, by display name only.
#[test]
fn total_key_sli_failure_names_the_last_one() {
    let s = slo(
        "objectives:\n  - sli: a\n    displayName: First\n    key_sli: true\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    displayName: Second\n    key_sli: true\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(
        &s,
        vec![ok("a", 20.0), SliValue::failed("b", "timeout")],
        &[],
    );
    assert_eq!(
        e.data.message,
        "Evaluation failed due to key_sli objective 'Second': timeout"
    );
    let e = eval(
        &s,
        vec![SliValue::failed("a", "timeout"), ok("b", 20.0)],
        &[],
    );
    assert_eq!(
        e.data.message,
        "Evaluation failed due to key_sli objective 'Second': failed evaluation with score 0.000000"
    );
}

/// A provider `result: fail` with `status: succeeded`: indicator results, the details' result
/// and the score are computed as usual; only the event's result fails.
#[test]
fn total_provider_result_fail_only_fails_the_event() {
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let mut r = report(vec![ok("a", 1.0)]);
    r.result = SliReportResult::Fail;
    r.message = "partial data".into();
    assert_eq!(
        both(Some(&s), &r, &[]),
        details(
            r#""status":"succeeded","result":"fail","message":"lighthouse failed because SLI failed with message partial data","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":100,"sloFileContent":"YQ==","indicatorResults":[{"score":1,"value":{"metric":"a","value":1,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<10","targetValue":10,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":null,"gitCommit":""}}"#
        )
    );
}

/// History: previous results Keptn wrote with `"value": null` are skipped for baselines, never
/// rejected; the evaluation reads back to the same bytes.
#[test]
fn history_null_values_are_skipped() {
    let keptn_written = r#"{"id":"p1","project":"sockshop","stage":"staging","service":"carts","status":"succeeded","result":"pass","message":"","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":100,"sloFileContent":"","indicatorResults":[{"score":0,"value":null,"displayName":"","passTargets":[],"warningTargets":[],"keySli":false,"status":"info"},{"score":1,"value":{"metric":"a","value":100,"comparedValue":0,"success":true},"displayName":"","passTargets":null,"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":null,"gitCommit":""}}"#;
    let p: PreviousEvaluation = serde_json::from_str(keptn_written).unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), keptn_written);
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<=+10%\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = eval(&s, vec![ok("a", 105.0)], &[p]);
    assert_eq!(value(&e, 0).compared_value, 100.0);
    assert_eq!(e.baseline_samples, [1]);
    assert_verdict(&e, Verdict::Pass);
}

/// Every failure says what failed: the build, the pipeline (provider or history) or the SLO.
#[test]
fn failures_say_whether_build_pipeline_or_slo_failed() {
    use keptn_slo::FailedOn;
    let s = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let ctx = ctx();
    let on = |slo: &Slo, r: &SliReport| evaluate(Some(slo), r, &[], &ctx).failed_on();
    assert_eq!(on(&s, &report(vec![ok("a", 1.0)])), None);
    assert_eq!(on(&s, &report(vec![ok("a", 11.0)])), Some(FailedOn::Build));
    // No data for the only objective: Keptn fails it, but the build is not to blame.
    assert_eq!(on(&s, &report(vec![])), Some(FailedOn::Pipeline));
    assert_eq!(
        on(&s, &report(vec![SliValue::failed("a", "no data points")])),
        Some(FailedOn::Pipeline)
    );
    // Two of three: a value that misses its target fails the build even when another SLI has no
    // data (with full marks for it the score is still 66.7% < 90%) ...
    let three = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\n  - sli: c\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let e = evaluate(
        Some(&three),
        &report(vec![ok("a", 11.0), ok("b", 1.0)]),
        &[],
        &ctx,
    );
    assert_eq!(e.verdict(), Verdict::Fail);
    assert_eq!(e.failed_on(), Some(FailedOn::Build));
    // ... while values that all meet their targets leave the failure to the missing one.
    let e = evaluate(
        Some(&three),
        &report(vec![ok("a", 1.0), ok("b", 1.0)]),
        &[],
        &ctx,
    );
    assert_eq!(e.verdict(), Verdict::Fail);
    assert_eq!(e.failed_on(), Some(FailedOn::Pipeline));
    // A key SLI that failed on its value blames the build whatever the score.
    let key = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\n    key_sli: true\n  - sli: b\n    pass: [{criteria: [\"<10\"]}]\n    weight: 9\ntotal_score: {pass: \"50%\"}\n",
    );
    assert_eq!(
        on(&key, &report(vec![ok("a", 11.0)])),
        Some(FailedOn::Build)
    );
    // A key SLI without data fails the evaluation on the pipeline.
    assert_eq!(
        on(&key, &report(vec![ok("b", 1.0)])),
        Some(FailedOn::Pipeline)
    );
    assert_eq!(on(&s, &SliReport::errored("503")), Some(FailedOn::Pipeline));
    let mut partial = report(vec![ok("a", 1.0)]);
    partial.result = SliReportResult::Fail;
    assert_eq!(on(&s, &partial), Some(FailedOn::Pipeline));
    let no_score = slo("objectives:\n  - sli: a\n");
    assert_eq!(on(&no_score, &report(vec![])), Some(FailedOn::Slo));
    let bad = slo(
        "objectives:\n  - sli: a\n    pass: [{criteria: [\"<1ms\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    assert_eq!(on(&bad, &report(vec![ok("a", 1.0)])), Some(FailedOn::Slo));
    assert_eq!(FailedOn::Pipeline.to_string(), "pipeline");
}
