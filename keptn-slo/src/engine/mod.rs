//! The pure evaluation engine: Keptn 1.4.5's lighthouse, step by step.
//!
//! Input checks, each ending the evaluation, in Keptn's order: the SLI provider aborted or
//! errored; no SLO file; the `total_score` thresholds; no objectives; an unparsable pass
//! criterion of an objective that received a value. Then every objective is evaluated
//! ([`objective`]), the score summed and the verdict decided.

mod baseline;
mod objective;
mod outcome;
mod policy;
mod text;
mod values;

use std::sync::Arc;

use keptn_spec::Verdict;
use keptn_spec::evaluation::{IndicatorResult, Status};
use keptn_spec::slo::{ComparisonSettings, NoDataPolicy, Objective, Slo, parse_score};

use crate::report::{PreviousEvaluation, SliReport, SliReportResult};
pub use baseline::{aggregate, select_previous};
use objective::{Crits, ObjectiveInput, PreparedCriterion, UnparsablePass};
pub(crate) use text::GoFloat;
pub use text::base64;
use text::{FxMap, GoFixed, same_name};

use outcome::name_or_empty;
pub use outcome::{Evaluation, EvaluationContext, FailedOn};
use values::Values;

/// Keptn's message for an objective whose SLI the provider did not return.
pub const NO_VALUE_MESSAGE: &str = "no value received from SLI provider";

/// Evaluates SLI values against an SLO and previous evaluations, exactly as Keptn 1.4.5's
/// lighthouse does.
///
/// * `slo`: `None` means "no SLO file": the result is `pass` with Keptn's message.
/// * `sli`: the provider's answer; `status: errored|aborted` ends the evaluation as `errored`
///   (checked before the SLO is looked at); `result: fail` forces the event's `result` to
///   `fail` after scoring (the details keep the computed result and score).
/// * `previous`: candidate previous evaluations, **newest first** (as a history returns them);
///   the engine applies Keptn's rules to pick the ones compared with (invalidated ones skipped,
///   `include_result_with_score` on the overall result, at most `N` per `compare_with`).
///   Results without a value (`"value": null`, as Keptn writes for an informational objective
///   without data) are skipped.
///
/// Lists Keptn leaves unset are `None` (JSON `null`): `indicatorResults` and `comparedEvents`
/// after an early end, `passTargets`/`warningTargets` to which no target was added.
///
/// The function is pure: no clock, no environment, no I/O. It prepares the SLO on every call;
/// to evaluate the same SLO many times, prepare it once with [`CompiledSlo::new`] and call
/// [`CompiledSlo::evaluate`] (same result, less work per call).
pub fn evaluate(
    slo: Option<&Slo>,
    sli: &SliReport,
    previous: &[PreviousEvaluation],
    ctx: &EvaluationContext,
) -> Evaluation {
    match slo {
        Some(slo) => CompiledSlo {
            slo,
            plan: Plan::new(slo, false),
        }
        .evaluate(sli, previous, ctx),
        None => provider_failure(sli, ctx, None).unwrap_or_else(|| {
            Evaluation::early(
                ctx,
                sli,
                Status::Succeeded,
                Verdict::Pass,
                format!(
                    "no evaluation performed by lighthouse because no SLO file configured for project {}",
                    name_or_empty(ctx.project.as_ref())
                ),
            )
        }),
    }
}

/// The provider aborted or errored: `errored`, `fail`, the details' result left at its initial
/// `pass`, score 0, no SLO file content. Inconclusive as well when the SLO-wide no-data policy
/// is `inconclusive` (beyond Keptn; the event is otherwise Keptn's).
fn provider_failure(
    sli: &SliReport,
    ctx: &EvaluationContext,
    slo: Option<&Slo>,
) -> Option<Evaluation> {
    let message = match sli.status {
        Status::Aborted => "evaluation performed by lighthouse was aborted".to_owned(),
        Status::Errored => format!(
            "evaluation performed by lighthouse received an unexpected error: {}",
            sli.message
        ),
        _ => return None,
    };
    let mut e = Evaluation::early(ctx, sli, Status::Errored, Verdict::Fail, message)
        .failing_on(FailedOn::Pipeline);
    e.data.evaluation.result = Verdict::Pass.as_str().to_owned();
    e.data.evaluation.slo_file_content = String::new();
    e.data.keptn_rs.inconclusive = slo.and_then(|s| s.no_data) == Some(NoDataPolicy::Inconclusive);
    Some(e)
}

