//! The pure evaluation engine: Keptn 1.4.5's lighthouse, step by step (§2.3–2.10).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use keptn_spec::SliValue;
use keptn_spec::criterion::{Criterion, CriterionEntry, Op};
use keptn_spec::evaluation::{
    EvaluationFinishedData, IndicatorResult, IndicatorStatus, SliResult, SliTarget, Status,
};
use keptn_spec::slo::{AggregateFunction, CriteriaSet, Objective, Slo, parse_score};
use keptn_spec::{Verdict, slo::ComparisonSettings};

use crate::report::{PreviousEvaluation, SliReport, SliReportResult};

/// Where an evaluation runs: the event fields copied into the result.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EvaluationContext {
    /// The project name (empty when unknown; used in Keptn's "no SLO file" message).
    pub project: String,
    /// The stage name.
    pub stage: String,
    /// The service name.
    pub service: String,
    /// Labels of the triggering event.
    pub labels: BTreeMap<String, String>,
    /// Base64 of the SLO file as written (Keptn's `sloFileContent`); see [`base64`].
    pub slo_file_content: String,
}

impl EvaluationContext {
    /// A context for one service of one stage of a project.
    pub fn new(
        project: impl Into<String>,
        stage: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Self {
            project: project.into(),
            stage: stage.into(),
            service: service.into(),
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

    /// The task status (`succeeded`, or `errored`/`aborted` when no evaluation could run).
    pub fn status(&self) -> Status {
        self.data.status
    }

    fn finished(
        ctx: &EvaluationContext,
        sli: &SliReport,
        status: Status,
        result: Verdict,
        message: String,
    ) -> Self {
        let mut data = EvaluationFinishedData::new(status, result, message);
        data.project.clone_from(&ctx.project);
        data.stage.clone_from(&ctx.stage);
        data.service.clone_from(&ctx.service);
        data.labels.clone_from(&ctx.labels);
        data.evaluation.time_start = sli.start;
        data.evaluation.time_end = sli.end;
        data.evaluation
            .slo_file_content
            .clone_from(&ctx.slo_file_content);
        Self {
            data,
            baseline_samples: Vec::new(),
        }
    }
}

/// Keptn's message for an objective whose SLI the provider did not return.
pub const NO_VALUE_MESSAGE: &str = "no value received from SLI provider";

/// Evaluates SLI values against an SLO and previous evaluations, exactly as Keptn 1.4.5's
/// lighthouse does.
///
/// * `slo`: `None` means "no SLO file": the result is `pass` with Keptn's message.
/// * `sli`: the provider's answer; `status: errored|aborted` fails the evaluation with that
///   status, `result: fail` forces `fail` after scoring.
/// * `previous`: candidate previous evaluations, **newest first** (as a history returns them);
///   the engine applies Keptn's rules to pick the ones compared with (invalidated ones skipped,
///   `include_result_with_score` on the overall result, at most `N` per `compare_with`).
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
    if let Some(failed) = provider_failure(sli, ctx) {
        return failed;
    }
    match slo {
        Some(slo) => CompiledSlo {
            slo,
            plan: Plan::new(slo, false),
        }
        .evaluate(sli, previous, ctx),
        // §2.9: no SLO file → pass without evaluation.
        None => Evaluation::finished(
            ctx,
            sli,
            Status::Succeeded,
            Verdict::Pass,
            format!(
                "no evaluation performed by lighthouse because no SLO file configured for project {}",
                ctx.project
            ),
        ),
    }
}

/// §2.8: the provider could not answer → fail with its status.
fn provider_failure(sli: &SliReport, ctx: &EvaluationContext) -> Option<Evaluation> {
    matches!(sli.status, Status::Errored | Status::Aborted).then(|| {
        Evaluation::finished(
            ctx,
            sli,
            sli.status,
            Verdict::Fail,
            format!(
                "lighthouse failed because SLI failed with message {}",
                sli.message
            ),
        )
    })
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
/// let ctx = EvaluationContext::new("sockshop", "staging", "carts");
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

/// An SLO that fails every evaluation before any scoring (§2.3, §2.7): status and message.
#[derive(Debug, Clone)]
struct SloFailure {
    status: Status,
    message: String,
}

#[derive(Debug, Clone)]
struct Plan<'a> {
    /// One per objective, in SLO order.
    objectives: Vec<Prepared<'a>>,
    /// Every criterion of every objective, flattened: per objective its pass criteria, then its
    /// warning criteria (see [`Prepared`]).
    criteria: Vec<PreparedCriterion<'a>>,
    /// SLI name → group; objectives with the same SLI share a group (value and baseline).
    names: FxMap<&'a str, u32>,
    /// Per group, the SLI name as reported in every result (`value.metric`); empty when the
    /// plan serves one evaluation (each result then gets its own copy).
    shared_names: Vec<Arc<str>>,
    groups: usize,
    settings: ComparisonSettings,
    /// Σ weight of the scored (non-info) objectives, summed in SLO order.
    max_score: f64,
    thresholds: Thresholds,
}

/// One objective, prepared.
#[derive(Debug, Clone, Copy)]
struct Prepared<'a> {
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
}

