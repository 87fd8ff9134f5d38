//! Beyond Keptn, applied after every objective was scored: the no-data policy
//! ([`NoDataPolicy`]) and shadow objectives. With neither key in the SLO this is Keptn's sum:
//! every objective with pass targets adds its score, a failed key SLI fails the evaluation.

use keptn_spec::evaluation::{IndicatorResult, IndicatorStatus};
use keptn_spec::slo::{NoDataPolicy, Objective};

use super::Prepared;

/// What counts towards the verdict.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Σ scores of the counted objectives.
    pub(super) total: f64,
    /// The plan's maximum minus the weights left out for lack of data.
    pub(super) max: f64,
    /// The last failed key SLI that counts, by position.
    pub(super) key_sli_failure: Option<usize>,
    /// The objectives without data whose policy is `inconclusive`, by name.
    pub(super) inconclusive: Vec<String>,
    /// Scored objectives were all left out (`ignore`) for lack of data.
    pub(super) all_ignored: bool,
    /// The shadow objectives, by name.
    pub(super) shadows: Vec<String>,
}

/// Sums the counted objectives, applying each one's no-data policy to its result (`warn`:
/// status `warning`, half the weight; `ignore`: status `info`, out of the maximum;
/// `inconclusive`: out of the maximum, noted).
pub(super) fn tally(
    prepared: &[Prepared<'_>],
    objectives: &[Objective],
    results: &mut [IndicatorResult],
    max_score: f64,
) -> Tally {
    let mut t = Tally {
        max: max_score,
        ..Tally::default()
    };
    let mut scored_with_data = false;
    let mut left_out = false;
    for (i, ((p, o), r)) in prepared.iter().zip(objectives).zip(results).enumerate() {
        if p.shadow {
            t.shadows.push(o.name().to_owned());
            continue;
        }
        let no_data = !r.value().is_some_and(|v| v.success);
        if no_data && !o.is_info() {
            match p.no_data {
                NoDataPolicy::Fail => {}
                NoDataPolicy::Warn => {
                    r.status = IndicatorStatus::Warning;
                    r.score = 0.5 * p.weight;
                    t.total += r.score;
                    scored_with_data = true;
                    continue;
                }
                NoDataPolicy::Ignore => {
                    r.status = IndicatorStatus::Info;
                    r.score = 0.0;
                    t.max -= p.weight;
                    left_out = true;
                    continue;
                }
                NoDataPolicy::Inconclusive => {
                    t.max -= p.weight;
                    t.inconclusive.push(o.name().to_owned());
                    continue;
                }
            }
        }
        if !o.is_info() {
            scored_with_data = true;
        }
        if r.status == IndicatorStatus::Fail && o.key_sli {
            t.key_sli_failure = Some(i);
        }
        if !r.pass_targets().is_empty() {
            t.total += r.score;
        }
    }
    t.all_ignored = left_out && !scored_with_data;
    t
}

/// Whom a failed verdict blames: the build, or the pipeline when the failure rests on missing
/// data. An objective without data (no value from the provider, or a value the provider marked
/// failed) scores nothing under Keptn's rules, so a gate with no data fails like a bad build;
/// the verdict stays `fail`, but the blame goes to the build only when the failure stands on
/// the data that did arrive: a key SLI with a value failed, or the score stays below the failing
/// line (`fail_below`, the warning threshold or else the pass threshold) even with full marks
/// for every objective that had no data.
pub(super) fn blame(
    prepared: &[Prepared<'_>],
    objectives: &[Objective],
    results: &[IndicatorResult],
    tally: &Tally,
    fail_below: f64,
) -> super::FailedOn {
    use super::FailedOn;
    let mut best_case = tally.total;
    for ((p, o), r) in prepared.iter().zip(objectives).zip(results) {
        if p.shadow || o.is_info() {
            continue;
        }
        let has_data = r.value().is_some_and(|v| v.success);
        if has_data {
            if o.key_sli && r.status == IndicatorStatus::Fail {
                return FailedOn::Build;
            }
        } else if matches!(p.no_data, NoDataPolicy::Fail | NoDataPolicy::Warn) {
            best_case += p.weight - r.score;
        }
    }
    if tally.max > 0.0 && 100.0 * (best_case / tally.max) < fail_below {
        FailedOn::Build
    } else {
        FailedOn::Pipeline
    }
}