/// An SLO prepared for evaluation: everything that depends on the SLO alone (SLI names grouped
/// and indexed, weights, comparison settings, `total_score` thresholds, the SLO-level failures)
/// is worked out once, so each [`CompiledSlo::evaluate`] only looks at the SLI values and the
/// previous evaluations.
///
/// Use it when the same SLO is evaluated repeatedly (a gate per build, a service evaluating
/// many services with one SLO); [`evaluate`] gives the same result and prepares the SLO on every
/// call.
///
/// ```
/// use keptn_slo::{CompiledSlo, EvaluationContext, SliReport};
/// use keptn_spec::{Slo, SliValue, Verdict};
///
/// let slo = Slo::from_yaml_str(r#"
/// objectives:
///   - sli: error_rate
///     pass: [{ criteria: ["<1"] }]
/// total_score: { pass: "90%" }
/// "#)?;
/// let gate = CompiledSlo::new(&slo);
/// let ctx = EvaluationContext::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
/// for (rate, verdict) in [(0.2, Verdict::Pass), (3.0, Verdict::Fail)] {
///     let sli = SliReport::succeeded(vec![SliValue::ok("error_rate", rate)]);
///     assert_eq!(gate.evaluate(&sli, &[], &ctx).verdict(), verdict);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CompiledSlo<'a> {
    slo: &'a Slo,
    plan: Result<Plan<'a>, SloFailure>,
}

/// An SLO that fails every evaluation before any objective is scored.
#[derive(Debug, Clone)]
enum SloFailure {
    /// A `total_score` threshold is missing or unparsable: `errored`, no compared events.
    TotalScore(&'static str),
    /// No objectives: `fail` with the compared events.
    NoObjectives,
}

#[derive(Debug, Clone)]
struct Plan<'a> {
    /// One per objective, in SLO order.
    objectives: Vec<Prepared<'a>>,
    /// Every criterion of every objective, flattened: per objective its pass criteria, then its
    /// warning criteria (empty when the plan serves one evaluation: the criteria are then read
    /// from the SLO as written).
    criteria: Vec<PreparedCriterion<'a>>,
    /// SLI name → group; objectives with the same SLI share a group (baseline).
    names: FxMap<&'a str, u32>,
    /// Per group, the SLI name as reported in every result (`value.metric`); empty when the
    /// plan serves one evaluation (each result then takes its objective's shared name).
    shared_names: Vec<Arc<str>>,
    groups: usize,
    /// Per group, whether a shadow objective reads it (beyond Keptn).
    shadow_groups: Vec<bool>,
    settings: ComparisonSettings,
    /// Σ weight of the objectives with a pass block, summed in SLO order.
    max_score: f64,
    pass_threshold: f64,
    warning_threshold: Option<f64>,
}

/// One objective, prepared.
#[derive(Debug, Clone, Copy)]
struct Prepared<'a> {
    /// The SLI name (checked first when looking up a group by position).
    sli: &'a str,
    group: u32,
    weight: f64,
    /// `criteria[start..mid]` are the pass criteria, `criteria[mid..end]` the warning ones.
    start: u32,
    mid: u32,
    end: u32,
    /// A `- criteria: []` block is always satisfied.
    pass_has_empty_block: bool,
    warning_has_empty_block: bool,
    /// Beyond Keptn: evaluated, never counted.
    shadow: bool,
    /// Beyond Keptn: what no data means.
    no_data: NoDataPolicy,
}

impl<'a> CompiledSlo<'a> {
    /// Prepares `slo` for evaluation.
    pub fn new(slo: &'a Slo) -> Self {
        Self {
            slo,
            plan: Plan::new(slo, true),
        }
    }

