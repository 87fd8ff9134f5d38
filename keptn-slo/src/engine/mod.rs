//! The pure evaluation engine: Keptn 1.4.5's lighthouse, step by step.
//!
//! Input checks, each ending the evaluation, in Keptn's order: the SLI provider aborted or
//! errored; no SLO file; the `total_score` thresholds; no objectives; an unparsable pass
//! criterion of an objective that received a value. Then every objective is evaluated
//! ([`objective`]), the score summed and the verdict decided.

mod baseline;
mod objective;
mod policy;
mod text;
mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use keptn_spec::evaluation::{EvaluationFinishedData, IndicatorResult, Status};
use keptn_spec::slo::{ComparisonSettings, NoDataPolicy, Objective, Slo, parse_score};
use keptn_spec::{ProjectName, ServiceName, StageName, Verdict};

use crate::report::{PreviousEvaluation, SliReport, SliReportResult};
pub use baseline::{aggregate, select_previous};
use objective::{Crits, ObjectiveInput, PreparedCriterion, UnparsablePass};
pub(crate) use text::GoFloat;
pub use text::base64;
use text::{FxMap, GoFixed, same_name};
use values::Values;

/// Where an evaluation runs: the event fields copied into the result.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EvaluationContext {
    /// The project (`None` when unknown; named in Keptn's "no SLO file" message).
    pub project: Option<ProjectName>,
    /// The stage (`None` when unknown).
    pub stage: Option<StageName>,
    /// The service (`None` when unknown).
    pub service: Option<ServiceName>,
    /// Labels of the triggering event.
    pub labels: BTreeMap<String, String>,
    /// Base64 of the SLO file as written (Keptn's `sloFileContent`); see [`base64`].
    pub slo_file_content: String,
}

/// A name as the evaluation event writes it: empty when unknown.
fn name_or_empty(name: Option<&impl AsRef<str>>) -> String {
    name.map(|n| n.as_ref().to_owned()).unwrap_or_default()
}

impl EvaluationContext {
    /// A context for one service of one stage of a project (typed names, as in
    /// [`SliQuery`](crate::SliQuery)).
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project: Some(project),
            stage: Some(stage),
            service: Some(service),
            ..Self::default()
        }
    }

    /// Records the raw SLO file (stored base64-encoded, as Keptn does since 0.7).
    #[must_use]
    pub fn with_slo_file(mut self, raw: &str) -> Self {
        self.slo_file_content = base64(raw.as_bytes());
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }
}

/// The result of [`evaluate`]: Keptn's `evaluation.finished` data plus what the explanation
/// needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Evaluation {
    /// Exactly what Keptn's lighthouse would send as `evaluation.finished` data.
    pub data: EvaluationFinishedData,
    /// Per indicator result: how many previous values formed its baseline.
    pub baseline_samples: Vec<u32>,
    /// For a failed evaluation, what failed: the build, the pipeline or the SLO.
    pub failed_on: Option<FailedOn>,
}

/// What a failed evaluation failed on. Keptn reports all three as `result: fail`; a caller
/// deciding whom to alert (the team that built, the team that runs monitoring, the author of
/// the SLO) needs to tell them apart.
///
/// ```
/// use keptn_slo::{evaluate, EvaluationContext, FailedOn, SliReport};
/// use keptn_spec::{Slo, SliValue};
///
/// let slo = Slo::from_yaml_str("objectives:\n  - sli: error_rate\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
/// let ctx = EvaluationContext::default();
/// let bad_build = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("error_rate", 3.0)]), &[], &ctx);
/// assert_eq!(bad_build.failed_on(), Some(FailedOn::Build));
/// let no_data = evaluate(Some(&slo), &SliReport::errored("Dynatrace answered 503"), &[], &ctx);
/// assert_eq!(no_data.failed_on(), Some(FailedOn::Pipeline));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailedOn {
    /// The objectives: the score is below the thresholds or a key SLI failed, on the values
    /// the provider returned.
    Build,
    /// The data: the SLI provider aborted, errored or reported `result: fail`, the previous
    /// evaluations could not be read, or the verdict rests on indicators without data (no
    /// value, or a value the provider marked failed) — with full marks for those the
    /// evaluation would not have failed. The build is not to blame.
    Pipeline,
    /// The SLO itself: `total_score` missing or unparsable, no objectives, or an unparsable
    /// pass criterion.
    Slo,
}

impl std::fmt::Display for FailedOn {
    /// `build`, `pipeline` or `slo`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailedOn::Build => "build",
            FailedOn::Pipeline => "pipeline",
            FailedOn::Slo => "slo",
        })
    }
}

impl Evaluation {
    /// The verdict (`result`).
    pub fn verdict(&self) -> Verdict {
        self.data.result
    }

    /// The total score in percent.
    pub fn score(&self) -> f64 {
        self.data.evaluation.score
    }

    /// The task status (`succeeded`, or `errored` when no evaluation could run).
    pub fn status(&self) -> Status {
        self.data.status
    }

    /// For a failed evaluation, whether the build, the pipeline or the SLO failed.
    pub fn failed_on(&self) -> Option<FailedOn> {
        self.failed_on
    }

