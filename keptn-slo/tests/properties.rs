//! Invariants of the engine, checked on random SLOs and data (issue 3, item 6).

mod util;

use keptn_slo::{CompiledSlo, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::criterion::{Criterion, CriterionEntry, Direction, Op, Threshold, Unit};
use keptn_spec::evaluation::IndicatorStatus;
use keptn_spec::slo::{CriteriaSet, Objective, TotalScore};
use keptn_spec::{SliValue, Slo, Verdict};
use proptest::prelude::*;
use util::{ctx, prev};

fn criterion() -> impl Strategy<Value = Criterion> {
    let op = prop::sample::select(vec![Op::Lt, Op::Le, Op::Eq, Op::Ge, Op::Gt]);
    let threshold = prop_oneof![
        (0.0f64..1000.0).prop_map(Threshold::Absolute),
        (0.0f64..50.0, any::<bool>(), any::<bool>()).prop_map(|(amount, up, pct)| {
            Threshold::Relative {
                direction: if up {
                    Direction::Increase
                } else {
                    Direction::Decrease
                },
                unit: if pct { Unit::Percent } else { Unit::Delta },
                amount,
            }
        }),
    ];
    (op, threshold).prop_map(|(op, t)| Criterion::new(op, t).unwrap())
}

fn sets() -> impl Strategy<Value = Vec<CriteriaSet>> {
    prop::collection::vec(
        prop::collection::vec(criterion(), 0..3)
            .prop_map(|cs| CriteriaSet::new(cs.into_iter().map(CriterionEntry::from).collect())),
        0..3,
    )
}

fn objective(i: usize) -> impl Strategy<Value = Objective> {
    (sets(), sets(), 0u32..5, any::<bool>()).prop_map(move |(pass, warning, w, key)| {
        let mut o = Objective::new(format!("sli_{i}"));
        o.pass = pass;
        o.warning = warning;
        o.weight_raw = Some(w as i32);
        o.key_sli = key;
        o
    })
}

fn slo_strategy() -> impl Strategy<Value = Slo> {
    (1usize..6)
        .prop_flat_map(|n| (0..n).map(objective).collect::<Vec<_>>())
        .prop_flat_map(|objectives| (Just(objectives), 0.0f64..100.0, 0.0f64..100.0))
        .prop_map(|(objectives, p, w)| {
            let mut slo = Slo::default();
            slo.objectives = objectives;
            slo.total_score = Some(TotalScore::new(p.max(w), Some(p.min(w))));
            slo
        })
}

/// A value per objective: `None` missing, `Some(None)` failed, `Some(Some(v))` measured.
fn values(n: usize) -> impl Strategy<Value = Vec<Option<Option<f64>>>> {
    prop::collection::vec(
        prop::option::weighted(0.9, prop::option::weighted(0.9, 0.0f64..1200.0)),
        n,
    )
}

fn sli(values: &[Option<Option<f64>>]) -> SliReport {
    SliReport::succeeded(
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|v| match v {
                    Some(x) => SliValue::ok(format!("sli_{i}"), x),
                    None => SliValue::failed(format!("sli_{i}"), "no data"),
                })
            })
            .collect(),
    )
}