    /// The SLO this was prepared from.
    pub fn slo(&self) -> &'a Slo {
        self.slo
    }

    /// Evaluates SLI values and previous evaluations against the prepared SLO: the same
    /// result as [`evaluate`] with `Some(slo)`.
    pub fn evaluate(
        &self,
        sli: &SliReport,
        previous: &[PreviousEvaluation],
        ctx: &EvaluationContext,
    ) -> Evaluation {
        let e = self.evaluate_gated(sli, previous, ctx);
        if self.slo.shadow { e.into_shadow() } else { e }
    }

    fn evaluate_gated(
        &self,
        sli: &SliReport,
        previous: &[PreviousEvaluation],
        ctx: &EvaluationContext,
    ) -> Evaluation {
        if let Some(failed) = provider_failure(sli, ctx, Some(self.slo)) {
            return failed;
        }
        match &self.plan {
            Err(SloFailure::TotalScore(message)) => {
                Evaluation::early(ctx, sli, Status::Errored, Verdict::Fail, (*message).into())
                    .failing_on(FailedOn::Slo)
            }
            Err(SloFailure::NoObjectives) => {
                let mut e = Evaluation::early(
                    ctx,
                    sli,
                    Status::Succeeded,
                    Verdict::Fail,
                    "lighthouse failed because no SLO objective was provided".into(),
                )
                .failing_on(FailedOn::Slo);
                e.data.evaluation.compared_events =
                    compared_events(&select_previous(previous, &self.slo.comparison_settings()));
                e
            }
            Ok(plan) => plan.evaluate(&self.slo.objectives, sli, previous, ctx),
        }
    }
}

/// The ids of the compared evaluations; `None` (JSON `null`) when there are none, as Keptn
/// leaves the list unset.
fn compared_events(selected: &[&PreviousEvaluation]) -> Option<Vec<String>> {
    let ids: Vec<String> = selected.iter().filter_map(|p| p.id.clone()).collect();
    (!ids.is_empty()).then_some(ids)
}

/// Keptn reads `total_score` before anything else: `pass` missing or empty, `pass`
/// unparsable, and a present but unparsable `warning` all end the evaluation.
fn score_thresholds(slo: &Slo) -> Result<(f64, Option<f64>), SloFailure> {
    let ts = slo.total_score.as_ref();
    let pass = ts
        .and_then(|t| t.pass.as_deref())
        .filter(|p| !p.is_empty())
        .ok_or(SloFailure::TotalScore("no target score defined"))?;
    let pass = parse_score(pass).ok_or(SloFailure::TotalScore(
        "could not parse pass target percentage",
    ))?;
    let warning = match ts
        .and_then(|t| t.warning.as_deref())
        .filter(|w| !w.is_empty())
    {
        None => None,
        Some(w) => Some(parse_score(w).ok_or(SloFailure::TotalScore(
            "could not parse warning target percentage",
        ))?),
    };
    Ok((pass, warning))
}