/// One criterion, prepared: its text (shared with the SLO) and what it compares.
#[derive(Debug, Clone, Copy)]
struct PreparedCriterion<'a> {
    text: &'a Arc<str>,
    kind: CriterionKind,
    /// Whether it is the last criterion of its `- criteria:` block.
    ends_block: bool,
}

#[derive(Debug, Clone, Copy)]
enum CriterionKind {
    /// `value <op> target` with a fixed target.
    Absolute(Op, f64),
    /// The target depends on the baseline.
    Relative(Criterion),
    /// Unparsable (only possible in warning criteria): violated, target 0.
    Unparsable,
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
        if let Some(failed) = provider_failure(sli, ctx) {
            return failed;
        }
        match &self.plan {
            Err(f) => Evaluation::finished(ctx, sli, f.status, Verdict::Fail, f.message.clone()),
            Ok(plan) => plan.evaluate(&self.slo.objectives, sli, previous, ctx),
        }
    }
}

impl<'a> Plan<'a> {
    /// `reused`: whether the plan serves many evaluations (then SLI names and equal criterion
    /// texts are shared across results).
    fn new(slo: &'a Slo, reused: bool) -> Result<Self, SloFailure> {
        // §2.7 (1.x): an SLO without objectives fails.
        if slo.objectives.is_empty() {
            return Err(SloFailure {
                status: Status::Succeeded,
                message: "lighthouse failed because no SLO objective was provided".to_owned(),
            });
        }
        // §2.3 (1.x): an unparsable pass criterion aborts the evaluation.
        for o in &slo.objectives {
            for c in o.pass.iter().flat_map(|set| &set.criteria) {
                if let Err(err) = c.criterion() {
                    return Err(SloFailure {
                        status: Status::Succeeded,
                        message: format!("error with {}: {}", o.name(), err.keptn_message()),
                    });
                }
            }
        }
        // §2.7 (1.x): total_score is validated before anything is scored.
        let thresholds = score_thresholds(slo).map_err(|message| SloFailure {
            status: Status::Errored,
            message,
        })?;

        let mut names: FxMap<&str, u32> = FxMap::default();
        names.reserve(slo.objectives.len());
        let mut objectives = Vec::with_capacity(slo.objectives.len());
        // A guess (three criteria per objective is common); the table grows if needed.
        let mut criteria = Vec::with_capacity(if reused { 3 * slo.objectives.len() } else { 0 });
        // Sharing costs a hash per criterion and an allocation per name: worth it when the
        // plan is reused, not for a single evaluation.
        let mut texts = reused.then(FxMap::default);
        let mut shared_names = Vec::new();
        let mut max_score = 0.0;
        for o in &slo.objectives {
            let next = u32::try_from(names.len()).unwrap_or(u32::MAX);
            let weight = f64::from(o.weight());
            if !o.is_info() {
                max_score += weight;
            }
            // A plan for one evaluation reads the criteria from the SLO as written.
            let start = index(criteria.len());
            let pass_has_empty_block =
                reused && prepare_criteria(&o.pass, &mut texts, &mut criteria);
            let mid = index(criteria.len());
            let warning_has_empty_block =
                reused && prepare_criteria(&o.warning, &mut texts, &mut criteria);
            let group = *names.entry(o.sli.as_str()).or_insert(next);
            if reused && group == next {
                shared_names.push(Arc::from(o.sli.as_str()));
            }
            objectives.push(Prepared {
                sli: &o.sli,
                group,
                weight,
                start,
                mid,
                end: index(criteria.len()),
                pass_has_empty_block,
                warning_has_empty_block,
            });
        }
        Ok(Self {
            objectives,
            criteria,
            groups: names.len(),
            names,
            shared_names,
            settings: slo.comparison_settings(),
            max_score,
            thresholds,
        })
    }

