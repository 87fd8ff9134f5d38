//! Baselines: which previous evaluations are compared with and how their values aggregate.

use keptn_spec::slo::{AggregateFunction, ComparisonSettings};

use crate::report::PreviousEvaluation;

/// The previous evaluations compared with: not invalidated, overall result accepted by
/// `include_result_with_score`, at most `N` (Keptn's `number_of_comparison_results` after its
/// defaults), newest first.
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

/// Per group, the baseline (aggregate of the previous successful values) and how many values
/// formed it. Values are taken newest evaluation first, in list order, as Keptn does; a
/// previous result without a value (`"value": null`) or with a failed one is skipped.
///
/// `group(j, metric)` names the group of the SLI `metric` found at position `j` of a result
/// list (`None`: no objective asks for it).
pub(crate) fn baselines(
    groups: usize,
    function: &AggregateFunction,
    selected: &[&PreviousEvaluation],
    group: impl Fn(usize, &str) -> Option<u32>,
) -> (Vec<Option<f64>>, Vec<u32>) {
    let mut counts = vec![0u32; groups];
    let previous = || {
        selected.iter().flat_map(|p| {
            p.data
                .evaluation
                .indicator_results()
                .iter()
                .enumerate()
                .filter_map(|(j, r)| r.value.as_ref().filter(|v| v.success).map(|v| (j, v)))
        })
    };
    let baseline = match function {
        AggregateFunction::Avg => {
            // Keptn's sum starts at 0 and adds in encounter order.
            let mut sums = vec![0.0f64; groups];
            for (j, v) in previous() {
                if let Some(g) = group(j, &v.metric) {
                    sums[g as usize] += v.value;
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
            for (j, v) in previous() {
                if let Some(g) = group(j, &v.metric) {
                    pairs.push((g, v.value));
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
                    (!slice.is_empty()).then(|| aggregate(function, slice))
                })
                .collect()
        }
        // QUIRK: any other function aggregates to 0 (when there are values at all).
        _ => {
            for (j, v) in previous() {
                if let Some(g) = group(j, &v.metric) {
                    counts[g as usize] += 1;
                }
            }
            counts.iter().map(|&c| (c > 0).then_some(0.0)).collect()
        }
    };
    (baseline, counts)
}

/// Keptn's aggregation of previous values: `avg`, or a percentile (`p50`, `p90`, `p95`) with
/// Keptn's interpolation; any other function gives 0, as in Keptn. `values` is sorted in place
/// for percentiles; no values give 0.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// p50 of `[100, 200, 300, 400]` is 250 (pos 2.5), p90 is 400 (pos 4.5 ≥ n).
    #[test]
    fn percentile_example() {
        assert_eq!(percentile(&mut [400.0, 100.0, 300.0, 200.0], 0.5), 250.0);
        assert_eq!(percentile(&mut [400.0, 100.0, 300.0, 200.0], 0.9), 400.0);
        // pos < 1 → min: p(0.1) of 3 values → pos 0.4 → min.
        assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 0.1), 1.0);
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
