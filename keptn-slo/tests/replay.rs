//! Replay / backtest (issue 14, item 3): the accepted history shapes, time order, invalidation
//! and baselines as the new SLO would have had them.

mod util;

use keptn_slo::replay::{read_recorded, replay};
use keptn_slo::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::evaluation::EvaluationFinishedData;
use keptn_spec::{SliValue, Verdict};
use util::slo;

/// The tour's SLO: at most 10 % slower than the last passing build and below 600.
const TOUR: &str = "comparison: {compare_with: single_result, include_result_with_score: pass}\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<=+10%\", \"<600\"]}]\ntotal_score: {pass: \"90%\"}\n";

/// Evaluations recorded under the tour's SLO, oldest first.
fn recorded(values: &[f64]) -> Vec<(String, EvaluationFinishedData)> {
    let s = slo(TOUR);
    let mut history: Vec<PreviousEvaluation> = Vec::new();
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let sli = SliReport::succeeded(vec![SliValue::ok("rt", *v)]);
        let e = evaluate(Some(&s), &sli, &history, &EvaluationContext::default());
        let id = format!("e{i}");
        history.insert(0, PreviousEvaluation::new(id.clone(), e.data.clone()));
        out.push((id, e.data));
    }
    out
}

fn event(id: &str, minute: usize, data: &EvaluationFinishedData) -> String {
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "lighthouse-service",
        "type": "sh.keptn.event.evaluation.finished",
        "time": format!("2026-11-26T10:{minute:02}:00Z"),
        "data": data,
    })
    .to_string()
}

/// The three shapes give the same recorded history, in time order (the datastore answers
/// newest first), and the replay under the recording SLO changes nothing.
#[test]
fn shapes_and_time_order() {
    let rec = recorded(&[400.0, 420.0, 900.0, 430.0]);
    let events: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, (id, d))| event(id, i, d))
        .collect();
    let newest_first: Vec<&str> = events.iter().rev().map(String::as_str).collect();
    let export = format!(
        "{{\n  \"events\": [{}],\n  \"nextPageKey\": \"0\",\n  \"totalCount\": {}\n}}\n",
        newest_first.join(",\n"),
        events.len()
    );
    let array = format!("[{}]", newest_first.join(","));
    let lines = events.join("\n");
    let history_lines: String = rec
        .iter()
        .map(|(id, d)| {
            let p = PreviousEvaluation::new(id.clone(), d.clone());
            format!("{}\n", serde_json::json!({ "evaluation": p }))
        })
        .collect();
    let a = read_recorded(&export).unwrap();
    assert_eq!(a.len(), 4);
    let ids: Vec<_> = a.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e3"]);
    for text in [&array, &lines, &history_lines] {
        let b = read_recorded(text).unwrap();
        assert_eq!(
            b.iter().map(|r| (&r.id, &r.data)).collect::<Vec<_>>(),
            a.iter().map(|r| (&r.id, &r.data)).collect::<Vec<_>>()
        );
    }
    let same = replay(&slo(TOUR), &a);
    assert_eq!(same.changed().count(), 0, "{same}");
    let verdicts: Vec<_> = same.evaluations.iter().map(|r| r.after).collect();
    assert_eq!(
        verdicts,
        [Verdict::Pass, Verdict::Pass, Verdict::Fail, Verdict::Pass]
    );
}

/// Baselines are the ones the new SLO would have had: under a stricter SLO a build that
/// failed is not a baseline (`include_result_with_score: pass`), so the next one is compared
/// with an older passing one.
#[test]
fn baselines_follow_the_new_verdicts() {
    // 400 pass; 500 (+25 %) passes under a loose relative limit, fails under +10 %
    let rec = recorded(&[400.0, 430.0, 470.0]);
    let lines: String = rec
        .iter()
        .enumerate()
        .map(|(i, (id, d))| event(id, i, d) + "\n")
        .collect();
    let r = read_recorded(&lines).unwrap();
    assert!(replay(&slo(TOUR), &r).changed().next().is_none());
    let strict = slo(
        "comparison: {compare_with: single_result, include_result_with_score: pass}\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<=+5%\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    let out = replay(&strict, &r);
    // 430 vs 400: +7.5 % fails; 470 is then compared with 400 (the last pass): fails
    let after: Vec<_> = out.evaluations.iter().map(|e| e.after).collect();
    assert_eq!(after, [Verdict::Pass, Verdict::Fail, Verdict::Fail]);
    assert_eq!(out.newly_blocked(), 2);
    let text = out.to_string();
    assert!(
        text.starts_with("2 of 3 verdicts change; the new SLO would have blocked 2"),
        "{text}"
    );
    assert!(
        text.contains("e1  2026-11-26T10:01:00+00:00  pass -> fail"),
        "{text}"
    );
}

/// An invalidated evaluation is replayed but never a baseline.
#[test]
fn invalidated_is_never_a_baseline() {
    let rec = recorded(&[400.0, 300.0, 320.0]);
    let mut lines = String::new();
    for (id, d) in &rec {
        let p = PreviousEvaluation::new(id.clone(), d.clone());
        lines.push_str(&format!("{}\n", serde_json::json!({ "evaluation": p })));
    }
    lines.push_str("{\"invalidated\": \"e1\"}\n");
    let r = read_recorded(&lines).unwrap();
    assert!(r[1].invalidated);
    let strict = slo(
        "comparison: {compare_with: single_result}\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<=+5%\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    // 320 against 400 (e1 invalidated) passes; against 300 it would fail (+6.7 %)
    let out = replay(&strict, &r);
    assert_eq!(out.evaluations[2].after, Verdict::Pass);
}

/// Bad input names the line and what was expected.
#[test]
fn bad_input_is_located() {
    let err = read_recorded("{\"invalidated\": \"x\"}\n{\"id\": 3}\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.to_string().starts_with("2:"), "{err}");
    // SLI values are not a history
    let err =
        read_recorded("[\n  {\"metric\": \"rt\", \"value\": 1, \"success\": true}\n]").unwrap_err();
    // located where the item ends
    assert_eq!((err.line, err.column), (3, 1), "{err}");
    assert!(
        err.message
            .starts_with("expected an evaluation.finished event"),
        "{err}"
    );
    // events of other types are skipped
    let other =
        r#"{"type": "sh.keptn.event.evaluation.triggered", "id": "t", "data": {"project": "p"}}"#;
    assert!(read_recorded(other).unwrap().is_empty());
    assert!(read_recorded("[1]").is_err());
    assert!(read_recorded("").unwrap().is_empty());
}

/// Missing values recorded as Keptn's "no value received" stay missing in the replay (a
/// no-data policy applies to them); the evaluation is replayed with the values it had.
#[test]
fn missing_values_stay_missing() {
    let s = slo(
        "objectives:\n  - sli: rt\n    pass: [{criteria: [\"<600\"]}]\n  - sli: errors\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"50%\"}\n",
    );
    let e = evaluate(
        Some(&s),
        &SliReport::succeeded(vec![SliValue::ok("rt", 100.0)]),
        &[],
        &EvaluationContext::default(),
    );
    let line = format!(
        "{}\n",
        serde_json::json!({ "evaluation": PreviousEvaluation::new("m", e.data) })
    );
    let r = read_recorded(&line).unwrap();
    let inconclusive = slo(
        "no_data: inconclusive\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<600\"]}]\n  - sli: errors\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"50%\"}\n",
    );
    let out = replay(&inconclusive, &r);
    assert!(out.evaluations[0].inconclusive);
    assert_eq!(out.evaluations[0].before, Verdict::Pass);
    assert_eq!(out.evaluations[0].after, Verdict::Fail);
}