    /// The group of the SLI called `metric` found at position `j` of a list (SLI lists usually
    /// follow the SLO order, so position `j` is tried before the name index).
    #[inline]
    fn group(&self, j: usize, metric: &str) -> Option<u32> {
        match self.objectives.get(j) {
            Some(p) if same_name(p.sli, metric) => Some(p.group),
            _ => self.names.get(metric).copied(),
        }
    }

    fn evaluate(
        &self,
        objectives: &[Objective],
        sli: &SliReport,
        previous: &[PreviousEvaluation],
        ctx: &EvaluationContext,
    ) -> Evaluation {
        let selected = select_previous(previous, &self.settings);
        let mut eval =
            Evaluation::finished(ctx, sli, Status::Succeeded, Verdict::Pass, String::new());
        eval.data.evaluation.compared_events =
            selected.iter().filter_map(|p| p.id.clone()).collect();

        // The first current value of each group; values of no objective are "additional".
        let mut first_value = vec![NONE; self.groups];
        let mut additional = Vec::new();
        for (k, v) in sli.values.iter().enumerate() {
            match self.group(k, &v.metric) {
                Some(g) => {
                    let slot = &mut first_value[g as usize];
                    if *slot == NONE {
                        *slot = k as u32;
                    }
                }
                None => additional.push(k),
            }
        }
        let (baseline, counts) = self.baselines(&selected);

        // Collected (not pushed) so each result is written in place.
        let results: Vec<IndicatorResult> = objectives
            .iter()
            .zip(&self.objectives)
            .map(|(o, p)| {
                let group = p.group as usize;
                let value = match first_value[group] {
                    NONE => None,
                    k => Some(&sli.values[k as usize]),
                };
                let (pass, warning) = if self.criteria.is_empty() {
                    (Crits::Blocks(&o.pass), Crits::Blocks(&o.warning))
                } else {
                    let criteria = &self.criteria[p.start as usize..p.end as usize];
                    let (pass, warning) = criteria.split_at((p.mid - p.start) as usize);
                    (
                        Crits::Flat(pass, p.pass_has_empty_block),
                        Crits::Flat(warning, p.warning_has_empty_block),
                    )
                };
                let name = match self.shared_names.get(group) {
                    Some(name) => Arc::clone(name),
                    None => Arc::from(o.sli.as_str()),
                };
                evaluate_objective(o, p, name, pass, warning, value, baseline[group])
            })
            .collect();
        let mut total = 0.0;
        let mut key_sli_failure: Option<usize> = None;
        for (i, (o, r)) in objectives.iter().zip(&results).enumerate() {
            if r.status == IndicatorStatus::Fail && o.key_sli && key_sli_failure.is_none() {
                key_sli_failure = Some(i);
            }
            if !o.is_info() {
                total += r.score;
            }
        }
        let samples = self
            .objectives
            .iter()
            .map(|p| counts[p.group as usize])
            .collect();
        eval.baseline_samples = samples;

        let (verdict, score, mut message) = if self.max_score == 0.0 {
            (Verdict::Pass, 100.0, String::new())
        } else {
            let score = 100.0 * (total / self.max_score);
            let thresholds = &self.thresholds;
            if let Some(k) = key_sli_failure {
                let r: &IndicatorResult = &results[k];
                let name: &str = if r.display_name.is_empty() {
                    &r.value.metric
                } else {
                    &r.display_name
                };
                let why = if r.value.message.is_empty() {
                    "the objective failed"
                } else {
                    &r.value.message
                };
                (
                    Verdict::Fail,
                    score,
                    format!("Evaluation failed due to key_sli objective '{name}': {why}"),
                )
            } else if score >= thresholds.pass {
                (Verdict::Pass, score, String::new())
            } else {
                match &thresholds.warning {
                    Err(message) => {
                        let mut e = Evaluation::finished(
                            ctx,
                            sli,
                            Status::Errored,
                            Verdict::Fail,
                            message.clone(),
                        );
                        e.data.evaluation.score = 0.0;
                        return e;
                    }
                    Ok(Some(w)) if score >= *w => (
                        Verdict::Warning,
                        score,
                        format!(
                            "Evaluation returned a warning: the calculated score of {} is close to the warning target value of {}",
                            GoFloat(score),
                            GoFloat(*w)
                        ),
                    ),
                    Ok(Some(w)) => (
                        Verdict::Fail,
                        score,
                        format!(
                            "Evaluation failed since the calculated score of {} is below the warning value of {}",
                            GoFloat(score),
                            GoFloat(*w)
                        ),
                    ),
                    Ok(None) => (
                        Verdict::Fail,
                        score,
                        format!(
                            "Evaluation failed since the calculated score of {} is below the target value of {}",
                            GoFloat(score),
                            GoFloat(thresholds.pass)
                        ),
                    ),
                }
            }
        };
        // §2.6 (1.x): values without an objective are named in the message. Keptn writes this
        // before scoring and the verdict's message replaces it, so it only shows on a pass.
        if !additional.is_empty() && message.is_empty() {
            message = additional_slis_message(additional.iter().map(|&k| &*sli.values[k].metric));
        }
        let mut verdict = verdict;
        // §2.8 (1.x): provider `result: fail` → results reported, verdict forced to fail.
        if sli.result == SliReportResult::Fail {
            verdict = Verdict::Fail;
            message = format!(
                "lighthouse failed because SLI failed with message {}",
                sli.message
            );
        }
        eval.data.result = verdict;
        eval.data.message = message;
        eval.data.evaluation.result = verdict.as_str().to_owned();
        eval.data.evaluation.score = score;
        eval.data.evaluation.indicator_results = results;
        eval
    }

