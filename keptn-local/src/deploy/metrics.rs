//! The recorded traffic in Prometheus' text exposition format (version 0.0.4), as a stage proxy
//! serves it at [`METRICS_PATH`].
//!
//! Two metric families, named as keptn-prometheus' default queries (and Keptn's
//! prometheus-service before them) read them:
//! - [`REQUESTS_METRIC`] (`http_requests_total`), a counter by `deployment` and `status` (the
//!   HTTP status code the client got; `502` when the upstream did not answer);
//! - [`LATENCY_METRIC`] (`http_response_time_milliseconds`), a histogram by `deployment` with the
//!   fixed bucket bounds [`LATENCY_BUCKETS_MS`].
//!
//! The `job` label the default queries select (`<service>-<project>-<stage>-<deployment>`) is not
//! in the exposition: a proxy does not know its project. The scrape configuration sets it from the
//! `deployment` label (keptn-prometheus' monitoring stack does).
//!
//! Unlike the windowed statistics of [`RequestRecorder`](super::RequestRecorder), these counts are
//! cumulative since the recorder was created and never dropped, as Prometheus counters must be.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The path a [`StageProxy`](super::StageProxy) answers itself with the exposition (it is not
/// forwarded to the upstream).
pub const METRICS_PATH: &str = "/metrics";

/// The request counter's name.
pub const REQUESTS_METRIC: &str = "http_requests_total";

/// The latency histogram's name (its series are `_bucket`, `_sum` and `_count`).
pub const LATENCY_METRIC: &str = "http_response_time_milliseconds";

/// The upper bounds (`le`, in milliseconds) of the latency histogram's buckets, before `+Inf`.
pub const LATENCY_BUCKETS_MS: [f64; 20] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0,
    1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 10000.0,
];

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Cumulative counts of one deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    by_status: BTreeMap<u16, u64>,
    /// Non-cumulative counts per bucket of [`LATENCY_BUCKETS_MS`], the last one for `+Inf`.
    buckets: [u64; LATENCY_BUCKETS_MS.len() + 1],
    sum_ms: f64,
    count: u64,
}

impl Totals {
    /// Adds one request answered with `status` after `latency`.
    pub(crate) fn record(&mut self, status: u16, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        *self.by_status.entry(status).or_default() += 1;
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|le| ms <= *le)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[bucket] += 1;
        self.sum_ms += ms;
        self.count += 1;
    }
}

/// Escapes a label value (`\`, `"` and newlines), as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Formats a float the way the text format reads it (`+Inf`, shortest round-trip otherwise).
fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

/// The exposition of `totals` (deployment → counts).
pub(crate) fn render(totals: &BTreeMap<String, Totals>) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP {REQUESTS_METRIC} Requests forwarded by the stage proxy, by deployment and HTTP status code."
    );
    let _ = writeln!(out, "# TYPE {REQUESTS_METRIC} counter");
    for (deployment, t) in totals {
        let d = escape(deployment);
        for (status, n) in &t.by_status {
            let _ = writeln!(
                out,
                "{REQUESTS_METRIC}{{deployment=\"{d}\",status=\"{status}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP {LATENCY_METRIC} Latency of requests forwarded by the stage proxy, in milliseconds."
    );
    let _ = writeln!(out, "# TYPE {LATENCY_METRIC} histogram");
    for (deployment, t) in totals {
        let d = escape(deployment);
        let mut cumulative = 0;
        let bounds = LATENCY_BUCKETS_MS.iter().copied().chain([f64::INFINITY]);
        for (le, n) in bounds.zip(t.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{LATENCY_METRIC}_bucket{{deployment=\"{d}\",le=\"{}\"}} {cumulative}",
                number(le)
            );
        }
        let _ = writeln!(
            out,
            "{LATENCY_METRIC}_sum{{deployment=\"{d}\"}} {}",
            number(t.sum_ms)
        );
        let _ = writeln!(
            out,
            "{LATENCY_METRIC}_count{{deployment=\"{d}\"}} {}",
            t.count
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets are cumulative and end with `+Inf` = `_count`; statuses are separate series.
    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let mut t = Totals::default();
        t.record(200, Duration::from_millis(3));
        t.record(200, Duration::from_millis(120));
        t.record(500, Duration::from_secs(20));
        let text = render(&BTreeMap::from([("can\"ary".to_owned(), t)]));
        assert!(text.contains("http_requests_total{deployment=\"can\\\"ary\",status=\"200\"} 2\n"));
        assert!(text.contains("http_requests_total{deployment=\"can\\\"ary\",status=\"500\"} 1\n"));
        assert!(text.contains("_bucket{deployment=\"can\\\"ary\",le=\"2.5\"} 0\n"));
        assert!(text.contains("_bucket{deployment=\"can\\\"ary\",le=\"5\"} 1\n"));
        assert!(text.contains("_bucket{deployment=\"can\\\"ary\",le=\"150\"} 2\n"));
        assert!(text.contains("_bucket{deployment=\"can\\\"ary\",le=\"10000\"} 2\n"));
        assert!(text.contains("_bucket{deployment=\"can\\\"ary\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("_sum{deployment=\"can\\\"ary\"} 20123\n"));
        assert!(text.contains("_count{deployment=\"can\\\"ary\"} 3\n"));
    }

    /// Without traffic the exposition still declares both families (and nothing else).
    #[test]
    fn empty_exposition_declares_the_families() {
        let text = render(&BTreeMap::new());
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("# TYPE http_requests_total counter"));
        assert!(text.contains("# TYPE http_response_time_milliseconds histogram"));
    }
}
