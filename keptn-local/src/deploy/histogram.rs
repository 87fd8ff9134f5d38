//! A sparse, fixed-bucket latency histogram with a bounded relative error.

use std::time::Duration;

/// Values below this many microseconds get one exact bucket each.
const EXACT_LIMIT: u64 = 64;
/// Sub-buckets per power of two above [`EXACT_LIMIT`] (`2^SUB_BITS`).
const SUB_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Latencies are clamped to `2^MAX_EXP` µs (about 38 hours).
const MAX_EXP: u32 = 37;
/// Number of distinct buckets: the upper bound of a histogram's size.
pub(crate) const BUCKETS: usize =
    (EXACT_LIMIT + (MAX_EXP as u64 - SUB_BITS as u64) * SUB_BUCKETS) as usize;

/// Log-linear bucket index of a latency in microseconds.
fn bucket_of(micros: u64) -> u16 {
    let v = micros.min((1u64 << (MAX_EXP + 1)) - 1);
    if v < EXACT_LIMIT {
        return v as u16;
    }
    let exp = 63 - v.leading_zeros(); // >= 6
    let sub = (v >> (exp - SUB_BITS)) & (SUB_BUCKETS - 1);
    let exp = exp.min(MAX_EXP);
    (EXACT_LIMIT + u64::from(exp - (SUB_BITS + 1)) * SUB_BUCKETS + sub) as u16
}

/// The inclusive lower and exclusive upper bound (µs) of a bucket.
fn bounds_of(bucket: u16) -> (u64, u64) {
    let b = u64::from(bucket);
    if b < EXACT_LIMIT {
        return (b, b + 1);
    }
    let rel = b - EXACT_LIMIT;
    let exp = (rel / SUB_BUCKETS) as u32 + SUB_BITS + 1;
    let sub = rel % SUB_BUCKETS;
    let width = 1u64 << (exp - SUB_BITS);
    let low = (1u64 << exp) + sub * width;
    (low, low + width)
}

/// The value reported for a bucket: its midpoint (exact below 64 µs).
fn representative(bucket: u16) -> f64 {
    let (low, high) = bounds_of(bucket);
    if high - low == 1 {
        low as f64
    } else {
        (low + high) as f64 / 2.0
    }
}

/// Latency counts in log-linear buckets: exact below 64 µs, then 32 buckets per power of two.
///
/// A bucket spans at most 1/32 of its lower bound, and a percentile is reported as its bucket's
/// midpoint, so a reported percentile is within **±1.6 %** of a latency that was actually
/// recorded at that rank. The histogram is sparse (only non-empty buckets are stored), so its
/// size is bounded by the number of distinct buckets, [`BUCKETS`] (1 088), whatever the number
/// of recorded requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LatencyHistogram {
    /// `(bucket, count)` sorted by bucket.
    buckets: Vec<(u16, u32)>,
    count: u64,
}

impl LatencyHistogram {
    /// Adds one latency.
    pub(crate) fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = bucket_of(micros);
        match self.buckets.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(1),
            Err(i) => self.buckets.insert(i, (bucket, 1)),
        }
        self.count += 1;
    }

    /// Number of recorded latencies.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Adds every count of `other` into `dense` (indexed by bucket).
    pub(crate) fn add_into(&self, dense: &mut [u64]) {
        for &(b, c) in &self.buckets {
            dense[usize::from(b)] += u64::from(c);
        }
    }

    /// Number of stored (non-empty) buckets.
    #[cfg(test)]
    pub(crate) fn stored_buckets(&self) -> usize {
        self.buckets.len()
    }
}

/// The `pct` percentile (0 < pct ≤ 100, nearest-rank) of a dense bucket array, in milliseconds,
/// or `None` when it holds no value.
pub(crate) fn percentile_ms(dense: &[u64], pct: f64) -> Option<f64> {
    let total: u64 = dense.iter().sum();
    if total == 0 {
        return None;
    }
    // Nearest rank: the smallest value with at least pct % of the values at or below it.
    let rank = ((pct / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (bucket, &count) in dense.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(representative(bucket as u16) / 1000.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bucket's bounds contain exactly the values mapped to it, and buckets are contiguous.
    #[test]
    fn buckets_are_contiguous_and_consistent() {
        let mut expected_low = 0;
        for b in 0..BUCKETS as u16 {
            let (low, high) = bounds_of(b);
            assert_eq!(low, expected_low, "bucket {b}");
            assert_eq!(bucket_of(low), b);
            assert_eq!(bucket_of(high - 1), b);
            expected_low = high;
        }
        assert_eq!(bucket_of(u64::MAX) as usize, BUCKETS - 1);
    }

    /// The reported value of any latency is within 1.6 % of it.
    #[test]
    fn relative_error_is_bounded() {
        let mut v = 1u64;
        while v < 1u64 << 36 {
            let rep = representative(bucket_of(v));
            let err = (rep - v as f64).abs() / v as f64;
            assert!(
                err <= 1.0 / 64.0 + 1e-12,
                "{v} µs reported as {rep} (error {err})"
            );
            v = v * 17 / 16 + 1;
        }
    }

    /// Percentiles follow the nearest-rank rule.
    #[test]
    fn percentiles_use_nearest_rank() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let mut dense = vec![0; BUCKETS];
        h.add_into(&mut dense);
        let p95 = percentile_ms(&dense, 95.0).unwrap();
        assert!((p95 - 95.0).abs() <= 95.0 / 64.0, "{p95}");
        let p50 = percentile_ms(&dense, 50.0).unwrap();
        assert!((p50 - 50.0).abs() <= 50.0 / 64.0, "{p50}");
        assert_eq!(percentile_ms(&vec![0; BUCKETS], 95.0), None);
    }

    /// A million recordings of spread-out latencies never store more than `BUCKETS` entries.
    #[test]
    fn size_is_bounded_by_bucket_count() {
        let mut h = LatencyHistogram::default();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..1_000_000 {
            h.record(Duration::from_micros(rng.u64(0..1 << 36)));
        }
        assert_eq!(h.count(), 1_000_000);
        assert!(h.stored_buckets() <= BUCKETS);
    }
}