    /// §2.5: per group, the baseline (aggregate of the previous successful values) and how many
    /// values formed it. Values are taken newest evaluation first, in list order, as Keptn does.
    fn baselines(&self, selected: &[&PreviousEvaluation]) -> (Vec<Option<f64>>, Vec<u32>) {
        let groups = self.groups;
        let mut counts = vec![0u32; groups];
        let previous = || {
            selected.iter().flat_map(|p| {
                p.data
                    .evaluation
                    .indicator_results
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.value.success)
            })
        };
        let baseline = match self.settings.aggregate_function {
            AggregateFunction::Avg => {
                // Keptn's sum starts at 0 and adds in encounter order.
                let mut sums = vec![0.0f64; groups];
                for (j, r) in previous() {
                    if let Some(g) = self.group(j, &r.value.metric) {
                        sums[g as usize] += r.value.value;
                        counts[g as usize] += 1;
                    }
                }
                sums.iter()
                    .zip(&counts)
                    .map(|(&s, &c)| (c > 0).then(|| s / f64::from(c)))
                    .collect()
            }
            AggregateFunction::P50 | AggregateFunction::P90 | AggregateFunction::P95 => {
                // Bucket the values per group (counting sort), then aggregate each bucket.
                let mut pairs: Vec<(u32, f64)> = Vec::new();
                for (j, r) in previous() {
                    if let Some(g) = self.group(j, &r.value.metric) {
                        pairs.push((g, r.value.value));
                        counts[g as usize] += 1;
                    }
                }
                let mut offsets = Vec::with_capacity(groups + 1);
                let mut end = 0usize;
                offsets.push(0);
                for &c in &counts {
                    end += c as usize;
                    offsets.push(end);
                }
                let mut flat = vec![0.0; pairs.len()];
                let mut cursor = offsets[..groups].to_vec();
                for &(g, v) in &pairs {
                    let c = &mut cursor[g as usize];
                    flat[*c] = v;
                    *c += 1;
                }
                (0..groups)
                    .map(|g| {
                        let slice = &mut flat[offsets[g]..offsets[g + 1]];
                        (!slice.is_empty())
                            .then(|| aggregate(&self.settings.aggregate_function, slice))
                    })
                    .collect()
            }
            // QUIRK: any other function aggregates to 0 (when there are values at all).
            _ => {
                for (j, r) in previous() {
                    if let Some(g) = self.group(j, &r.value.metric) {
                        counts[g as usize] += 1;
                    }
                }
                counts.iter().map(|&c| (c > 0).then_some(0.0)).collect()
            }
        };
        (baseline, counts)
    }
}

