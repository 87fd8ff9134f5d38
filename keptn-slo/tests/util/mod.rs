//! Shared helpers for keptn-slo's integration tests.
#![allow(dead_code, unreachable_pub)]

use keptn_slo::{Evaluation, EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::evaluation::{EvaluationFinishedData, IndicatorResult, SliResult, Status};
use keptn_spec::{SliValue, Slo, Verdict};

#[track_caller]
pub fn slo(yaml: &str) -> Slo {
    Slo::from_yaml_str(yaml).unwrap()
}

pub fn ctx() -> EvaluationContext {
    EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

pub fn ok(metric: &str, v: f64) -> SliValue {
    SliValue::ok(metric, v)
}

pub fn report(values: Vec<SliValue>) -> SliReport {
    SliReport::succeeded(values)
}

pub fn eval(slo: &Slo, values: Vec<SliValue>, previous: &[PreviousEvaluation]) -> Evaluation {
    evaluate(Some(slo), &report(values), previous, &ctx())
}

/// A previous evaluation with overall `result` and successful values.
pub fn prev(id: &str, result: Verdict, values: &[(&str, f64)]) -> PreviousEvaluation {
    prev_with(
        id,
        result,
        values.iter().map(|(m, v)| (*m, *v, true)).collect(),
    )
}

/// A previous evaluation with values that may have failed.
pub fn prev_with(id: &str, result: Verdict, values: Vec<(&str, f64, bool)>) -> PreviousEvaluation {
    let mut data = EvaluationFinishedData::new(Status::Succeeded, result, "");
    data.evaluation.indicator_results = Some(
        values
            .into_iter()
            .map(|(m, v, success)| IndicatorResult {
                score: 0.0,
                value: Some(SliResult {
                    metric: m.into(),
                    value: v,
                    compared_value: 0.0,
                    success,
                    message: String::new(),
                }),
                display_name: String::new(),
                pass_targets: None,
                warning_targets: None,
                key_sli: false,
                status: keptn_spec::evaluation::IndicatorStatus::Pass,
            })
            .collect(),
    );
    PreviousEvaluation::new(id, data)
}

/// The SLI value of result `i` (panics when it is `null`).
#[track_caller]
pub fn value(e: &Evaluation, i: usize) -> &SliResult {
    e.data.evaluation.indicator_results()[i]
        .value()
        .expect("a value")
}

/// The evaluation data as compact JSON (as a Keptn consumer would read the bytes).
pub fn json(e: &Evaluation) -> String {
    serde_json::to_string(&e.data).unwrap()
}

#[track_caller]
pub fn assert_verdict(e: &Evaluation, expected: Verdict) {
    assert_eq!(e.verdict(), expected, "{:#?}", e.data);
}

/// `(criteria, targetValue, violated)` of the pass targets of result `i`.
pub fn pass_targets(e: &Evaluation, i: usize) -> Vec<(String, f64, bool)> {
    e.data.evaluation.indicator_results()[i]
        .pass_targets()
        .iter()
        .map(|t| (t.criteria.to_string(), t.target_value, t.violated))
        .collect()
}

pub fn warning_targets(e: &Evaluation, i: usize) -> Vec<(String, f64, bool)> {
    e.data.evaluation.indicator_results()[i]
        .warning_targets()
        .iter()
        .map(|t| (t.criteria.to_string(), t.target_value, t.violated))
        .collect()
}

pub const SEED: &str = r#"
spec_version: "0.1.1"
comparison:
  aggregate_function: "avg"
  compare_with: "single_result"
  include_result_with_score: "pass"
  number_of_comparison_results: 1
filter:
objectives:
  - sli: "response_time_p95"
    key_sli: false
    pass:
      - criteria:
          - "<=+10%"
          - "<600"
    warning:
      - criteria:
          - "<=800"
    weight: 1
total_score:
  pass: "90%"
  warning: "75%"
"#;
