//! Shared helpers: the real Prometheus from `scripts/prometheus.sh`, and a scrape target that
//! exports series with known values.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use chrono::{DateTime, Utc};
use keptn_prometheus::{PrometheusClient, QueryResult};
use keptn_slo::SliQuery;

/// The real Prometheus started by `scripts/prometheus.sh up`.
pub(crate) struct RealPrometheus {
    pub(crate) url: String,
    pub(crate) targets_dir: PathBuf,
}

/// The running Prometheus, or `None` (with a visible message) when its variables are not set.
pub(crate) fn prometheus(test: &str) -> Option<RealPrometheus> {
    match (
        std::env::var("PROMETHEUS_URL"),
        std::env::var("PROMETHEUS_TARGETS_DIR"),
    ) {
        (Ok(url), Ok(dir)) => Some(RealPrometheus {
            url,
            targets_dir: PathBuf::from(dir),
        }),
        _ => {
            eprintln!(
                "skipping {test}: set PROMETHEUS_URL and PROMETHEUS_TARGETS_DIR (scripts/prometheus.sh up)"
            );
            None
        }
    }
}

/// Binds an axum router on a free loopback port and serves it in the background.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// Requests per second the target reports, and how they split.
pub(crate) const RPS: f64 = 100.0;
/// Share of requests with status 500.
pub(crate) const ERROR_SHARE: f64 = 0.05;
/// Latency histogram: (upper bound in ms, share of requests in this bucket).
pub(crate) const BUCKETS: [(f64, f64); 5] = [
    (50.0, 0.50),
    (100.0, 0.30),
    (200.0, 0.10),
    (400.0, 0.08),
    (800.0, 0.02),
];

/// A `/metrics` endpoint whose counters grow linearly with time: `RPS` requests per second,
/// `ERROR_SHARE` of them failing, latencies distributed as `BUCKETS`; plus `keptn_test_info`
/// (labels `region="eu"`, `zone="a"`) and two series of `keptn_test_pair`. Registered with the
/// real Prometheus through a file_sd target file under job `job`; the file goes on drop.
pub(crate) struct Target {
    file: PathBuf,
}

fn exposition(t: f64) -> String {
    let total = RPS * t;
    let errors = total * ERROR_SHARE;
    let mut out = String::new();
    out.push_str("# TYPE http_requests_total counter\n");
    out.push_str(&format!(
        "http_requests_total{{status=\"200\"}} {}\n",
        total - errors
    ));
    out.push_str(&format!("http_requests_total{{status=\"500\"}} {errors}\n"));
    out.push_str("# TYPE http_response_time_milliseconds histogram\n");
    let mut cumulative = 0.0;
    let mut sum = 0.0;
    for (le, share) in BUCKETS {
        cumulative += share * total;
        sum += share * total * le * 0.75;
        out.push_str(&format!(
            "http_response_time_milliseconds_bucket{{le=\"{le}\"}} {cumulative}\n"
        ));
    }
    out.push_str(&format!(
        "http_response_time_milliseconds_bucket{{le=\"+Inf\"}} {total}\n"
    ));
    out.push_str(&format!("http_response_time_milliseconds_sum {sum}\n"));
    out.push_str(&format!("http_response_time_milliseconds_count {total}\n"));
    out.push_str("# TYPE keptn_test_info gauge\nkeptn_test_info{region=\"eu\",zone=\"a\"} 42\n");
    out.push_str(
        "# TYPE keptn_test_pair gauge\nkeptn_test_pair{k=\"a\"} 1\nkeptn_test_pair{k=\"b\"} 2\n",
    );
    out
}

impl Target {
    /// Starts the endpoint, registers it as job `job` and waits until Prometheus has at least
    /// `samples` scrapes of it.
    pub(crate) async fn start(prom: &RealPrometheus, job: &str, samples: u32) -> Target {
        let started = Arc::new(Instant::now());
        let router = Router::new().route(
            "/metrics",
            get(move || {
                let started = Arc::clone(&started);
                async move { exposition(started.elapsed().as_secs_f64()) }
            }),
        );
        let url = serve(router).await;
        let host = url.trim_start_matches("http://");
        let file = prom.targets_dir.join(format!("{job}.json"));
        let tmp = prom.targets_dir.join(format!(".{job}.tmp"));
        std::fs::write(
            &tmp,
            format!(r#"[{{"targets":["{host}"],"labels":{{"job":"{job}"}}}}]"#),
        )
        .unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let target = Target { file };
        let client = PrometheusClient::builder(&prom.url).build().unwrap();
        let query = format!("count_over_time(up{{job=\"{job}\",instance=\"{host}\"}}[1m])");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(QueryResult::Vector(v)) = client.query(&query, Utc::now()).await
                && v.first().is_some_and(|s| s.value >= f64::from(samples))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not scrape job {job} {samples} times within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        target
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// A query of `indicators` for `carts` in `sockshop`/`staging` over the `secs` seconds that
/// ended 2 s ago (a scrape that started before `now` may still be written, so a window ending
/// now would not give repeatable answers). Keep `secs + 2` below the seconds of data the target
/// has: `rate()` divides by the whole range.
pub(crate) fn query(indicators: &[&str], secs: i64) -> SliQuery {
    let end: DateTime<Utc> = Utc::now() - chrono::Duration::seconds(2);
    SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        end - chrono::Duration::seconds(secs),
        end,
        indicators.iter().map(|s| (*s).to_owned()).collect(),
    )
}