/// "No current value" in the per-group index.
const NONE: u32 = u32::MAX;

/// Keptn's message naming SLI values that no objective asked for (§2.6, 1.x).
fn additional_slis_message<'s>(names: impl Iterator<Item = &'s str>) -> String {
    let mut message =
        String::from("Lighthouse received additional SLIs, which are not specified as SLO: ");
    for (i, name) in names.enumerate() {
        if i > 0 {
            message.push_str(", ");
        }
        message.push_str(name);
    }
    message.push_str(" . Please consider using them as an SLO.");
    message
}

/// A float written as Go's `fmt` writes `%v` (Keptn's messages): the shortest digits that
/// read back to the same number, in exponent form (`1e-05`, `1.5e+06`) when the decimal
/// exponent is below -4 or at least 6.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GoFloat(pub(crate) f64);

impl std::fmt::Display for GoFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        if x.is_infinite() {
            return f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" });
        }
        if x == 0.0 {
            return f.write_str(if x.is_sign_negative() { "-0" } else { "0" });
        }
        let sci = format!("{x:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if (-4..6).contains(&exp) {
            write!(f, "{x}")
        } else {
            let sign = if exp < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exp.unsigned_abs())
        }
    }
}

#[derive(Debug, Clone)]
struct Thresholds {
    pass: f64,
    warning: Result<Option<f64>, String>,
}

fn score_thresholds(slo: &Slo) -> Result<Thresholds, String> {
    let ts = slo.total_score.as_ref();
    let pass = ts
        .and_then(|t| t.pass.as_deref())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "no target score defined".to_owned())?;
    let pass =
        parse_score(pass).ok_or_else(|| "could not parse pass target percentage".to_owned())?;
    // The warning threshold is only read (and only fails) when the score is below `pass`.
    let warning = match ts
        .and_then(|t| t.warning.as_deref())
        .filter(|w| !w.is_empty())
    {
        None => Ok(None),
        Some(w) => parse_score(w)
            .map(Some)
            .ok_or_else(|| "could not parse warning target percentage".to_owned()),
    };
    Ok(Thresholds { pass, warning })
}

/// §2.5: the previous evaluations compared with: not invalidated, overall result accepted by
/// `include_result_with_score`, at most `N`, newest first.
pub fn select_previous<'a>(
    previous: &'a [PreviousEvaluation],
    settings: &ComparisonSettings,
) -> Vec<&'a PreviousEvaluation> {
    previous
        .iter()
        .filter(|p| !p.invalidated)
        .filter(|p| {
            settings
                .include_result_with_score
                .includes(p.data.result.as_str())
        })
        .take(settings.number_of_results)
        .collect()
}