    /// Whether the evaluation was inconclusive (beyond Keptn: an objective whose no-data
    /// policy is `inconclusive` had no data, or every scored objective was left out by
    /// `ignore`). Its [`verdict`](Self::verdict) is then `fail` (what the event says, so Keptn
    /// consumers stay safe) and [`failed_on`](Self::failed_on) the pipeline.
    ///
    /// ```
    /// use keptn_slo::{evaluate, EvaluationContext, FailedOn, SliReport};
    /// use keptn_spec::{Slo, SliValue, Verdict};
    ///
    /// let slo = Slo::from_yaml_str(r#"
    /// no_data: inconclusive
    /// objectives:
    ///   - sli: error_rate
    ///     pass: [{ criteria: ["<1"] }]
    ///   - sli: rt
    ///     pass: [{ criteria: ["<600"] }]
    /// total_score: { pass: "90%" }
    /// "#)?;
    /// let sli = SliReport::succeeded(vec![SliValue::ok("rt", 420.0), SliValue::failed("error_rate", "timeout")]);
    /// let e = evaluate(Some(&slo), &sli, &[], &EvaluationContext::default());
    /// assert!(e.is_inconclusive());
    /// assert_eq!(e.verdict(), Verdict::Fail);
    /// assert_eq!(e.failed_on(), Some(FailedOn::Pipeline));
    /// assert_eq!(e.data.message, "evaluation inconclusive: no data for error_rate");
    /// assert!(keptn_slo::render::json(&e).contains(r#""keptn-rs": {
    ///     "inconclusive": true
    ///   }"#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_inconclusive(&self) -> bool {
        self.data.keptn_rs.inconclusive
    }

    /// The verdict a shadow SLO would have given (beyond Keptn: `shadow: true` at the top of
    /// `slo.yaml`); `None` for an SLO that gates. The evaluation itself then passes.
    ///
    /// ```
    /// use keptn_slo::{evaluate, EvaluationContext, SliReport};
    /// use keptn_spec::{Slo, SliValue, Verdict};
    ///
    /// let slo = Slo::from_yaml_str("shadow: true\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<300\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
    /// let e = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("rt", 420.0)]), &[], &EvaluationContext::default());
    /// assert_eq!(e.verdict(), Verdict::Pass);
    /// assert_eq!(e.shadow_verdict(), Some(Verdict::Fail));
    /// assert_eq!(e.data.keptn_rs.shadow_score, Some(0.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shadow_verdict(&self) -> Option<Verdict> {
        self.data.keptn_rs.shadow_result
    }

    /// A shadow SLO's evaluation: the computed verdict and score move to the `keptn-rs`
    /// extension and the message; the event passes with score 100 (nothing was gated).
    fn into_shadow(mut self) -> Self {
        let d = &mut self.data;
        let would = if d.keptn_rs.inconclusive {
            "inconclusive".to_owned()
        } else {
            d.result.to_string()
        };
        let why = if d.message.is_empty() {
            String::new()
        } else {
            format!(": {}", d.message)
        };
        d.message = format!(
            "shadow SLO, blocks nothing: it would have given {would} with score {}{why}",
            GoFloat(d.evaluation.score)
        );
        d.keptn_rs.shadow_result = Some(d.result);
        d.keptn_rs.shadow_score = Some(d.evaluation.score);
        d.keptn_rs.inconclusive = false;
        d.status = Status::Succeeded;
        d.result = Verdict::Pass;
        d.evaluation.result = Verdict::Pass.as_str().to_owned();
        d.evaluation.score = 100.0;
        self.failed_on = None;
        self
    }

    /// Makes a computed evaluation inconclusive: `fail` in the event, with `message`.
    fn inconclusive(&mut self, message: String) {
        self.data.result = Verdict::Fail;
        self.data.evaluation.result = Verdict::Fail.as_str().to_owned();
        self.data.message = message;
        self.data.keptn_rs.inconclusive = true;
        self.failed_on = Some(FailedOn::Pipeline);
    }

    /// An evaluation that ended before any objective was scored.
    fn early(
        ctx: &EvaluationContext,
        sli: &SliReport,
        status: Status,
        result: Verdict,
        message: String,
    ) -> Self {
        let mut data = EvaluationFinishedData::new(status, result, message);
        data.project = name_or_empty(ctx.project.as_ref());
        data.stage = name_or_empty(ctx.stage.as_ref());
        data.service = name_or_empty(ctx.service.as_ref());
        data.labels.clone_from(&ctx.labels);
        data.evaluation.time_start = sli.start;
        data.evaluation.time_end = sli.end;
        data.evaluation
            .slo_file_content
            .clone_from(&ctx.slo_file_content);
        Self {
            data,
            baseline_samples: Vec::new(),
            failed_on: None,
        }
    }

    #[must_use]
    fn failing_on(mut self, on: FailedOn) -> Self {
        self.failed_on = Some(on);
        self
    }
}

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
    /// plan serves one evaluation (each result then gets its own copy).
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
                shared_names.push(Arc::from(o.sli.as_str()));
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
                None => Arc::from(o.sli.as_str()),
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
