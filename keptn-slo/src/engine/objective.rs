//! One objective: its criteria, prepared once, and its indicator result.

use std::sync::Arc;

use keptn_spec::SliValue;
use keptn_spec::criterion::{Criterion, CriterionEntry, Op};
use keptn_spec::evaluation::{IndicatorResult, IndicatorStatus, SliResult, SliTarget, Targets};
use keptn_spec::slo::{CriteriaSet, Objective};

use super::NO_VALUE_MESSAGE;
use super::text::FxMap;

/// One criterion, prepared: its text (shared with the SLO) and what it compares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedCriterion<'a> {
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
    /// The text does not parse: left out of the target lists.
    Unparsable,
}

/// The criteria of one objective's pass or warning blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Crits<'p, 'a> {
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

/// A pass criterion that does not parse met a successful value: the evaluation stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnparsablePass;

/// Flattens criteria blocks; returns whether one of them is empty (`- criteria: []`). With
/// `texts`, equal texts share the first occurrence's `Arc`, so the targets of an SLO that
/// repeats a criterion all count references on one hot allocation.
pub(crate) fn prepare_criteria<'a>(
    blocks: &'a [CriteriaSet],
    texts: &mut FxMap<&'a str, &'a Arc<str>>,
    out: &mut Vec<PreparedCriterion<'a>>,
) -> bool {
    let mut has_empty_block = false;
    for block in blocks {
        has_empty_block |= block.criteria.is_empty();
        let last = block.criteria.len().wrapping_sub(1);
        for (i, c) in block.criteria.iter().enumerate() {
            let text = c.shared_text();
            out.push(PreparedCriterion {
                text: texts.entry(&**text).or_insert(text),
                kind: kind_of(c),
                ends_block: i == last,
            });
        }
    }
    has_empty_block
}

fn kind_of(c: &CriterionEntry) -> CriterionKind {
    match c.criterion() {
        Ok(c) if c.is_relative() => CriterionKind::Relative(*c),
        Ok(c) => CriterionKind::Absolute(c.op(), c.target(None)),
        Err(_) => CriterionKind::Unparsable,
    }
}

/// What one objective is evaluated with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectiveInput<'v> {
    /// The weight in effect.
    pub(crate) weight: f64,
    /// The value consumed by this objective, if any.
    pub(crate) value: Option<&'v SliValue>,
    /// The aggregate of the previous values, if there were any.
    pub(crate) baseline: Option<f64>,
}

/// Evaluates one objective as Keptn 1.4.5 does.
///
/// * Informational (no pass block): status `info`, score 0, `keySli: false`; without a value
///   the result's `value` is `null` and both target lists are `[]`; with one, the warning
///   criteria are listed violated with their raw targets.
/// * No value or a failed one: status `fail`, score 0, `keySli: false`, every parsable
///   criterion listed violated with its raw target.
/// * A successful value: pass blocks OR-ed, criteria AND-ed; an unparsable pass criterion stops
///   the evaluation ([`UnparsablePass`]); an unparsable warning criterion makes the warning
///   unsatisfied and leaves `warningTargets` `null`.
///
/// A target list to which nothing was added is `null`, as Keptn writes a list it never filled.
pub(crate) fn evaluate_objective(
    o: &Objective,
    name: Arc<str>,
    pass: Crits<'_, '_>,
    warning: Crits<'_, '_>,
    input: ObjectiveInput<'_>,
) -> Result<IndicatorResult, UnparsablePass> {
    let ObjectiveInput {
        weight,
        value,
        baseline,
    } = input;
    let display_name = o.display_name.clone().unwrap_or_default();
    let unmeasured = |value: Option<&SliValue>| match value {
        Some(v) => SliResult {
            metric: name.clone(),
            value: v.value,
            compared_value: 0.0,
            success: v.success,
            message: v.message.clone().unwrap_or_default(),
        },
        None => SliResult {
            metric: name.clone(),
            value: 0.0,
            compared_value: 0.0,
            success: false,
            message: NO_VALUE_MESSAGE.to_owned(),
        },
    };
    if o.is_info() {
        let warning_targets = match value {
            None => Targets::new(),
            Some(_) => raw_targets(warning, baseline),
        };
        return Ok(IndicatorResult {
            score: 0.0,
            value: value.map(|v| unmeasured(Some(v))),
            display_name,
            pass_targets: Some(Targets::new()),
            warning_targets: Some(warning_targets),
            key_sli: false,
            status: IndicatorStatus::Info,
        });
    }
    let Some(measured) = value.filter(|v| v.success) else {
        return Ok(IndicatorResult {
            score: 0.0,
            value: Some(unmeasured(value)),
            display_name,
            pass_targets: filled(raw_targets(pass, baseline)),
            warning_targets: filled(raw_targets(warning, baseline)),
            key_sli: false,
            status: IndicatorStatus::Fail,
        });
    };
    let v = measured.value;
    let mut pass_targets = Targets::with_capacity(pass.len());
    let passed = evaluate_blocks(pass, v, baseline, &mut pass_targets).ok_or(UnparsablePass)?;
    let mut warning_targets = Targets::with_capacity(warning.len());
    let warned = evaluate_blocks(warning, v, baseline, &mut warning_targets);
    let warning_targets = match warned {
        Some(_) => filled(warning_targets),
        None => None,
    };
    let (status, score) = if passed {
        (IndicatorStatus::Pass, weight)
    } else if warned == Some(true) && !o.warning.is_empty() {
        (IndicatorStatus::Warning, 0.5 * weight)
    } else {
        (IndicatorStatus::Fail, 0.0)
    };
    Ok(IndicatorResult {
        score,
        value: Some(SliResult {
            metric: name,
            value: v,
            compared_value: baseline.unwrap_or(0.0),
            success: true,
            message: measured.message.clone().unwrap_or_default(),
        }),
        display_name,
        pass_targets: filled(pass_targets),
        warning_targets,
        key_sli: o.key_sli,
        status,
    })
}

