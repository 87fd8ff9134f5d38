//! The optimised engine against a straightforward reference: on random SLOs, values and
//! histories (duplicates, extra and missing values, failed values, unparsable criteria, every
//! aggregate function and filter, invalidated and reordered history) both give the same
//! `evaluation.finished` data and baseline sample counts, through `evaluate` and through a
//! reused `CompiledSlo`.
//!
//! The reference is a literal model of Keptn 1.4.5's lighthouse: one objective at a time, the
//! value list searched and swap-removed as Keptn does, a name scan per previous result, no
//! precomputation. It was updated where Keptn 1.4.5's exact behaviour (written down from its
//! source) differs from the earlier model: provider aborted/errored messages and status, the
//! input-check order (`total_score` first, an unparsable pass criterion only with a value),
//! consumed values, unparsable criteria left out of the targets, `keySli`/`comparedValue` only
//! on evaluated results, `null` values and lists, signed weights, the sum over results with
//! pass targets, the last failing key SLI named by display name, and `evaluation.result` kept
//! when the provider reports `result: fail`. The order of the additional-SLIs list stays the
//! provider's order (a deliberate difference).

mod util;

use keptn_slo::{CompiledSlo, PreviousEvaluation, SliReport, SliReportResult, evaluate};
use keptn_spec::evaluation::{EvaluationFinishedData, IndicatorResult, Status};
use keptn_spec::{SliValue, Slo, Verdict};
use proptest::prelude::*;
use util::ctx;

mod reference {
    use std::sync::Arc;

    use keptn_slo::{EvaluationContext, NO_VALUE_MESSAGE, PreviousEvaluation, SliReport};
    use keptn_slo::{SliReportResult, aggregate, select_previous};
    use keptn_spec::evaluation::{
        EvaluationFinishedData, IndicatorResult, IndicatorStatus, SliResult, SliTarget, Status,
        Targets,
    };
    use keptn_spec::slo::{CriteriaSet, Objective, Slo, parse_score};
    use keptn_spec::{SliValue, Verdict};

    fn finished(
        ctx: &EvaluationContext,
        sli: &SliReport,
        status: Status,
        result: Verdict,
        message: String,
    ) -> EvaluationFinishedData {
        let mut data = EvaluationFinishedData::new(status, result, message);
        data.project = ctx
            .project
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        data.stage = ctx
            .stage
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        data.service = ctx
            .service
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        data.labels.clone_from(&ctx.labels);
        data.evaluation.time_start = sli.start;
        data.evaluation.time_end = sli.end;
        data.evaluation
            .slo_file_content
            .clone_from(&ctx.slo_file_content);
        data
    }

    /// Go's `%v` of a float64: shortest digits, exponent form when the exponent is below -4 or
    /// at least 6 (`strconv` 'g' with the shortest precision).
    pub(crate) fn go_v(x: f64) -> String {
        if x.is_nan() {
            return "NaN".into();
        }
        if x.is_infinite() {
            return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
        }
        let sci = format!("{x:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        if x != 0.0 && !(-4..6).contains(&exp) {
            format!(
                "{mantissa}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.abs()
            )
        } else if x == 0.0 && x.is_sign_negative() {
            "-0".into()
        } else {
            format!("{x}")
        }
    }

