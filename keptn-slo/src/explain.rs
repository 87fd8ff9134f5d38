//! Why an evaluation came out the way it did, objective by objective.

use keptn_spec::criterion::{Criterion, CriterionEntry, Op};
use keptn_spec::evaluation::{IndicatorResult, IndicatorStatus, SliTarget};
use keptn_spec::slo::{CriteriaSet, Objective, Slo};

use crate::engine::Evaluation;

/// Whether a target belongs to the pass or the warning criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A pass criterion.
    Pass,
    /// A warning criterion.
    Warning,
}

impl std::fmt::Display for TargetKind {
    /// `pass` or `warning`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TargetKind::Pass => "pass",
            TargetKind::Warning => "warning",
        })
    }
}

/// One criterion of an objective, explained.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TargetExplanation {
    /// Pass or warning.
    pub kind: TargetKind,
    /// The criterion as written.
    pub criteria: String,
    /// The value compared with.
    pub target: f64,
    /// `target - observed`: how far the observed value is from the target (positive when the
    /// value is below the target). `None` when there was no observed value.
    pub margin: Option<f64>,
    /// Whether the criterion was met.
    pub met: bool,
}

impl std::fmt::Display for TargetExplanation {
    /// `pass <=+10% target 550 margin -150 violated`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} target {}", self.kind, self.criteria, self.target)?;
        if let Some(m) = self.margin {
            write!(f, " margin {m}")?;
        }
        f.write_str(if self.met { " met" } else { " violated" })
    }
}

/// A condition on the value that would have made the objective pass, such as `<= 550`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassCondition {
    /// The operator.
    pub op: Op,
    /// The bound.
    pub value: f64,
}

impl std::fmt::Display for PassCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.op, self.value)
    }
}

/// One objective of an evaluation, explained.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObjectiveExplanation {
    /// The SLI name.
    pub sli: String,
    /// The display name, or the SLI name.
    pub name: String,
    /// The objective's status.
    pub status: IndicatorStatus,
    /// Score obtained and weight.
    pub score: f64,
    /// The objective's weight (a signed integer, as in Keptn).
    pub weight: i32,
    /// Whether it is a key SLI.
    pub key_sli: bool,
    /// The measured value, or `None` when missing or failed.
    pub observed: Option<f64>,
    /// The provider's (or Keptn's) message for a missing or failed value.
    pub message: String,
    /// The baseline (`comparedValue`) when previous values existed.
    pub baseline: Option<f64>,
    /// How many previous values formed the baseline.
    pub baseline_samples: u32,
    /// The evaluations compared with (ids; the same for every objective).
    pub compared_events: Vec<String>,
    /// Every criterion with its target and margin.
    pub targets: Vec<TargetExplanation>,
    /// For a failed or warning objective with a value: the condition under which it would have
    /// passed (from the pass block closest to the observed value), when one exists.
    pub would_pass_when: Option<PassCondition>,
}

impl std::fmt::Display for ObjectiveExplanation {
    /// Several lines: name, status and score; value; baseline; one line per target; the value
    /// that would have passed (the table `slo_evaluate` prints).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::render::objective(f, self)
    }
}

impl Evaluation {
    /// Explains each indicator result; `slo` must be the SLO this evaluation was made with.
    pub fn explain(&self, slo: &Slo) -> Vec<ObjectiveExplanation> {
        let results = self.data.evaluation.indicator_results();
        results
            .iter()
            .zip(&slo.objectives)
            .enumerate()
            .map(|(i, (r, o))| {
                explain_one(
                    r,
                    o,
                    self.baseline_samples.get(i).copied().unwrap_or(0),
                    self.data.evaluation.compared_events(),
                )
            })
            .collect()
    }
}

fn explain_one(
    r: &IndicatorResult,
    o: &Objective,
    samples: u32,
    compared: &[String],
) -> ObjectiveExplanation {
    let observed = r.value().filter(|v| v.success).map(|v| v.value);
    // Targets are reported for the criteria that parse, in SLO order; an unparsable warning
    // criterion leaves no warning targets at all.
    let pass_entries = parsable(&o.pass);
    let warning_entries = parsable(&o.warning);
    let targets = r
        .pass_targets()
        .iter()
        .zip(pass_entries)
        .map(|(t, e)| (TargetKind::Pass, t, e))
        .chain(
            r.warning_targets()
                .iter()
                .zip(warning_entries)
                .map(|(t, e)| (TargetKind::Warning, t, e)),
        )
        .map(|(kind, t, entry)| {
            // A relative criterion without baseline has no real target (Keptn reports 0).
            let unanchored = samples == 0 && entry.criterion().is_ok_and(Criterion::is_relative);
            TargetExplanation {
                kind,
                criteria: t.criteria.to_string(),
                target: t.target_value,
                margin: observed.filter(|_| !unanchored).map(|v| t.target_value - v),
                met: !t.violated,
            }
        })
        .collect();
    let would_pass_when = match (r.status, observed) {
        (IndicatorStatus::Fail | IndicatorStatus::Warning, Some(v)) => {
            would_pass(o, r.pass_targets(), v, samples > 0)
        }
        _ => None,
    };
    ObjectiveExplanation {
        sli: o.sli.clone(),
        name: o.name().to_owned(),
        status: r.status,
        score: r.score,
        weight: o.weight(),
        key_sli: o.key_sli,
        observed,
        message: r.value().map(|v| v.message.clone()).unwrap_or_default(),
        baseline: r.value().filter(|_| samples > 0).map(|v| v.compared_value),
        baseline_samples: samples,
        compared_events: compared.to_vec(),
        targets,
        would_pass_when,
    }
}