/// Evaluates one objective against its value and baseline (§2.4–2.6, 1.x).
#[inline]
#[allow(clippy::too_many_arguments)]
fn evaluate_objective(
    o: &Objective,
    p: &Prepared<'_>,
    name: Arc<str>,
    pass: Crits<'_, '_>,
    warning: Crits<'_, '_>,
    value: Option<&SliValue>,
    baseline: Option<f64>,
) -> IndicatorResult {
    let compared_value = baseline.unwrap_or(0.0);
    let sli_result = match value {
        Some(v) => SliResult {
            // Matched by name: the value's metric is the objective's SLI.
            metric: name,
            value: v.value,
            compared_value,
            success: v.success,
            message: v.message.clone().unwrap_or_default(),
        },
        None => SliResult {
            metric: name,
            value: 0.0,
            compared_value,
            success: false,
            message: NO_VALUE_MESSAGE.to_owned(),
        },
    };
    let mut pass_targets = Vec::with_capacity(pass.len());
    let mut warning_targets = Vec::with_capacity(warning.len());
    let measured = value.filter(|v| v.success).map(|v| v.value);
    let (status, score) = match (o.is_info(), measured) {
        (true, _) | (false, None) => {
            // Info objectives and missing/failed values: every target violated, raw targets.
            raw_targets(pass, baseline, &mut pass_targets);
            raw_targets(warning, baseline, &mut warning_targets);
            let status = if o.is_info() {
                IndicatorStatus::Info
            } else {
                IndicatorStatus::Fail
            };
            (status, 0.0)
        }
        (false, Some(v)) => {
            let passed = evaluate_blocks(pass, v, baseline, &mut pass_targets);
            let warned = evaluate_blocks(warning, v, baseline, &mut warning_targets);
            if passed {
                (IndicatorStatus::Pass, p.weight)
            } else if warned && !o.warning.is_empty() {
                (IndicatorStatus::Warning, 0.5 * p.weight)
            } else {
                (IndicatorStatus::Fail, 0.0)
            }
        }
    };
    IndicatorResult {
        score,
        value: sli_result,
        display_name: o.display_name.clone().unwrap_or_default(),
        pass_targets,
        warning_targets,
        key_sli: o.key_sli,
        status,
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Flattens criteria blocks; returns whether one of them is empty (`- criteria: []`). With
/// `texts`, equal texts share the first occurrence's `Arc`, so the targets of an SLO that
/// repeats a criterion all count references on one hot allocation.
fn prepare_criteria<'a>(
    blocks: &'a [CriteriaSet],
    texts: &mut Option<FxMap<&'a str, &'a Arc<str>>>,
    out: &mut Vec<PreparedCriterion<'a>>,
) -> bool {
    let mut has_empty_block = false;
    for block in blocks {
        has_empty_block |= block.criteria.is_empty();
        let last = block.criteria.len().wrapping_sub(1);
        for (i, c) in block.criteria.iter().enumerate() {
            let kind = kind_of(c);
            let text = c.shared_text();
            out.push(PreparedCriterion {
                text: match texts {
                    Some(texts) => texts.entry(&**text).or_insert(text),
                    None => text,
                },
                kind,
                ends_block: i == last,
            });
        }
    }
    has_empty_block
}

/// Whether two SLI names are equal; inlined word-wise comparison (names are short and the hot
/// path compares one per value and per previous result).
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        if n < 4 {
            return a.iter().zip(b).all(|(x, y)| x == y);
        }
        // Two (possibly overlapping) 4-byte words cover 4..=7 bytes.
        let word = |s: &[u8], i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&s[i..i + 4]);
            u32::from_ne_bytes(w)
        };
        return word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4);
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last (possibly overlapping) word.
    word(a, n - 8) == word(b, n - 8)
}