fn history(n: usize) -> impl Strategy<Value = Vec<PreviousEvaluation>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![Verdict::Pass, Verdict::Warning, Verdict::Fail]),
            prop::collection::vec(0.0f64..1000.0, n),
        ),
        0..4,
    )
    .prop_map(|evs| {
        evs.into_iter()
            .enumerate()
            .map(|(k, (result, vals))| {
                let named: Vec<(String, f64)> = vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("sli_{i}"), *v))
                    .collect();
                let refs: Vec<(&str, f64)> = named.iter().map(|(m, v)| (m.as_str(), *v)).collect();
                prev(&format!("e{k}"), result, &refs)
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = (Slo, Vec<Option<Option<f64>>>, Vec<PreviousEvaluation>)> {
    slo_strategy().prop_flat_map(|slo| {
        let n = slo.objectives.len();
        (Just(slo), values(n), history(n))
    })
}

proptest! {
    /// The score is always within 0..=100.
    #[test]
    fn prop_score_is_within_0_and_100((slo, vals, hist) in case()) {
        let e = evaluate(Some(&slo), &sli(&vals), &hist, &ctx());
        prop_assert!((0.0..=100.0).contains(&e.score()), "score {}", e.score());
    }

    /// A key SLI whose objective fails always fails the gate.
    #[test]
    fn prop_failing_key_sli_fails_the_gate((slo, vals, hist) in case()) {
        let e = evaluate(Some(&slo), &sli(&vals), &hist, &ctx());
        let key_failed = e.data.evaluation.indicator_results().iter().any(|r| r.key_sli && r.status == IndicatorStatus::Fail);
        if key_failed {
            prop_assert_eq!(e.verdict(), Verdict::Fail);
        }
    }

    /// Missing or failed data never passes (or warns) an objective that has pass criteria.
    #[test]
    fn prop_missing_or_failed_data_never_passes((slo, vals, hist) in case()) {
        let e = evaluate(Some(&slo), &sli(&vals), &hist, &ctx());
        for (r, (o, v)) in e.data.evaluation.indicator_results().iter().zip(slo.objectives.iter().zip(&vals)) {
            if !o.pass.is_empty() && !matches!(v, Some(Some(_))) {
                prop_assert_eq!(r.status, IndicatorStatus::Fail);
                prop_assert_eq!(r.score, 0.0);
            }
        }
    }

    /// Making one value strictly better with respect to its (absolute, one-sided) criteria never
    /// worsens the verdict.
    #[test]
    fn prop_better_value_never_worsens_the_verdict(
        n in 1usize..5,
        lower_is_better in prop::collection::vec(any::<bool>(), 5),
        bounds in prop::collection::vec((0.0f64..1000.0, 0.0f64..1000.0, any::<bool>(), any::<bool>()), 5),
        weights in prop::collection::vec(1u32..4, 5),
        keys in prop::collection::vec(any::<bool>(), 5),
        vals in prop::collection::vec(0.0f64..1000.0, 5),
        which in 0usize..5,
        delta in 0.001f64..500.0,
        pass_t in 0.0f64..100.0,
        warn_t in 0.0f64..100.0,
    ) {
        let mut slo = Slo::default();
        for i in 0..n {
            let (a, b, strict_a, strict_b) = bounds[i];
            let (op_pass, op_warn) = match (lower_is_better[i], strict_a, strict_b) {
                (true, sa, sb) => (if sa { Op::Lt } else { Op::Le }, if sb { Op::Lt } else { Op::Le }),
                (false, sa, sb) => (if sa { Op::Gt } else { Op::Ge }, if sb { Op::Gt } else { Op::Ge }),
            };
            let mut o = Objective::new(format!("sli_{i}"));
            o.pass = vec![CriteriaSet::new(vec![Criterion::new(op_pass, Threshold::Absolute(a)).unwrap().into()])];
            o.warning = vec![CriteriaSet::new(vec![Criterion::new(op_warn, Threshold::Absolute(b)).unwrap().into()])];
            o.weight_raw = Some(weights[i] as i32);
            o.key_sli = keys[i];
            slo.objectives.push(o);
        }
        slo.total_score = Some(TotalScore::new(pass_t.max(warn_t), Some(pass_t.min(warn_t))));
        let which = which % n;
        let before: Vec<Option<Option<f64>>> = vals[..n].iter().map(|v| Some(Some(*v))).collect();
        let mut after = before.clone();
        let v = vals[which];
        after[which] = Some(Some(if lower_is_better[which] { v - delta } else { v + delta }));
        let e1 = evaluate(Some(&slo), &sli(&before), &[], &ctx());
        let e2 = evaluate(Some(&slo), &sli(&after), &[], &ctx());
        prop_assert!(e2.verdict() <= e1.verdict(), "{:?} -> {:?}", e1.verdict(), e2.verdict());
        prop_assert!(e2.score() >= e1.score());
    }

    /// Adding an objective that passes never lowers the score.
    #[test]
    fn prop_adding_a_passing_objective_never_lowers_the_score((slo, vals, hist) in case(), w in 1u32..5) {
        let before = evaluate(Some(&slo), &sli(&vals), &hist, &ctx());
        let mut more = slo.clone();
        let mut o = Objective::new("always_ok");
        o.pass = vec![CriteriaSet::new(vec![Criterion::new(Op::Ge, Threshold::Absolute(0.0)).unwrap().into()])];
        o.weight_raw = Some(w as i32);
        more.objectives.push(o);
        let mut vals2 = sli(&vals);
        vals2.values.push(SliValue::ok("always_ok", 1.0));
        let after = evaluate(Some(&more), &vals2, &hist, &ctx());
        if before.status() == keptn_spec::evaluation::Status::Succeeded && !before.data.evaluation.indicator_results().is_empty() {
            prop_assert!(after.score() >= before.score(), "{} -> {}", before.score(), after.score());
        }
    }

    /// The compiled and one-shot engines agree, and the JSON has `null` exactly where Keptn
    /// 1.4.5 writes it: a `value` of an informational objective without data, a target list of
    /// a scored objective to which no target was added, `comparedEvents` without compared ids.
    #[test]
    fn prop_compiled_agrees_and_null_exactly_where_keptn_writes_it((slo, vals, hist) in case()) {
        let report = sli(&vals);
        let e = evaluate(Some(&slo), &report, &hist, &ctx());
        let compiled = CompiledSlo::new(&slo).evaluate(&report, &hist, &ctx());
        prop_assert_eq!(format!("{:?}", e.data), format!("{:?}", compiled.data));
        prop_assert_eq!(&e.baseline_samples, &compiled.baseline_samples);
        let json = serde_json::to_value(&e.data).unwrap();
        let compared = &json["evaluation"]["comparedEvents"];
        prop_assert_eq!(compared.is_null(), e.data.evaluation.compared_events().is_empty());
        let results = &json["evaluation"]["indicatorResults"];
        prop_assert!(results.is_array());
        for (i, o) in slo.objectives.iter().enumerate() {
            let r = &results[i];
            prop_assert_eq!(r["value"].is_null(), o.is_info() && vals[i].is_none(), "{}", r);
            for list in ["passTargets", "warningTargets"] {
                let empty = r[list].as_array().is_none_or(Vec::is_empty);
                prop_assert_eq!(r[list].is_null(), !o.is_info() && empty, "{} {}", list, r);
            }
        }
    }

    /// Criterion text round trip through an SLO entry: Display parses back to the same criterion.
    #[test]
    fn prop_criterion_round_trip(c in criterion()) {
        let back: Criterion = c.to_string().parse().unwrap();
        prop_assert_eq!(back, c);
    }

    /// Shadow objectives never change a verdict: adding any (on new or existing SLIs, key
    /// SLIs, with or without data, any no-data policy) leaves verdict, score and message of
    /// both engines as they were.
    #[test]
    fn shadows_never_change_a_verdict(
        (slo, vals, previous) in case(),
        shadows in prop::collection::vec((sets(), any::<bool>(), 0usize..8, prop::option::of(0.0f64..1200.0)), 1..4),
    ) {
        let plain = evaluate(Some(&slo), &sli(&vals), &previous, &ctx());
        let mut shadowed = slo.clone();
        let mut values = sli(&vals);
        for (j, (pass, key, target, value)) in shadows.into_iter().enumerate() {
            // an existing SLI or a new one
            let name = if target < slo.objectives.len() {
                slo.objectives[target].sli.clone()
            } else {
                let name = format!("shadow_{j}");
                if let Some(v) = value {
                    values.values.push(SliValue::ok(name.clone(), v));
                }
                name
            };
            let mut o = Objective::new(name);
            o.pass = pass;
            o.key_sli = key;
            o.shadow = true;
            o.no_data = Some(keptn_spec::slo::NoDataPolicy::Inconclusive);
            let at = target.min(shadowed.objectives.len());
            shadowed.objectives.insert(at, o);
        }
        for e in [
            evaluate(Some(&shadowed), &values, &previous, &ctx()),
            CompiledSlo::new(&shadowed).evaluate(&values, &previous, &ctx()),
        ] {
            prop_assert_eq!(e.verdict(), plain.verdict());
            prop_assert_eq!(e.score(), plain.score());
            prop_assert_eq!(&e.data.message, &plain.data.message);
            prop_assert_eq!(e.is_inconclusive(), plain.is_inconclusive());
        }
    }

    /// A shadow SLO never blocks, and reports exactly the verdict and score the same SLO
    /// gives when it gates (both engines).
    #[test]
    fn shadow_slo_reports_the_gating_verdict((slo, vals, previous) in case()) {
        let gating = evaluate(Some(&slo), &sli(&vals), &previous, &ctx());
        let mut shadow = slo.clone();
        shadow.shadow = true;
        for e in [
            evaluate(Some(&shadow), &sli(&vals), &previous, &ctx()),
            CompiledSlo::new(&shadow).evaluate(&sli(&vals), &previous, &ctx()),
        ] {
            prop_assert_eq!(e.verdict(), Verdict::Pass);
            prop_assert_eq!(e.shadow_verdict(), Some(gating.verdict()));
            prop_assert_eq!(e.data.keptn_rs.shadow_score, Some(gating.score()));
            prop_assert_eq!(
                e.data.evaluation.indicator_results,
                gating.data.evaluation.indicator_results.clone()
            );
        }
    }
}