/// The criteria of some blocks that parse, in order.
fn parsable(blocks: &[CriteriaSet]) -> impl Iterator<Item = &CriterionEntry> {
    blocks
        .iter()
        .flat_map(|set| &set.criteria)
        .filter(|e| e.criterion().is_ok())
}

/// The smallest change of the value that satisfies one whole pass block.
fn would_pass(
    o: &Objective,
    targets: &[SliTarget],
    value: f64,
    has_baseline: bool,
) -> Option<PassCondition> {
    let mut best: Option<(f64, PassCondition)> = None;
    let mut t = targets.iter();
    for set in &o.pass {
        // Interval of passing values for this block: (lower, inclusive), (upper, inclusive).
        let mut lo: (f64, bool) = (f64::NEG_INFINITY, true);
        let mut hi: (f64, bool) = (f64::INFINITY, true);
        let mut possible = true;
        for entry in &set.criteria {
            let Some(target) = t.next() else {
                return best.map(|b| b.1);
            };
            let Ok(c): Result<&Criterion, _> = entry.criterion() else {
                possible = false;
                continue;
            };
            if c.is_relative() && !has_baseline {
                // Relative criterion without baseline: always satisfied.
                continue;
            }
            let x = target.target_value;
            match c.op() {
                Op::Lt => hi = tighter_hi(hi, (x, false)),
                Op::Le => hi = tighter_hi(hi, (x, true)),
                Op::Gt => lo = tighter_lo(lo, (x, false)),
                Op::Ge => lo = tighter_lo(lo, (x, true)),
                Op::Eq => {
                    hi = tighter_hi(hi, (x, true));
                    lo = tighter_lo(lo, (x, true));
                }
            }
        }
        if !possible || lo.0 > hi.0 || (lo.0 == hi.0 && !(lo.1 && hi.1)) {
            continue;
        }
        let candidate = if value > hi.0 || (value == hi.0 && !hi.1) {
            let op = if lo.0 == hi.0 {
                Op::Eq
            } else if hi.1 {
                Op::Le
            } else {
                Op::Lt
            };
            Some((value - hi.0, PassCondition { op, value: hi.0 }))
        } else if value < lo.0 || (value == lo.0 && !lo.1) {
            let op = if lo.0 == hi.0 {
                Op::Eq
            } else if lo.1 {
                Op::Ge
            } else {
                Op::Gt
            };
            Some((lo.0 - value, PassCondition { op, value: lo.0 }))
        } else {
            None
        };
        if let Some((distance, cond)) = candidate
            && best.as_ref().is_none_or(|b| distance < b.0)
        {
            best = Some((distance, cond));
        }
    }
    best.map(|b| b.1)
}

fn tighter_hi(a: (f64, bool), b: (f64, bool)) -> (f64, bool) {
    if b.0 < a.0 || (b.0 == a.0 && !b.1) {
        b
    } else {
        a
    }
}

fn tighter_lo(a: (f64, bool), b: (f64, bool)) -> (f64, bool) {
    if b.0 > a.0 || (b.0 == a.0 && !b.1) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use keptn_spec::{SliValue, Slo};

    use crate::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};

    fn explain(slo: &str, value: f64, baseline: Option<f64>) -> super::ObjectiveExplanation {
        let slo = Slo::from_yaml_str(slo).unwrap();
        let ctx = EvaluationContext::default();
        let history: Vec<PreviousEvaluation> = baseline
            .map(|b| {
                let e = evaluate(
                    Some(&slo),
                    &SliReport::succeeded(vec![SliValue::ok("a", b)]),
                    &[],
                    &ctx,
                );
                PreviousEvaluation::new("p", e.data)
            })
            .into_iter()
            .collect();
        let e = evaluate(
            Some(&slo),
            &SliReport::succeeded(vec![SliValue::ok("a", value)]),
            &history,
            &ctx,
        );
        e.explain(&slo).remove(0)
    }

    /// The passing value comes from the tightest criterion of the closest block.
    #[test]
    fn would_pass_uses_the_tightest_bound_of_the_closest_block() {
        let x = explain(
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<=+10%\", \"<600\"]}, {criteria: [\">5000\"]}]\ntotal_score: {pass: \"90%\"}\n",
            700.0,
            Some(500.0),
        );
        let c = x.would_pass_when.unwrap();
        assert_eq!(c.to_string(), "<= 550");
        assert_eq!(x.baseline, Some(500.0));
        assert_eq!(x.baseline_samples, 1);
        assert_eq!(x.targets[0].margin, Some(-150.0));
    }

    /// Without a baseline a relative criterion has no margin and does not bound the value.
    #[test]
    fn relative_criterion_without_baseline_has_no_margin() {
        let x = explain(
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<=+10%\", \">=600\"]}]\ntotal_score: {pass: \"90%\"}\n",
            500.0,
            None,
        );
        assert_eq!(x.targets[0].margin, None);
        assert_eq!(x.targets[1].margin, Some(100.0));
        assert_eq!(x.would_pass_when.unwrap().to_string(), ">= 600");
        assert_eq!(x.baseline, None);
    }

    /// A passing objective needs no passing value.
    #[test]
    fn passing_objective_has_no_condition() {
        let x = explain(
            "objectives:\n  - sli: a\n    pass: [{criteria: [\"<10\"]}]\ntotal_score: {pass: \"90%\"}\n",
            5.0,
            None,
        );
        assert_eq!(x.would_pass_when, None);
    }
}