/// The criteria of one objective's pass or warning blocks.
#[derive(Debug, Clone, Copy)]
enum Crits<'p, 'a> {
    /// From a prepared table, with whether one block is empty (`- criteria: []`).
    Flat(&'p [PreparedCriterion<'a>], bool),
    /// The blocks as written in the SLO.
    Blocks(&'a [CriteriaSet]),
}

impl Crits<'_, '_> {
    fn len(self) -> usize {
        match self {
            Crits::Flat(c, _) => c.len(),
            Crits::Blocks(blocks) => blocks.iter().map(|b| b.criteria.len()).sum(),
        }
    }
}

fn kind_of(c: &CriterionEntry) -> CriterionKind {
    match c.criterion() {
        Ok(c) if c.is_relative() => CriterionKind::Relative(*c),
        Ok(c) => CriterionKind::Absolute(c.op(), c.target(None)),
        Err(_) => CriterionKind::Unparsable,
    }
}

/// The target of a criterion that could not be evaluated: the criterion's number (absolute) or
/// the raw baseline (relative, no percentage or delta applied).
#[inline]
fn raw_target(kind: CriterionKind, baseline: Option<f64>) -> f64 {
    match kind {
        CriterionKind::Absolute(_, t) => t,
        CriterionKind::Relative(_) => baseline.unwrap_or(0.0),
        CriterionKind::Unparsable => 0.0,
    }
}

/// Whether a measured value meets a criterion, and the target it was compared with.
#[inline]
fn outcome(kind: CriterionKind, value: f64, baseline: Option<f64>) -> (bool, f64) {
    match kind {
        CriterionKind::Absolute(op, t) => (op.holds(value, t), t),
        CriterionKind::Relative(c) => match baseline {
            // No comparison values: satisfied, target 0 (§2.5).
            None => (true, 0.0),
            Some(_) => {
                let t = c.target(baseline);
                (c.op().holds(value, t), t)
            }
        },
        // Keptn swallows unparsable warning criteria: violated, target 0.
        CriterionKind::Unparsable => (false, 0.0),
    }
}

/// Targets of an objective that could not be evaluated: all violated, raw targets.
fn raw_targets(criteria: Crits<'_, '_>, baseline: Option<f64>, out: &mut Vec<SliTarget>) {
    match criteria {
        Crits::Flat(criteria, _) => {
            for c in criteria {
                let t = raw_target(c.kind, baseline);
                out.push(SliTarget::new(Arc::clone(c.text), t, true));
            }
        }
        Crits::Blocks(blocks) => {
            for c in blocks.iter().flat_map(|b| &b.criteria) {
                let t = raw_target(kind_of(c), baseline);
                out.push(SliTarget::new(Arc::clone(c.shared_text()), t, true));
            }
        }
    }
}

/// OR across blocks, AND within a block; every block is evaluated so every target is reported.
#[inline]
fn evaluate_blocks(
    criteria: Crits<'_, '_>,
    value: f64,
    baseline: Option<f64>,
    out: &mut Vec<SliTarget>,
) -> bool {
    match criteria {
        Crits::Flat(criteria, has_empty_block) => {
            let mut any = has_empty_block;
            let mut all = true;
            for c in criteria {
                let (ok, target) = outcome(c.kind, value, baseline);
                all &= ok;
                out.push(SliTarget::new(Arc::clone(c.text), target, !ok));
                if c.ends_block {
                    any |= all;
                    all = true;
                }
            }
            any
        }
        Crits::Blocks(blocks) => {
            let mut any = false;
            for block in blocks {
                let mut all = true;
                for c in &block.criteria {
                    let (ok, target) = outcome(kind_of(c), value, baseline);
                    all &= ok;
                    out.push(SliTarget::new(Arc::clone(c.shared_text()), target, !ok));
                }
                any |= all;
            }
            any
        }
    }
}

