//! Per-request measurements of one stage's proxy, kept in bounded memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::histogram::{BUCKETS, LatencyHistogram, percentile_ms};
use super::metrics::{self, Totals};

/// One time slice of one deployment: request and error counts and a latency histogram.
#[derive(Debug, Clone, Default)]
struct Slice {
    /// Start of the slice, in whole slice widths since the Unix epoch.
    index: i64,
    errors: u64,
    histogram: LatencyHistogram,
}

/// What a window of recorded requests adds up to (see [`RequestRecorder::summarize`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WindowStats {
    /// Number of requests in the window.
    pub requests: u64,
    /// Failed requests: answered with a status outside 2xx, or not answered at all (what
    /// keptn-prometheus' default `error_rate` query counts, `status!~'2..'`).
    pub errors: u64,
    /// Median latency in milliseconds (`None` without requests).
    pub p50_ms: Option<f64>,
    /// 90th percentile latency in milliseconds.
    pub p90_ms: Option<f64>,
    /// 95th percentile latency in milliseconds.
    pub p95_ms: Option<f64>,
}

impl WindowStats {
    /// Failed requests as a ratio (0..1) of all requests, as Prometheus' default `error_rate`
    /// query computes it (`None` without requests).
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    /// [`error_rate`](Self::error_rate) as a percentage (0–100), the unit of Dynatrace's
    /// failure rate (`None` without requests).
    pub fn error_rate_percent(&self) -> Option<f64> {
        self.error_rate().map(|r| r * 100.0)
    }

    /// The value of the SLI `name`, one of [`SUPPORTED_SLIS`](super::SUPPORTED_SLIS):
    /// `response_time_p50/p90/p95` in ms, `throughput` (requests in the window) or `error_rate`
    /// (a ratio, 0..1). `None` for any other name, and for percentiles and error rate without
    /// requests.
    pub fn sli(&self, name: &str) -> Option<f64> {
        match name {
            "response_time_p50" => self.p50_ms,
            "response_time_p90" => self.p90_ms,
            "response_time_p95" => self.p95_ms,
            "throughput" => Some(self.requests as f64),
            "error_rate" => self.error_rate(),
            _ => None,
        }
    }
}

/// Records every request a stage proxy forwards (deployment, start time, latency, status) and
/// answers window statistics per deployment.
///
/// # Memory bound
///
/// Requests are not stored one by one: each deployment keeps one slice per `slice` width (1 s by
/// default) holding a request count, an error count and a latency histogram
/// with log-linear buckets (exact below 64 µs, then 32 buckets per power of two). Slices older than
/// `retention` (15 minutes by default) are dropped as new ones arrive. So memory per deployment is
/// at most `retention / slice` slices of at most 1 088 buckets (8 bytes each), whatever the request
/// rate — about 7.8 MB in the worst case of the defaults and a few hundred kilobytes for real
/// traffic, whose latencies fall into a few dozen buckets.
///
/// # Error bounds
///
/// - Percentiles are within ±1.6 % of a latency actually recorded at that rank (bucket midpoints).
/// - Windows are resolved to whole slices: a request counts when its slice overlaps the window, so
///   window edges are exact to one slice width (1 s by default).
/// - Requests older than `retention` are gone; a window reaching further back answers only for the
///   retained part.
///
/// # Prometheus
///
/// Beside the windows, the recorder keeps cumulative counts per deployment (a counter per status
/// code and a latency histogram with [`LATENCY_BUCKETS_MS`](super::LATENCY_BUCKETS_MS), a few
/// hundred bytes per deployment) that [`metrics_text`](Self::metrics_text) renders in
/// Prometheus' text format.
#[derive(Debug)]
pub struct RequestRecorder {
    slice: Duration,
    retention: Duration,
    series: Mutex<BTreeMap<String, VecDeque<Slice>>>,
    totals: Mutex<BTreeMap<String, Totals>>,
}

impl Default for RequestRecorder {
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(15 * 60))
    }
}

