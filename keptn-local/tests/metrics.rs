//! A stage proxy's `/metrics` over real loopback HTTP: the exposition counts exactly what the
//! recorder recorded, and Prometheus' own `promtool check metrics` accepts it (when
//! `PROMTOOL_BIN` is set, as `scripts/prometheus.sh up` prints it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use keptn_deploy::StageService;
use keptn_local::{
    LATENCY_METRIC, LocalDeployer, METRICS_CONTENT_TYPE, REQUESTS_METRIC, RequestRecorder,
    StageProxy, Upstream,
};
use tokio::net::TcpListener;

/// An upstream answering `/ok` with 200, `/fail` with 500 and `/slow` with 200 after 60 ms.
async fn upstream(label: &str) -> Arc<Upstream> {
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(60)).await;
                "slow"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Arc::new(Upstream::new(label, "v1", addr))
}

/// The value of the sample `series` (name with labels, exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Traffic on two deployments, with failures and an unreachable upstream: every counter and
/// histogram series equals the recorder's own statistics, buckets put the slow requests above
/// 50 ms, and `/metrics` itself is not recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposition_counts_match_the_recorder() {
    let recorder = Arc::new(RequestRecorder::default());
    let proxy = StageProxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), recorder.clone())
        .await
        .unwrap();
    let http = client();
    let start = Utc::now();
    let mut sent: BTreeMap<(&str, u16), u64> = BTreeMap::new();
    for (label, plan) in [
        ("canary", [("/ok", 7), ("/fail", 3), ("/slow", 5)]),
        ("primary", [("/ok", 11), ("/fail", 0), ("/slow", 2)]),
    ] {
        proxy.route_to(Some(upstream(label).await));
        for (path, n) in plan {
            for _ in 0..n {
                let resp = http
                    .get(format!("{}{path}", proxy.url()))
                    .send()
                    .await
                    .unwrap();
                *sent.entry((label, resp.status().as_u16())).or_default() += 1;
            }
        }
    }
    // An upstream whose port is closed: the proxy answers 502.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    proxy.route_to(Some(Arc::new(Upstream::new("direct", "v0", closed_addr))));
    for _ in 0..2 {
        let resp = http
            .get(format!("{}/ok", proxy.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502);
    }

    let resp = http
        .get(format!("{}/metrics", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        METRICS_CONTENT_TYPE
    );
    let text = resp.text().await.unwrap();
    // A second scrape answers the same: scrapes are not traffic.
    let again = http
        .get(format!("{}/metrics", proxy.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, again);

    let end = Utc::now() + chrono::TimeDelta::seconds(1);
    assert_eq!(
        sent,
        BTreeMap::from([
            (("canary", 200), 12),
            (("canary", 500), 3),
            (("primary", 200), 13)
        ])
    );
    for ((label, status), n) in &sent {
        let series = format!("{REQUESTS_METRIC}{{deployment=\"{label}\",status=\"{status}\"}}");
        assert_eq!(sample(&text, &series), Some(*n as f64), "{series}");
    }
    assert_eq!(
        sample(
            &text,
            &format!("{REQUESTS_METRIC}{{deployment=\"direct\",status=\"502\"}}")
        ),
        Some(2.0)
    );
    for label in ["canary", "primary", "direct"] {
        let stats = recorder.summarize(Some(label), start, end);
        let count = sample(
            &text,
            &format!("{LATENCY_METRIC}_count{{deployment=\"{label}\"}}"),
        );
        assert_eq!(count, Some(stats.requests as f64), "{label}");
        let inf = sample(
            &text,
            &format!("{LATENCY_METRIC}_bucket{{deployment=\"{label}\",le=\"+Inf\"}}"),
        );
        assert_eq!(inf, count, "{label}");
        let errors: f64 = text
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "{REQUESTS_METRIC}{{deployment=\"{label}\",status=\"5"
                ))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert_eq!(errors, stats.errors as f64, "{label}");
    }
    // Exactly the slow requests took longer than 50 ms.
    let canary_fast = sample(
        &text,
        &format!("{LATENCY_METRIC}_bucket{{deployment=\"canary\",le=\"50\"}}"),
    );
    assert_eq!(canary_fast, Some(10.0));
    let primary_sum = sample(
        &text,
        &format!("{LATENCY_METRIC}_sum{{deployment=\"primary\"}}"),
    )
    .unwrap();
    assert!(
        primary_sum >= 120.0,
        "two 60 ms requests, sum {primary_sum}"
    );

    promtool_accepts(&text);
}

/// A deployer's scrape address is the slot's public proxy, which answers `/metrics` even before
/// anything is deployed.
#[tokio::test]
async fn deployer_names_the_scrape_address() {
    let deployer = LocalDeployer::new();
    let target = StageService::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let addr = deployer.metrics_addr(&target).await.unwrap();
    assert_eq!(
        format!("http://{addr}"),
        deployer.public_url(&target).await.unwrap()
    );
    let resp = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    promtool_accepts(&text);
}

/// Runs `promtool check metrics` on `text`: no parse error, and no lint problem except the one
/// the names Keptn's default queries read cannot avoid (milliseconds, not seconds).
fn promtool_accepts(text: &str) {
    let Ok(bin) = std::env::var("PROMTOOL_BIN") else {
        eprintln!("skipping promtool check metrics: set PROMTOOL_BIN (scripts/prometheus.sh up)");
        return;
    };
    use std::io::Write;
    let mut child = std::process::Command::new(&bin)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool: 0 clean, 3 lint problems only, 1 unreadable input.
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "promtool rejected the exposition ({}): {report}\n{text}",
        out.status
    );
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.contains("use base unit \"seconds\" instead of \"milliseconds\""),
            "promtool: {line}"
        );
    }
}