/// A list Keptn built by appending: `null` when nothing was appended.
fn filled(list: Targets) -> Option<Targets> {
    (!list.is_empty()).then_some(list)
}

/// The target of a criterion that could not be evaluated: the criterion's number (absolute) or
/// the raw baseline (relative, no percentage or delta applied).
#[inline]
fn raw_target(kind: CriterionKind, baseline: Option<f64>) -> Option<f64> {
    match kind {
        CriterionKind::Absolute(_, t) => Some(t),
        CriterionKind::Relative(_) => Some(baseline.unwrap_or(0.0)),
        CriterionKind::Unparsable => None,
    }
}

/// Whether a measured value meets a criterion, and the target it was compared with (`None`:
/// the criterion does not parse).
#[inline]
fn outcome(kind: CriterionKind, value: f64, baseline: Option<f64>) -> Option<(bool, f64)> {
    match kind {
        CriterionKind::Absolute(op, t) => Some((op.holds(value, t), t)),
        CriterionKind::Relative(c) => Some(match baseline {
            // No comparison values: satisfied, target 0.
            None => (true, 0.0),
            Some(_) => {
                let t = c.target(baseline);
                (c.op().holds(value, t), t)
            }
        }),
        CriterionKind::Unparsable => None,
    }
}

/// Targets of an objective that could not be evaluated: every parsable criterion violated,
/// with its raw target.
fn raw_targets(criteria: Crits<'_, '_>, baseline: Option<f64>) -> Targets {
    let mut out = Targets::with_capacity(criteria.len());
    match criteria {
        Crits::Flat(criteria, _) => {
            for c in criteria {
                if let Some(t) = raw_target(c.kind, baseline) {
                    out.push(SliTarget::new(Arc::clone(c.text), t, true));
                }
            }
        }
        Crits::Blocks(blocks) => {
            for c in blocks.iter().flat_map(|b| &b.criteria) {
                if let Some(t) = raw_target(kind_of(c), baseline) {
                    out.push(SliTarget::new(Arc::clone(c.shared_text()), t, true));
                }
            }
        }
    }
    out
}

/// OR across blocks, AND within a block; every block is evaluated so every target is reported.
/// `None` when a criterion does not parse.
#[inline]
fn evaluate_blocks(
    criteria: Crits<'_, '_>,
    value: f64,
    baseline: Option<f64>,
    out: &mut Targets,
) -> Option<bool> {
    match criteria {
        Crits::Flat(criteria, has_empty_block) => {
            let mut any = has_empty_block;
            let mut all = true;
            for c in criteria {
                let (ok, target) = outcome(c.kind, value, baseline)?;
                all &= ok;
                out.push(SliTarget::new(Arc::clone(c.text), target, !ok));
                if c.ends_block {
                    any |= all;
                    all = true;
                }
            }
            Some(any)
        }
        Crits::Blocks(blocks) => {
            let mut any = false;
            for block in blocks {
                let mut all = true;
                for c in &block.criteria {
                    let (ok, target) = outcome(kind_of(c), value, baseline)?;
                    all &= ok;
                    out.push(SliTarget::new(Arc::clone(c.shared_text()), target, !ok));
                }
                any |= all;
            }
            Some(any)
        }
    }
}