impl RequestRecorder {
    /// A recorder with slices of `slice` width that keeps `retention` of history.
    ///
    /// `slice` is rounded up to whole milliseconds (at least 1 ms); `retention` is at least one slice.
    pub fn new(slice: Duration, retention: Duration) -> Self {
        let slice = Duration::from_millis(slice.as_millis().clamp(1, u128::from(u32::MAX)) as u64);
        Self {
            slice,
            retention: retention.max(slice),
            series: Mutex::new(BTreeMap::new()),
            totals: Mutex::new(BTreeMap::new()),
        }
    }

    /// The slice width.
    pub fn slice(&self) -> Duration {
        self.slice
    }

    /// The retention.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn slice_ms(&self) -> i64 {
        self.slice.as_millis() as i64
    }

    fn max_slices(&self) -> i64 {
        (self.retention.as_millis() / self.slice.as_millis()).max(1) as i64
    }

    /// Records one request that started at `at` on `deployment`, took `latency` and was answered
    /// with `status` (`None` when no answer came: counted as an error, and as status `502` in
    /// the Prometheus counts, the answer the proxy gives then). Every status outside 2xx is an
    /// error, as in Prometheus' default `error_rate` query.
    pub fn record(
        &self,
        deployment: &str,
        at: DateTime<Utc>,
        latency: Duration,
        status: Option<u16>,
    ) {
        let index = at.timestamp_millis().div_euclid(self.slice_ms());
        let max_slices = self.max_slices();
        let is_error = status.is_none_or(|s| !(200..300).contains(&s));
        {
            let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
            let t = match totals.get_mut(deployment) {
                Some(t) => t,
                None => totals.entry(deployment.to_owned()).or_default(),
            };
            t.record(status.unwrap_or(502), latency);
        }
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let slices = match series.get_mut(deployment) {
            Some(s) => s,
            None => series.entry(deployment.to_owned()).or_default(),
        };
        // Slices are kept sorted by index; requests arrive nearly in order, so search from the back.
        let pos = slices.iter().rposition(|s| s.index <= index);
        let slot = match pos {
            Some(p) if slices[p].index == index => p,
            Some(p) => {
                slices.insert(
                    p + 1,
                    Slice {
                        index,
                        ..Slice::default()
                    },
                );
                p + 1
            }
            None => {
                slices.push_front(Slice {
                    index,
                    ..Slice::default()
                });
                0
            }
        };
        let slot = &mut slices[slot];
        slot.histogram.record(latency);
        if is_error {
            slot.errors += 1;
        }
        let newest = slices.back().map_or(index, |s| s.index);
        while slices
            .front()
            .is_some_and(|s| s.index <= newest - max_slices)
        {
            slices.pop_front();
        }
    }

    /// Statistics of the requests that started in `[start, end]` on `deployment` (all deployments
    /// together when `None`).
    pub fn summarize(
        &self,
        deployment: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> WindowStats {
        let first = start.timestamp_millis().div_euclid(self.slice_ms());
        let last = end.timestamp_millis().div_euclid(self.slice_ms());
        let mut dense = vec![0u64; BUCKETS];
        let mut requests = 0;
        let mut errors = 0;
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, slices) in series.iter() {
            if deployment.is_some_and(|d| d != name) {
                continue;
            }
            for s in slices
                .iter()
                .filter(|s| s.index >= first && s.index <= last)
            {
                requests += s.histogram.count();
                errors += s.errors;
                s.histogram.add_into(&mut dense);
            }
        }
        drop(series);
        WindowStats {
            requests,
            errors,
            p50_ms: percentile_ms(&dense, 50.0),
            p90_ms: percentile_ms(&dense, 90.0),
            p95_ms: percentile_ms(&dense, 95.0),
        }
    }

    /// Every request recorded since the recorder was created, in Prometheus' text exposition
    /// format (see [`METRICS_PATH`](super::METRICS_PATH) for the metric names and labels).
    pub fn metrics_text(&self) -> String {
        let totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        metrics::render(&totals)
    }

    /// The deployments that have recorded requests (within retention).
    pub fn deployments(&self) -> Vec<String> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.keys().cloned().collect()
    }

    /// Number of slices held over all deployments (for memory checks).
    pub fn slice_count(&self) -> usize {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    /// Statistics are split by deployment and by window, and errors are non-2xx or unanswered
    /// requests.
    #[test]
    fn summarizes_per_deployment_and_window() {
        let r = RequestRecorder::default();
        for i in 0..100 {
            let at = t0() + TimeDelta::milliseconds(i * 10);
            r.record("canary", at, Duration::from_millis(1000), Some(200));
            let status = if i % 4 == 0 { Some(500) } else { Some(200) };
            r.record("primary", at, Duration::from_millis(50), status);
        }
        r.record("primary", t0(), Duration::from_millis(5), None);
        let end = t0() + TimeDelta::seconds(1);
        let canary = r.summarize(Some("canary"), t0(), end);
        assert_eq!(canary.requests, 100);
        assert_eq!(canary.errors, 0);
        assert!((canary.p95_ms.unwrap() - 1000.0).abs() < 16.0);
        let primary = r.summarize(Some("primary"), t0(), end);
        assert_eq!(primary.requests, 101);
        assert_eq!(primary.errors, 26);
        assert!((primary.error_rate().unwrap() - 0.2574).abs() < 0.0001);
        assert!((primary.error_rate_percent().unwrap() - 25.74).abs() < 0.01);
        assert_eq!(primary.sli("error_rate"), primary.error_rate());
        let all = r.summarize(None, t0(), end);
        assert_eq!(all.requests, 201);
        let later = r.summarize(
            None,
            t0() + TimeDelta::seconds(5),
            t0() + TimeDelta::seconds(9),
        );
        assert_eq!(later.requests, 0);
        assert_eq!(later.p95_ms, None);
        assert_eq!(later.error_rate_percent(), None);
    }

    /// Every status outside 2xx counts as an error, as `status!~'2..'` in Prometheus' default
    /// `error_rate` query does; every 2xx counts as a success.
    #[test]
    fn errors_are_every_status_outside_2xx() {
        let r = RequestRecorder::default();
        let statuses = [200, 201, 204, 299, 101, 302, 304, 404, 429, 500, 503];
        for s in statuses {
            r.record("primary", t0(), Duration::from_millis(1), Some(s));
        }
        let stats = r.summarize(Some("primary"), t0(), t0() + TimeDelta::seconds(1));
        assert_eq!(stats.requests, statuses.len() as u64);
        assert_eq!(stats.errors, 7);
        assert!((stats.error_rate().unwrap() - 7.0 / 11.0).abs() < 1e-12);
    }

    /// Hours of continuous load keep at most `retention / slice` slices per deployment.
    #[test]
    fn memory_stays_bounded_under_long_load() {
        let r = RequestRecorder::new(Duration::from_secs(1), Duration::from_secs(60));
        for i in 0..(3 * 3600 * 10) {
            let at = t0() + TimeDelta::milliseconds(i * 100);
            r.record(
                "primary",
                at,
                Duration::from_micros(1000 + (i as u64 % 5000)),
                Some(200),
            );
        }
        assert_eq!(r.slice_count(), 60);
        let end = t0() + TimeDelta::hours(3);
        let last_minute = r.summarize(Some("primary"), end - TimeDelta::seconds(59), end);
        assert_eq!(last_minute.requests, 590);
        // Older requests were dropped with their slices.
        assert_eq!(
            r.summarize(None, t0(), t0() + TimeDelta::hours(2)).requests,
            0
        );
    }

    /// Requests arriving slightly out of order land in their own slice.
    #[test]
    fn out_of_order_requests_are_kept_in_order() {
        let r = RequestRecorder::default();
        r.record(
            "direct",
            t0() + TimeDelta::seconds(2),
            Duration::from_millis(1),
            Some(200),
        );
        r.record("direct", t0(), Duration::from_millis(1), Some(200));
        r.record(
            "direct",
            t0() + TimeDelta::seconds(1),
            Duration::from_millis(1),
            Some(200),
        );
        assert_eq!(r.slice_count(), 3);
        assert_eq!(r.summarize(None, t0(), t0()).requests, 1);
        assert_eq!(r.deployments(), vec!["direct".to_owned()]);
    }
}