    pub(crate) fn evaluate(
        slo: Option<&Slo>,
        sli: &SliReport,
        previous: &[PreviousEvaluation],
        ctx: &EvaluationContext,
    ) -> (EvaluationFinishedData, Vec<u32>) {
        // Input checks, in Keptn 1.4.5's order.
        let provider = match sli.status {
            Status::Aborted => Some("evaluation performed by lighthouse was aborted".to_owned()),
            Status::Errored => Some(format!(
                "evaluation performed by lighthouse received an unexpected error: {}",
                sli.message
            )),
            _ => None,
        };
        if let Some(m) = provider {
            let mut d = finished(ctx, sli, Status::Errored, Verdict::Fail, m);
            d.evaluation.result = "pass".into();
            d.evaluation.slo_file_content = String::new();
            return (d, vec![]);
        }
        let Some(slo) = slo else {
            let m = format!(
                "no evaluation performed by lighthouse because no SLO file configured for project {}",
                ctx.project
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            return (
                finished(ctx, sli, Status::Succeeded, Verdict::Pass, m),
                vec![],
            );
        };
        let settings = slo.comparison_settings();
        let selected = select_previous(previous, &settings);
        let ids: Vec<String> = selected.iter().filter_map(|p| p.id.clone()).collect();
        let compared = (!ids.is_empty()).then_some(ids);
        let errored = |m: &str| {
            (
                finished(ctx, sli, Status::Errored, Verdict::Fail, m.to_owned()),
                vec![],
            )
        };
        let ts = slo.total_score.as_ref();
        let Some(pass) = ts.and_then(|t| t.pass.as_deref()).filter(|p| !p.is_empty()) else {
            return errored("no target score defined");
        };
        let Some(pass) = parse_score(pass) else {
            return errored("could not parse pass target percentage");
        };
        let warning = match ts
            .and_then(|t| t.warning.as_deref())
            .filter(|w| !w.is_empty())
        {
            None => None,
            Some(w) => match parse_score(w) {
                Some(w) => Some(w),
                None => return errored("could not parse warning target percentage"),
            },
        };
        let failed = |m: String| {
            let mut d = finished(ctx, sli, Status::Succeeded, Verdict::Fail, m);
            d.evaluation.compared_events = compared.clone();
            (d, vec![])
        };
        if slo.objectives.is_empty() {
            return failed("lighthouse failed because no SLO objective was provided".into());
        }

        // Values are consumed: the first one with the objective's name, swap-removed.
        let mut left: Vec<(usize, &SliValue)> = sli.values.iter().enumerate().collect();
        let mut results = Vec::new();
        let mut samples = Vec::new();
        let (mut max_score, mut total) = (0.0, 0.0);
        let mut key_failure: Option<usize> = None;
        for o in &slo.objectives {
            let value = left
                .iter()
                .position(|(_, v)| v.metric == o.sli)
                .map(|p| left.swap_remove(p).1);
            let mut prev: Vec<f64> = selected
                .iter()
                .flat_map(|p| p.data.evaluation.indicator_results().iter())
                .filter_map(|r| r.value.as_ref())
                .filter(|v| v.success && *v.metric == *o.sli)
                .map(|v| v.value)
                .collect();
            samples.push(prev.len() as u32);
            let baseline =
                (!prev.is_empty()).then(|| aggregate(&settings.aggregate_function, &mut prev));
            if !o.is_info() {
                max_score += f64::from(o.weight());
            }
            let Some(r) = objective(o, value, baseline) else {
                let err = o
                    .pass
                    .iter()
                    .flat_map(|s| &s.criteria)
                    .find_map(|c| c.criterion().err())
                    .unwrap();
                return failed(format!("error with {}: {}", o.name(), err.keptn_message()));
            };
            if r.status == IndicatorStatus::Fail && o.key_sli {
                key_failure = Some(results.len());
            }
            if !r.pass_targets().is_empty() {
                total += r.score;
            }
            results.push(r);
        }

        let (verdict, score, mut message) = if max_score == 0.0 {
            (Verdict::Pass, 100.0, String::new())
        } else {
            let score = 100.0 * (total / max_score);
            if let Some(k) = key_failure {
                let r: &IndicatorResult = &results[k];
                let o = &slo.objectives[k];
                let v = r.value.as_ref().unwrap();
                let why = if v.success {
                    format!("failed evaluation with score {:.6}", r.score)
                } else {
                    v.message.clone()
                };
                (
                    Verdict::Fail,
                    score,
                    format!(
                        "Evaluation failed due to key_sli objective '{}': {why}",
                        o.display_name.as_deref().unwrap_or("")
                    ),
                )
            } else if score >= pass {
                (Verdict::Pass, score, String::new())
            } else {
                match warning {
                    Some(w) if score >= w => (
                        Verdict::Warning,
                        score,
                        format!(
                            "Evaluation returned a warning: the calculated score of {} is close to the warning target value of {}",
                            go_v(score),
                            go_v(w)
                        ),
                    ),
                    Some(w) => (
                        Verdict::Fail,
                        score,
                        format!(
                            "Evaluation failed since the calculated score of {} is below the warning value of {}",
                            go_v(score),
                            go_v(w)
                        ),
                    ),
                    None => (
                        Verdict::Fail,
                        score,
                        format!(
                            "Evaluation failed since the calculated score of {} is below the target value of {}",
                            go_v(score),
                            go_v(pass)
                        ),
                    ),
                }
            }
        };
        // What was not consumed, in the provider's order (deliberately not Keptn's shuffled order).
        left.sort_by_key(|(k, _)| *k);
        if !left.is_empty() && message.is_empty() {
            let names: Vec<&str> = left.iter().map(|(_, v)| v.metric.as_str()).collect();
            message = format!(
                "Lighthouse received additional SLIs, which are not specified as SLO: {} . Please consider using them as an SLO.",
                names.join(", ")
            );
        }
        let mut data = finished(ctx, sli, Status::Succeeded, verdict, String::new());
        data.evaluation.compared_events = compared;
        if sli.result == SliReportResult::Fail {
            data.result = Verdict::Fail;
            message = format!(
                "lighthouse failed because SLI failed with message {}",
                sli.message
            );
        }
        data.message = message;
        data.evaluation.score = score;
        data.evaluation.indicator_results = Some(results);
        (data, samples)
    }

    /// `None`: a pass criterion does not parse and the objective has a successful value.
    fn objective(
        o: &Objective,
        value: Option<&SliValue>,
        baseline: Option<f64>,
    ) -> Option<IndicatorResult> {
        let weight = f64::from(o.weight());
        let plain = |v: &SliValue| SliResult {
            metric: o.sli.as_str().into(),
            value: v.value,
            compared_value: 0.0,
            success: v.success,
            message: v.message.clone().unwrap_or_default(),
        };
        let mut r = IndicatorResult {
            score: 0.0,
            value: value.map(plain),
            display_name: o.display_name.clone().unwrap_or_default(),
            pass_targets: None,
            warning_targets: None,
            key_sli: false,
            status: IndicatorStatus::Fail,
        };
        let nonempty = |t: Vec<SliTarget>| (!t.is_empty()).then(|| Targets::from(t));
        if o.is_info() {
            r.status = IndicatorStatus::Info;
            r.pass_targets = Some(Targets::new());
            r.warning_targets = Some(match value {
                Some(_) => raw(&o.warning, baseline).into(),
                None => Targets::new(),
            });
            return Some(r);
        }
        match value.filter(|v| v.success) {
            None => {
                if value.is_none() {
                    r.value = Some(SliResult {
                        metric: o.sli.as_str().into(),
                        value: 0.0,
                        compared_value: 0.0,
                        success: false,
                        message: NO_VALUE_MESSAGE.to_owned(),
                    });
                }
                r.pass_targets = nonempty(raw(&o.pass, baseline));
                r.warning_targets = nonempty(raw(&o.warning, baseline));
            }
            Some(v) => {
                let (passed, p) = sets(&o.pass, v.value, baseline)?;
                let (warned, w) = match sets(&o.warning, v.value, baseline) {
                    Some((warned, w)) => (warned, nonempty(w)),
                    None => (false, None),
                };
                r.value.as_mut().unwrap().compared_value = baseline.unwrap_or(0.0);
                r.key_sli = o.key_sli;
                r.pass_targets = nonempty(p);
                r.warning_targets = w;
                (r.status, r.score) = if passed {
                    (IndicatorStatus::Pass, weight)
                } else if warned && !o.warning.is_empty() {
                    (IndicatorStatus::Warning, 0.5 * weight)
                } else {
                    (IndicatorStatus::Fail, 0.0)
                };
            }
        }
        Some(r)
    }

    fn raw(sets: &[CriteriaSet], baseline: Option<f64>) -> Vec<SliTarget> {
        sets.iter()
            .flat_map(|s| &s.criteria)
            .filter_map(|c| {
                let t = match c.criterion() {
                    Ok(c) if c.is_relative() => baseline.unwrap_or(0.0),
                    Ok(c) => c.target(None),
                    Err(_) => return None,
                };
                Some(SliTarget::new(Arc::clone(c.shared_text()), t, true))
            })
            .collect()
    }

    /// `None` when a criterion does not parse.
    fn sets(
        sets: &[CriteriaSet],
        value: f64,
        baseline: Option<f64>,
    ) -> Option<(bool, Vec<SliTarget>)> {
        let mut out = Vec::new();
        let mut any = false;
        for set in sets {
            let mut all = true;
            for c in &set.criteria {
                let (ok, t) = match c.criterion() {
                    Ok(c) if c.is_relative() && baseline.is_none() => (true, 0.0),
                    Ok(c) => {
                        let t = c.target(baseline);
                        (c.op().holds(value, t), t)
                    }
                    Err(_) => return None,
                };
                all &= ok;
                out.push(SliTarget::new(Arc::clone(c.shared_text()), t, !ok));
            }
            any |= all;
        }
        Some((any, out))
    }
}

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const CRITERIA: [&str; 12] = [
    "<10", "<=500", ">=2", ">0", "=5", "<=+10%", "<=10%", ">=-5%", "<=+50", ">-20", "< 300",
    "<=-0%",
];
const UNPARSABLE: [&str; 2] = ["<600ms", "=<5"];

/// An SLO as YAML: objectives over a small name pool (so duplicates happen), criteria from a pool
/// with unparsable entries, optional comparison and total_score.
fn slo_yaml() -> impl Strategy<Value = String> {
    let criterion = prop_oneof![
        20 => prop::sample::select(&CRITERIA[..]),
        1 => prop::sample::select(&UNPARSABLE[..]),
    ];
    let set = prop::collection::vec(criterion, 0..3);
    let sets = prop::collection::vec(set, 0..3);
    let objective = (
        prop::sample::select(&NAMES[..]),
        prop::option::of(prop::sample::select(vec!["", "Shown"])),
        sets.clone(),
        sets,
        prop::option::of(-2i32..4),
        any::<bool>(),
    );
    let comparison = prop::option::of((
        prop::sample::select(vec!["avg", "p50", "p90", "p95", "max", ""]),
        prop::sample::select(vec!["single_result", "several_results", "other"]),
        prop::sample::select(vec!["all", "pass", "pass_or_warn", "PASS", "weird"]),
        0u32..5,
    ));
    let total = prop::option::weighted(
        0.95,
        (
            prop_oneof![
                12 => prop::sample::select(vec!["90%", "50", "0%", "100%", "66.7%"]),
                1 => prop::sample::select(vec!["x%", ""]),
            ],
            prop::option::of(prop::sample::select(vec!["75%", "20", "", "75%", "y"])),
        ),
    );
    let objectives = prop_oneof![
        1 => Just(Vec::new()),
        30 => prop::collection::vec(objective, 1..7),
    ];
    (objectives, comparison, total).prop_map(
        |(objectives, comparison, total)| {
            let mut y = String::new();
            if let Some((f, c, i, n)) = comparison {
                y.push_str(&format!(
                    "comparison:\n  aggregate_function: \"{f}\"\n  compare_with: {c}\n  include_result_with_score: {i}\n  number_of_comparison_results: {n}\n"
                ));
            }
            y.push_str("objectives:\n");
            for (sli, display, pass, warning, weight, key) in objectives {
                y.push_str(&format!("  - sli: {sli}\n    key_sli: {key}\n"));
                if let Some(d) = display {
                    y.push_str(&format!("    displayName: \"{d}\"\n"));
                }
                if let Some(w) = weight {
                    y.push_str(&format!("    weight: {w}\n"));
                }
                for (key, sets) in [("pass", pass), ("warning", warning)] {
                    y.push_str(&format!("    {key}:\n"));
                    for set in sets {
                        let quoted: Vec<String> = set.iter().map(|c| format!("\"{c}\"")).collect();
                        y.push_str(&format!("      - criteria: [{}]\n", quoted.join(", ")));
                    }
                }
            }
            if let Some((p, w)) = total {
                y.push_str(&format!("total_score:\n  pass: \"{p}\"\n"));
                if let Some(w) = w {
                    y.push_str(&format!("  warning: \"{w}\"\n"));
                }
            }
            y
        },
    )
}

fn value() -> impl Strategy<Value = SliValue> {
    (
        prop::sample::select(vec!["a", "b", "c", "d", "e", "a", "b", "c", "x"]),
        prop_oneof![
            1 => Just(0.0),
            1 => Just(-0.0),
            20 => 0.0f64..1000.0,
            1 => Just(f64::NAN),
        ],
        prop::bool::weighted(0.85),
        prop::option::of(prop::sample::select(vec!["", "timeout"])),
    )
        .prop_map(|(m, v, ok, msg)| SliValue {
            metric: m.to_owned(),
            value: v,
            success: ok,
            message: msg.map(str::to_owned),
        })
}

fn report() -> impl Strategy<Value = SliReport> {
    (
        prop::collection::vec(value(), 0..8),
        prop_oneof![
            30 => Just(Status::Succeeded),
            1 => Just(Status::Errored),
            1 => Just(Status::Aborted),
        ],
        prop_oneof![
            10 => Just(SliReportResult::Pass),
            1 => Just(SliReportResult::Warning),
            1 => Just(SliReportResult::Fail),
        ],
    )
        .prop_map(|(values, status, result)| {
            let mut r = SliReport::succeeded(values);
            r.status = status;
            r.result = result;
            r.message = "provider said no".into();
            r
        })
}

fn history() -> impl Strategy<Value = Vec<PreviousEvaluation>> {
    let entry = (
        prop::sample::select(vec![Verdict::Pass, Verdict::Warning, Verdict::Fail]),
        prop::collection::vec(prop::option::weighted(0.9, value()), 0..8),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.9),
    );
    prop::collection::vec(entry, 0..6).prop_map(|evs| {
        evs.into_iter()
            .enumerate()
            .map(|(k, (verdict, values, invalidated, with_id))| {
                let mut data = EvaluationFinishedData::new(Status::Succeeded, verdict, "");
                // Keptn writes `"value": null` for informational objectives without a value.
                data.evaluation.indicator_results = Some(
                    values
                        .iter()
                        .map(|v| IndicatorResult {
                            score: 0.0,
                            value: v
                                .as_ref()
                                .map(keptn_spec::evaluation::SliResult::from_value),
                            display_name: String::new(),
                            pass_targets: None,
                            warning_targets: None,
                            key_sli: false,
                            status: keptn_spec::evaluation::IndicatorStatus::Pass,
                        })
                        .collect(),
                );
                let mut p = PreviousEvaluation::new(format!("e{k}"), data);
                p.invalidated = invalidated;
                if !with_id {
                    p.id = None;
                }
                p
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// `evaluate` and `CompiledSlo::evaluate` give exactly the reference's data (compared through
    /// `Debug`, so NaN and -0.0 count too) and baseline sample counts.
    #[test]
    fn optimised_engine_equals_the_reference(
        yaml in slo_yaml(),
        sli in report(),
        previous in history(),
        with_slo in prop::bool::weighted(0.98),
    ) {
        let slo: Slo = Slo::from_yaml_str(&yaml).unwrap();
        let slo = with_slo.then_some(&slo);
        let (want, want_samples) = reference::evaluate(slo, &sli, &previous, &ctx());
        let got = evaluate(slo, &sli, &previous, &ctx());
        prop_assert_eq!(format!("{:?}", got.data), format!("{want:?}"), "{}", yaml);
        prop_assert_eq!(&got.baseline_samples, &want_samples);
        if let Some(slo) = slo {
            let compiled = CompiledSlo::new(slo);
            // Twice: a compiled SLO keeps no state between evaluations.
            for _ in 0..2 {
                let again = compiled.evaluate(&sli, &previous, &ctx());
                prop_assert_eq!(format!("{:?}", again.data), format!("{want:?}"));
                prop_assert_eq!(&again.baseline_samples, &want_samples);
            }
        }
    }
}

/// Go's `%v` formatting used by the reference's messages (and pinned by the rule tests).
#[test]
fn reference_go_v_formatting() {
    assert_eq!(reference::go_v(50.0), "50");
    assert_eq!(reference::go_v(66.66666666666667), "66.66666666666667");
    assert_eq!(reference::go_v(0.00001), "1e-05");
    assert_eq!(reference::go_v(1e21), "1e+21");
    assert_eq!(reference::go_v(123456.0), "123456");
    assert_eq!(reference::go_v(1234567.0), "1.234567e+06");
    assert_eq!(reference::go_v(0.0001), "0.0001");
}