/// "No value" in the per-group and per-value indexes.
const NONE: u32 = u32::MAX;

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Plan<'a> {
    /// `reused`: whether the plan serves many evaluations (then criteria are prepared once and
    /// SLI names and equal criterion texts are shared across results).
    fn new(slo: &'a Slo, reused: bool) -> Result<Self, SloFailure> {
        let (pass_threshold, warning_threshold) = score_thresholds(slo)?;
        if slo.objectives.is_empty() {
            return Err(SloFailure::NoObjectives);
        }
        let mut names: FxMap<&str, u32> = FxMap::default();
        names.reserve(slo.objectives.len());
        let mut objectives = Vec::with_capacity(slo.objectives.len());
        // A guess (three criteria per objective is common); the table grows if needed.
        let mut criteria = Vec::with_capacity(if reused { 3 * slo.objectives.len() } else { 0 });
        let mut texts = FxMap::default();
        let mut shared_names = Vec::new();
        let mut max_score = 0.0;
        for o in &slo.objectives {
            let next = index(names.len());
            let weight = f64::from(o.weight());
            if !o.is_info() && !o.shadow {
                max_score += weight;
            }
            let start = index(criteria.len());
            let pass_has_empty_block =
                reused && objective::prepare_criteria(&o.pass, &mut texts, &mut criteria);
            let mid = index(criteria.len());
            let warning_has_empty_block =
                reused && objective::prepare_criteria(&o.warning, &mut texts, &mut criteria);
            let group = *names.entry(o.sli.as_str()).or_insert(next);
            if reused && group == next {
                shared_names.push(o.shared_sli());
            }
            objectives.push(Prepared {
                sli: o.sli.as_str(),
                group,
                weight,
                start,
                mid,
                end: index(criteria.len()),
                pass_has_empty_block,
                warning_has_empty_block,
                shadow: o.shadow,
                no_data: slo.no_data_policy(o),
            });
        }
        let mut shadow_groups = vec![false; names.len()];
        for p in objectives.iter().filter(|p| p.shadow) {
            shadow_groups[p.group as usize] = true;
        }
        Ok(Self {
            objectives,
            criteria,
            shadow_groups,
            groups: names.len(),
            names,
            shared_names,
            settings: slo.comparison_settings(),
            max_score,
            pass_threshold,
            warning_threshold,
        })
    }

    /// The group of the SLI called `metric` found at position `j` of a list (SLI lists usually
    /// follow the SLO order, so the objective at position `j` is tried before the name index).
    #[inline(always)]
    fn group(&self, j: usize, metric: &str) -> Option<u32> {
        match self.objectives.get(j) {
            Some(p) if same_name(p.sli, metric) => Some(p.group),
            _ => self.names.get(metric).copied(),
        }
    }

    fn crits<'p>(&'p self, o: &'a Objective, p: &Prepared<'a>) -> (Crits<'p, 'a>, Crits<'p, 'a>) {
        if self.criteria.is_empty() {
            (Crits::Blocks(&o.pass), Crits::Blocks(&o.warning))
        } else {
            let criteria = &self.criteria[p.start as usize..p.end as usize];
            let (pass, warning) = criteria.split_at((p.mid - p.start) as usize);
            (
                Crits::Flat(pass, p.pass_has_empty_block),
                Crits::Flat(warning, p.warning_has_empty_block),
            )
        }
    }

    fn evaluate(
        &self,
        objectives: &'a [Objective],
        sli: &SliReport,
        previous: &[PreviousEvaluation],
        ctx: &EvaluationContext,
    ) -> Evaluation {
        let selected = select_previous(previous, &self.settings);
        let compared = compared_events(&selected);
        let (baseline, counts) = baseline::baselines(
            self.groups,
            &self.settings.aggregate_function,
            &selected,
            // Called once per previous value (10,000 times at 1,000 objectives × 10): inlined
            // into the aggregation loop instead of called.
            #[inline(always)]
            |j, metric| self.group(j, metric),
        );
        let mut values = Values::new(self, &sli.values);

        // Sized up front: collecting a `Result` iterator cannot know the length and would grow
        // (and copy) the list about ten times at 1,000 objectives.
        let mut results: Vec<IndicatorResult> = Vec::with_capacity(objectives.len());
        for (i, (o, p)) in objectives.iter().zip(&self.objectives).enumerate() {
            let group = p.group as usize;
            let (pass, warning) = self.crits(o, p);
            let name = match self.shared_names.get(group) {
                Some(name) => Arc::clone(name),
                None => o.shared_sli(),
            };
            // A shadow objective looks at its SLI's value without taking it, so it never
            // changes which value a counted objective gets.
            let k = if p.shadow {
                values.peek(p.group)
            } else {
                values.take(p.group)
            };
            let input = ObjectiveInput {
                weight: p.weight,
                value: k.map(|k| &sli.values[k]),
                baseline: baseline[group],
            };
            match objective::evaluate_objective(o, name, pass, warning, input) {
                Ok(r) => results.push(r),
                Err(UnparsablePass) => {
                    return self.unparsable_pass(&objectives[i], sli, ctx, compared);
                }
            }
        }
        let mut eval = Evaluation::early(ctx, sli, Status::Succeeded, Verdict::Pass, String::new());
        eval.data.evaluation.compared_events = compared;
        eval.baseline_samples = self
            .objectives
            .iter()
            .map(|p| counts[p.group as usize])
            .collect();

        let tally = policy::tally(&self.objectives, objectives, &mut results, self.max_score);
        let (verdict, score, mut message) = if tally.max == 0.0 {
            (Verdict::Pass, 100.0, String::new())
        } else {
            let score = 100.0 * (tally.total / tally.max);
            self.decide(
                score,
                tally.key_sli_failure.map(|k| (&objectives[k], &results[k])),
            )
        };
        if message.is_empty() {
            message = values.additional_message(&sli.values, &self.shadow_groups);
        }
        eval.data.result = verdict;
        eval.data.evaluation.result = verdict.as_str().to_owned();
        if verdict == Verdict::Fail {
            let fail_below = self.warning_threshold.unwrap_or(self.pass_threshold);
            let blame = policy::blame(&self.objectives, objectives, &results, &tally, fail_below);
            eval.failed_on = Some(blame);
        }
        // The provider reported `result: fail`: the details stand, the event fails.
        if sli.result == SliReportResult::Fail {
            eval.data.result = Verdict::Fail;
            eval.failed_on = Some(FailedOn::Pipeline);
            message = format!(
                "lighthouse failed because SLI failed with message {}",
                sli.message
            );
        }
        eval.data.message = message;
        eval.data.evaluation.score = score;
        eval.data.evaluation.indicator_results = Some(results);
        eval.data.keptn_rs.shadow_objectives = tally.shadows;
        if tally.max == 0.0 && self.max_score != 0.0 {
            // Every counted objective was left out for lack of data: nothing was scored.
            eval.data.evaluation.score = 0.0;
        }
        if !tally.inconclusive.is_empty() {
            eval.inconclusive(format!(
                "evaluation inconclusive: no data for {}",
                tally.inconclusive.join(", ")
            ));
        } else if tally.all_ignored {
            eval.inconclusive(
                "evaluation inconclusive: no scored objective had data (no_data: ignore)".into(),
            );
        }
        eval
    }

    /// The evaluation ends on objective `o`: a pass criterion does not parse.
    fn unparsable_pass(
        &self,
        o: &Objective,
        sli: &SliReport,
        ctx: &EvaluationContext,
        compared: Option<Vec<String>>,
    ) -> Evaluation {
        let why = o
            .pass
            .iter()
            .flat_map(|set| &set.criteria)
            .find_map(|c| c.criterion().err())
            .map_or("could not parse criteria", |e| e.keptn_message());
        let mut e = Evaluation::early(
            ctx,
            sli,
            Status::Succeeded,
            Verdict::Fail,
            format!("error with {}: {why}", o.name()),
        )
        .failing_on(FailedOn::Slo);
        e.data.evaluation.compared_events = compared;
        e
    }

    /// The verdict for a score: a failed key SLI (the last one in SLO order) fails whatever the
    /// score; else the thresholds decide (inclusive).
    fn decide(
        &self,
        score: f64,
        key_sli_failure: Option<(&Objective, &IndicatorResult)>,
    ) -> (Verdict, f64, String) {
        if let Some((o, r)) = key_sli_failure {
            let why = match r.value() {
                Some(v) if v.success => {
                    format!("failed evaluation with score {}", GoFixed(r.score))
                }
                Some(v) => v.message.clone(),
                None => String::new(),
            };
            let name = o.display_name.as_deref().unwrap_or_default();
            return (
                Verdict::Fail,
                score,
                format!("Evaluation failed due to key_sli objective '{name}': {why}"),
            );
        }
        if score >= self.pass_threshold {
            return (Verdict::Pass, score, String::new());
        }
        match self.warning_threshold {
            Some(w) if score >= w => (
                Verdict::Warning,
                score,
                format!(
                    "Evaluation returned a warning: the calculated score of {} is close to the warning target value of {}",
                    GoFloat(score),
                    GoFloat(w)
                ),
            ),
            Some(w) => (
                Verdict::Fail,
                score,
                format!(
                    "Evaluation failed since the calculated score of {} is below the warning value of {}",
                    GoFloat(score),
                    GoFloat(w)
                ),
            ),
            None => (
                Verdict::Fail,
                score,
                format!(
                    "Evaluation failed since the calculated score of {} is below the target value of {}",
                    GoFloat(score),
                    GoFloat(self.pass_threshold)
                ),
            ),
        }
    }
}