/// §2.5 aggregation over previous values. `values` is sorted in place for percentiles.
pub fn aggregate(function: &AggregateFunction, values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    match function {
        // Keptn's sum starts at +0 (Rust's `Sum` starts at -0, which differs for all-zero input).
        AggregateFunction::Avg => values.iter().fold(0.0, |sum, v| sum + v) / values.len() as f64,
        AggregateFunction::P50 => percentile(values, 0.5),
        AggregateFunction::P90 => percentile(values, 0.9),
        AggregateFunction::P95 => percentile(values, 0.95),
        // QUIRK: any other function aggregates to 0.
        _ => 0.0,
    }
}

/// Keptn's percentile: `pos = p × (n + 1)`, clamped to min/max, linear interpolation between
/// the 1-based elements `floor(pos)` and `floor(pos) + 1`.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_unstable_by(go_float_order);
    let n = values.len();
    let pos = p * (n as f64 + 1.0);
    if pos < 1.0 {
        values[0]
    } else if pos >= n as f64 {
        values[n - 1]
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = pos as usize; // 1 ≤ pos < n
        let lower = values[i - 1];
        let upper = values[i];
        lower + (pos - pos.floor()) * (upper - lower)
    }
}

/// Go's `sort.Float64Slice` order: NaN first, then ascending.
fn go_float_order(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// A fast, non-cryptographic hasher for SLI names (the hot path hashes each name once).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Standard base64 (RFC 4648, with padding), as Keptn encodes `sloFileContent`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 test vectors.
    #[test]
    fn base64_matches_rfc_4648() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    /// §2.5: p50 of `[100, 200, 300, 400]` is 250 (pos 2.5), p90 is 400 (pos 4.5 ≥ n).
    #[test]
    fn rule_2_5_percentile_example() {
        assert_eq!(percentile(&mut [400.0, 100.0, 300.0, 200.0], 0.5), 250.0);
        assert_eq!(percentile(&mut [400.0, 100.0, 300.0, 200.0], 0.9), 400.0);
        // pos < 1 → min: p50 of [] is not called; p(0.1) of 3 values → pos 0.4 → min.
        assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 0.1), 1.0);
    }

    /// Go's `%v` for float64 (Keptn's messages): shortest digits, exponent form outside
    /// 1e-4 ≤ |x| < 1e6 with a signed two-digit exponent.
    #[test]
    fn go_float_matches_go_v() {
        for (x, go) in [
            (50.0, "50"),
            (0.0, "0"),
            (-0.0, "-0"),
            (66.66666666666667, "66.66666666666667"),
            (33.3, "33.3"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (1.5e-300, "1.5e-300"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(GoFloat(x).to_string(), go, "{x:?}");
        }
    }

    /// The inline name comparison agrees with `==` for every length and every differing byte.
    #[test]
    fn same_name_agrees_with_eq() {
        let base: String = "response_time_p95_ab".into();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_name(a, a));
            for i in 0..n {
                let mut b = a.as_bytes().to_vec();
                b[i] ^= 1;
                let b = String::from_utf8(b).unwrap();
                assert!(!same_name(a, &b), "{a:?} vs {b:?}");
            }
            if n > 0 {
                assert!(!same_name(a, &base[..n - 1]));
            }
        }
    }

    /// Keptn's average starts from +0: all -0 values average to 0, not -0.
    #[test]
    fn avg_of_negative_zeros_is_positive_zero() {
        let avg = aggregate(&AggregateFunction::Avg, &mut [-0.0, -0.0]);
        assert!(avg == 0.0 && avg.is_sign_positive());
    }

    /// An empty set of values aggregates to 0 for every function.
    #[test]
    fn aggregate_of_nothing_is_zero() {
        assert_eq!(aggregate(&AggregateFunction::Avg, &mut []), 0.0);
        assert_eq!(aggregate(&AggregateFunction::P95, &mut []), 0.0);
    }
}
