//! The pure evaluation engine: Keptn 1.4.5's lighthouse, step by step (§2.3–2.10).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use keptn_spec::SliValue;
use keptn_spec::criterion::CriterionEntry;
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
/// The function is pure: no clock, no environment, no I/O.
pub fn evaluate(
    slo: Option<&Slo>,
    sli: &SliReport,
    previous: &[PreviousEvaluation],
    ctx: &EvaluationContext,
) -> Evaluation {
    // §2.8: the provider could not answer → fail with its status.
    if matches!(sli.status, Status::Errored | Status::Aborted) {
        return Evaluation::finished(
            ctx,
            sli,
            sli.status,
            Verdict::Fail,
            format!(
                "lighthouse failed because SLI failed with message {}",
                sli.message
            ),
        );
    }
    // §2.9: no SLO file → pass without evaluation.
    let Some(slo) = slo else {
        return Evaluation::finished(
            ctx,
            sli,
            Status::Succeeded,
            Verdict::Pass,
            format!(
                "no evaluation performed by lighthouse because no SLO file configured for project {}",
                ctx.project
            ),
        );
    };
    // §2.7 (1.x): an SLO without objectives fails.
    if slo.objectives.is_empty() {
        let mut e = Evaluation::finished(
            ctx,
            sli,
            Status::Succeeded,
            Verdict::Fail,
            "lighthouse failed because no SLO objective was provided".to_owned(),
        );
        e.data.evaluation.score = 0.0;
        return e;
    }
    // §2.3 (1.x): an unparsable pass criterion aborts the evaluation.
    for o in &slo.objectives {
        for set in &o.pass {
            for c in &set.criteria {
                if let Err(err) = c.criterion() {
                    return Evaluation::finished(
                        ctx,
                        sli,
                        Status::Succeeded,
                        Verdict::Fail,
                        format!("error with {}: {}", o.name(), err.keptn_message()),
                    );
                }
            }
        }
    }
    // §2.7 (1.x): total_score is validated before anything is scored.
    let thresholds = match score_thresholds(slo) {
        Ok(t) => t,
        Err(message) => {
            return Evaluation::finished(ctx, sli, Status::Errored, Verdict::Fail, message);
        }
    };

    let settings = slo.comparison_settings();
    let selected = select_previous(previous, &settings);
    let mut eval = Evaluation::finished(ctx, sli, Status::Succeeded, Verdict::Pass, String::new());
    eval.data.evaluation.compared_events = selected.iter().filter_map(|p| p.id.clone()).collect();

    let index = Index::build(slo, &sli.values, &selected, &settings);
    let mut results = Vec::with_capacity(slo.objectives.len());
    let mut samples = Vec::with_capacity(slo.objectives.len());
    let mut max_score = 0.0;
    let mut total = 0.0;
    let mut key_sli_failure: Option<usize> = None;
    for (i, o) in slo.objectives.iter().enumerate() {
        let group = index.group_of[i] as usize;
        let baseline = index.baseline[group];
        let value = index.first_value[group].map(|k| &sli.values[k]);
        let weight = f64::from(o.weight());
        if !o.is_info() {
            max_score += weight;
        }
        let r = evaluate_objective(o, value, baseline);
        if r.status == IndicatorStatus::Fail && o.key_sli && key_sli_failure.is_none() {
            key_sli_failure = Some(results.len());
        }
        if !o.is_info() {
            total += r.score;
        }
        samples.push(index.sample_count(group));
        results.push(r);
    }
    eval.baseline_samples = samples;

    let (verdict, score, mut message) = if max_score == 0.0 {
        (Verdict::Pass, 100.0, String::new())
    } else {
        let score = 100.0 * (total / max_score);
        if let Some(k) = key_sli_failure {
            let r: &IndicatorResult = &results[k];
            let name = if r.display_name.is_empty() {
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
            match thresholds.warning {
                Err(message) => {
                    let mut e =
                        Evaluation::finished(ctx, sli, Status::Errored, Verdict::Fail, message);
                    e.data.evaluation.score = 0.0;
                    return e;
                }
                Ok(Some(w)) if score >= w => (
                    Verdict::Warning,
                    score,
                    format!(
                        "Evaluation returned a warning: the calculated score of {score} is close to the warning target value of {w}"
                    ),
                ),
                Ok(Some(w)) => (
                    Verdict::Fail,
                    score,
                    format!(
                        "Evaluation failed since the calculated score of {score} is below the warning value of {w}"
                    ),
                ),
                Ok(None) => (
                    Verdict::Fail,
                    score,
                    format!(
                        "Evaluation failed since the calculated score of {score} is below the target value of {}",
                        thresholds.pass
                    ),
                ),
            }
        }
    };
    // §2.6 (1.x): values without an objective are reported in the message.
    if !index.additional.is_empty() {
        let names: Vec<&str> = index
            .additional
            .iter()
            .map(|&k| sli.values[k].metric.as_str())
            .collect();
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str("Lighthouse received additional SLIs that are not part of the SLO: ");
        message.push_str(&names.join(", "));
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
fn evaluate_objective(
    o: &Objective,
    value: Option<&SliValue>,
    baseline: Option<f64>,
) -> IndicatorResult {
    let weight = f64::from(o.weight());
    let compared_value = baseline.unwrap_or(0.0);
    let sli_result = match value {
        Some(v) => SliResult {
            metric: v.metric.clone(),
            value: v.value,
            compared_value,
            success: v.success,
            message: v.message.clone().unwrap_or_default(),
        },
        None => SliResult {
            metric: o.sli.clone(),
            value: 0.0,
            compared_value,
            success: false,
            message: NO_VALUE_MESSAGE.to_owned(),
        },
    };
    let mut result = IndicatorResult {
        score: 0.0,
        value: sli_result,
        display_name: o.display_name.clone().unwrap_or_default(),
        pass_targets: Vec::new(),
        warning_targets: Vec::new(),
        key_sli: o.key_sli,
        status: IndicatorStatus::Fail,
    };
    let measured = value.filter(|v| v.success).map(|v| v.value);
    match (o.is_info(), measured) {
        (true, _) | (false, None) => {
            // Info objectives and missing/failed values: every target violated, raw targets.
            result.pass_targets = raw_targets(&o.pass, baseline);
            result.warning_targets = raw_targets(&o.warning, baseline);
            result.status = if o.is_info() {
                IndicatorStatus::Info
            } else {
                IndicatorStatus::Fail
            };
        }
        (false, Some(v)) => {
            let (passed, pass_targets) = evaluate_sets(&o.pass, v, baseline);
            let (warned, warning_targets) = evaluate_sets(&o.warning, v, baseline);
            result.pass_targets = pass_targets;
            result.warning_targets = warning_targets;
            (result.status, result.score) = if passed {
                (IndicatorStatus::Pass, weight)
            } else if warned && !o.warning.is_empty() {
                (IndicatorStatus::Warning, 0.5 * weight)
            } else {
                (IndicatorStatus::Fail, 0.0)
            };
        }
    }
    result
}

fn criteria_count(sets: &[CriteriaSet]) -> usize {
    sets.iter().map(|s| s.criteria.len()).sum()
}

/// Targets of an objective that could not be evaluated: violated, with the criterion's number
/// (absolute) or the raw baseline (relative, no percentage or delta applied).
fn raw_targets(sets: &[CriteriaSet], baseline: Option<f64>) -> Vec<SliTarget> {
    let mut out = Vec::with_capacity(criteria_count(sets));
    for set in sets {
        for c in &set.criteria {
            let target = match c.criterion() {
                Ok(c) if c.is_relative() => baseline.unwrap_or(0.0),
                Ok(c) => c.target(None),
                Err(_) => 0.0,
            };
            out.push(SliTarget::new(shared(c), target, true));
        }
    }
    out
}

#[inline]
fn shared(c: &CriterionEntry) -> Arc<str> {
    Arc::clone(c.shared_text())
}

/// OR across blocks, AND within a block; every block is evaluated so every target is reported.
fn evaluate_sets(
    sets: &[CriteriaSet],
    value: f64,
    baseline: Option<f64>,
) -> (bool, Vec<SliTarget>) {
    let mut out = Vec::with_capacity(criteria_count(sets));
    let mut any = false;
    for set in sets {
        let mut all = true;
        for c in &set.criteria {
            let (ok, target) = match c.criterion() {
                Ok(c) => {
                    if c.is_relative() && baseline.is_none() {
                        // No comparison values: satisfied, target 0 (§2.5).
                        (true, 0.0)
                    } else {
                        let t = c.target(baseline);
                        (c.op().holds(value, t), t)
                    }
                }
                // Keptn swallows unparsable warning criteria: violated, target 0.
                Err(_) => (false, 0.0),
            };
            all &= ok;
            out.push(SliTarget::new(shared(c), target, !ok));
        }
        any |= all;
    }
    (any, out)
}

/// §2.5 aggregation over previous values. `values` is sorted in place for percentiles.
pub fn aggregate(function: &AggregateFunction, values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    match function {
        AggregateFunction::Avg => values.iter().sum::<f64>() / values.len() as f64,
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

/// Per evaluation: SLI names → groups (duplicate objectives share one), the first current value
/// of each group, and each group's baseline from the selected previous evaluations.
struct Index {
    group_of: Vec<u32>,
    first_value: Vec<Option<usize>>,
    baseline: Vec<Option<f64>>,
    offsets: Vec<u32>,
    additional: Vec<usize>,
}

impl Index {
    fn build(
        slo: &Slo,
        values: &[SliValue],
        previous: &[&PreviousEvaluation],
        settings: &ComparisonSettings,
    ) -> Self {
        let objectives = &slo.objectives;
        let mut names: FxMap<&str, u32> = FxMap::default();
        names.reserve(objectives.len());
        let mut group_of = Vec::with_capacity(objectives.len());
        for o in objectives {
            let next = names.len() as u32;
            group_of.push(*names.entry(o.sli.as_str()).or_insert(next));
        }
        let groups = names.len();
        // The group of the metric at position `j` (SLI lists usually follow the SLO order).
        let lookup = |j: usize, metric: &str| -> Option<u32> {
            match objectives.get(j) {
                Some(o) if o.sli == metric => Some(group_of[j]),
                _ => names.get(metric).copied(),
            }
        };

        let mut first_value = vec![None; groups];
        let mut additional = Vec::new();
        for (k, v) in values.iter().enumerate() {
            match lookup(k, &v.metric) {
                Some(g) => {
                    let slot = &mut first_value[g as usize];
                    if slot.is_none() {
                        *slot = Some(k);
                    }
                }
                None => additional.push(k),
            }
        }

        // Previous successful values per group, in encounter order (newest evaluation first).
        let mut pairs: Vec<(u32, f64)> = Vec::with_capacity(previous.len() * objectives.len());
        for p in previous {
            for (j, r) in p.data.evaluation.indicator_results.iter().enumerate() {
                if !r.value.success {
                    continue;
                }
                if let Some(g) = lookup(j, &r.value.metric) {
                    pairs.push((g, r.value.value));
                }
            }
        }
        let mut offsets = vec![0u32; groups + 1];
        for &(g, _) in &pairs {
            offsets[g as usize + 1] += 1;
        }
        for g in 0..groups {
            offsets[g + 1] += offsets[g];
        }
        let mut flat = vec![0.0; pairs.len()];
        let mut cursor: Vec<u32> = offsets[..groups].to_vec();
        for &(g, v) in &pairs {
            let c = &mut cursor[g as usize];
            flat[*c as usize] = v;
            *c += 1;
        }
        let baseline = (0..groups)
            .map(|g| {
                let slice = &mut flat[offsets[g] as usize..offsets[g + 1] as usize];
                (!slice.is_empty()).then(|| aggregate(&settings.aggregate_function, slice))
            })
            .collect();
        Self {
            group_of,
            first_value,
            baseline,
            offsets,
            additional,
        }
    }

    fn sample_count(&self, group: usize) -> u32 {
        self.offsets[group + 1] - self.offsets[group]
    }
}

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

    /// An empty set of values aggregates to 0 for every function.
    #[test]
    fn aggregate_of_nothing_is_zero() {
        assert_eq!(aggregate(&AggregateFunction::Avg, &mut []), 0.0);
        assert_eq!(aggregate(&AggregateFunction::P95, &mut []), 0.0);
    }
}
