//! The SLI provider against the real Prometheus 2.x (and small local servers for auth and
//! timeouts).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keptn_prometheus::{Auth, PrometheusClient, PrometheusSliProvider};
use keptn_slo::SliProvider;
use keptn_spec::SliValue;
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

use crate::support::{ERROR_SHARE, RPS, Target, prometheus, query, serve};

fn provider(url: &str) -> PrometheusSliProvider {
    PrometheusSliProvider::new(PrometheusClient::builder(url).build().unwrap())
}

fn by_name(values: &[SliValue]) -> BTreeMap<&str, &SliValue> {
    values.iter().map(|v| (v.metric.as_str(), v)).collect()
}

#[track_caller]
fn ok(values: &BTreeMap<&str, &SliValue>, sli: &str) -> f64 {
    let v = values[sli];
    assert!(v.success, "{sli}: {v:?}");
    v.value
}

#[track_caller]
fn failed(values: &BTreeMap<&str, &SliValue>, sli: &str, want: &str) {
    let v = values[sli];
    assert!(!v.success, "{sli} should fail: {v:?}");
    let msg = v.message.as_deref().unwrap_or_default();
    assert!(msg.contains(want), "{sli}: `{msg}` lacks `{want}`");
}

/// Keptn's five default queries against known series: throughput = 100/s, error rate = 5 %,
/// p50/p90/p95 of the known histogram within the bucket error (p95 lies in the 200–400 ms
/// bucket; linear interpolation gives 325 ms).
#[tokio::test]
async fn default_queries_measure_the_known_series() {
    let Some(prom) = prometheus("default_queries_measure_the_known_series") else {
        return;
    };
    let _target = Target::start(&prom, "carts-sockshop-staging-canary", 10).await;
    let q = query(&keptn_prometheus::DEFAULT_SLIS, 5).with_deployment("canary");
    let values = provider(&prom.url).fetch_slis(&q).await.unwrap();
    assert_eq!(values.len(), 5);
    let v = by_name(&values);
    let throughput = ok(&v, "throughput");
    // the slope of the counters, up to the scrape's timing jitter
    assert!(
        (throughput - RPS).abs() < 0.03 * RPS,
        "throughput {throughput}"
    );
    let error_rate = ok(&v, "error_rate");
    assert!(
        (error_rate - ERROR_SHARE).abs() < 1e-9,
        "error_rate {error_rate}"
    );
    let p50 = ok(&v, "response_time_p50");
    let p90 = ok(&v, "response_time_p90");
    let p95 = ok(&v, "response_time_p95");
    assert!((p50 - 50.0).abs() < 1.0, "p50 {p50}");
    assert!((p90 - 200.0).abs() < 1.0, "p90 {p90}");
    assert!(
        (200.0..=400.0).contains(&p95),
        "p95 {p95} outside its bucket"
    );
    assert!((p95 - 325.0).abs() < 1.0, "p95 {p95}");
}

/// Every placeholder reaches Prometheus filled in; the job comes from the deployment.
#[tokio::test]
async fn placeholders_are_filled() {
    let Some(prom) = prometheus("placeholders_are_filled") else {
        return;
    };
    let _target = Target::start(&prom, "carts-sockshop-staging-primary", 10).await;
    let config = SliConfig::from_yaml_str(
        r#"spec_version: '1.0'
indicators:
  by_job: sum(rate(http_requests_total{job="$SERVICE-$PROJECT-$STAGE-$DEPLOYMENT",status="$STATUS"}[$DURATION_SECONDS]))
  by_label: keptn_test_info{job="carts-sockshop-staging-primary",region="$LABEL.region",zone="a"}
  filter: vector($status)
  window: count_over_time(up{job="carts-sockshop-staging-primary"}[$DURATION_SECONDS]) > 0
"#,
    )
    .unwrap();
    let q = query(&["by_job", "by_label", "filter", "window", "throughput"], 5)
        .with_deployment("primary")
        .with_labels(BTreeMap::from([("region".to_owned(), "eu".to_owned())]))
        .with_custom_filters(BTreeMap::from([("status".to_owned(), "'500'".to_owned())]));
    let values = provider(&prom.url)
        .with_sli_config(config)
        .fetch_slis(&q)
        .await
        .unwrap();
    let v = by_name(&values);
    let errors = ok(&v, "by_job");
    assert!(
        (errors - RPS * ERROR_SHARE).abs() < 0.03 * RPS * ERROR_SHARE,
        "{errors}"
    );
    assert_eq!(ok(&v, "by_label"), 42.0);
    assert_eq!(ok(&v, "filter"), 500.0);
    assert!(ok(&v, "window") >= 2.0);
    // a default query with a custom filter `status: 500` selects only the failing requests
    let t = ok(&v, "throughput");
    assert!((t - errors).abs() < 1e-9, "{t} != {errors}");
}

/// Empty vectors, several series, NaN and PromQL errors are failed values with a clear message,
/// each on its own SLI; the others still succeed.
#[tokio::test]
async fn per_indicator_failures() {
    let Some(prom) = prometheus("per_indicator_failures") else {
        return;
    };
    let _target = Target::start(&prom, "keptn-failures", 5).await;
    let config = SliConfig::from_yaml_str(
        r#"spec_version: '1.0'
indicators:
  good: keptn_test_info{job="keptn-failures"}
  empty: keptn_test_info{job="no-such-job"}
  several: keptn_test_pair{job="keptn-failures"}
  nan: vector(0)/vector(0)
  syntax: sum(rate(http_requests_total[5m]
  range: up{job="keptn-failures"}[1m]
"#,
    )
    .unwrap();
    let q = query(
        &["good", "empty", "several", "nan", "syntax", "range", "cpu"],
        30,
    );
    let values = provider(&prom.url)
        .with_sli_config(config)
        .fetch_slis(&q)
        .await
        .unwrap();
    let v = by_name(&values);
    assert_eq!(ok(&v, "good"), 42.0);
    failed(&v, "empty", "empty vector");
    failed(&v, "several", "returned 2 series");
    failed(&v, "nan", "returned NaN");
    failed(&v, "syntax", "(bad_data)");
    failed(&v, "syntax", "parse error");
    failed(&v, "range", "returned a matrix");
    failed(&v, "cpu", "unsupported SLI cpu");
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    expected: String,
}

/// A small authenticating proxy in front of the real Prometheus: 401 unless the
/// `Authorization` header is exactly the expected one.
async fn proxy(
    State(p): State<Proxy>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> (StatusCode, String) {
    let given = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if given != p.expected {
        return (StatusCode::UNAUTHORIZED, "Unauthorized\n".to_owned());
    }
    let url = format!("{}/api/v1/query?{}", p.upstream, q.unwrap_or_default());
    let resp = reqwest::get(&url).await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    (status, resp.text().await.unwrap())
}

/// Bearer and basic credentials reach the server; wrong ones fail the whole fetch with a
/// message that names the status but never the secret.
#[tokio::test]
async fn bearer_and_basic_auth() {
    let Some(prom) = prometheus("bearer_and_basic_auth") else {
        return;
    };
    for (auth, expected, wrong) in [
        (
            Auth::Bearer(SecretString::from("t0ken-S3CRET")),
            "Bearer t0ken-S3CRET",
            Auth::Bearer(SecretString::from("wrong-S3CRET")),
        ),
        (
            Auth::Basic {
                user: "keptn".to_owned(),
                password: SecretString::from("pa55-S3CRET"),
            },
            "Basic a2VwdG46cGE1NS1TM0NSRVQ=",
            Auth::Basic {
                user: "keptn".to_owned(),
                password: SecretString::from("other-S3CRET"),
            },
        ),
    ] {
        let router = Router::new()
            .route("/api/v1/query", get(proxy))
            .with_state(Proxy {
                upstream: prom.url.clone(),
                expected: expected.to_owned(),
            });
        let url = serve(router).await;
        let q = query(&["one"], 60);
        let config = SliConfig::from_yaml_str("indicators:\n  one: vector(1)\n").unwrap();
        let good =
            PrometheusSliProvider::new(PrometheusClient::builder(&url).auth(auth).build().unwrap())
                .with_sli_config(config.clone());
        let values = good.fetch_slis(&q).await.unwrap();
        assert_eq!(values, [SliValue::ok("one", 1.0)]);
        let bad = PrometheusSliProvider::new(
            PrometheusClient::builder(&url).auth(wrong).build().unwrap(),
        )
        .with_sli_config(config);
        let err = bad.fetch_slis(&q).await.unwrap_err();
        assert!(err.message.contains("answered 401"), "{err}");
        assert!(!err.transient);
        assert!(!err.to_string().contains("S3CRET"), "{err}");
        assert!(!format!("{bad:?}").contains("S3CRET"));
    }
}

/// A server that never answers in time: each attempt times out, the fetch ends within the total
/// timeout with "unreachable … timed out" instead of hanging.
#[tokio::test]
async fn slow_server_times_out() {
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "{}"
    }
    let url = serve(Router::new().route("/api/v1/query", get(slow))).await;
    let client = PrometheusClient::builder(&url)
        .timeout(Duration::from_millis(200))
        .total_timeout(Duration::from_secs(1))
        .retry(keptn_prometheus::RetryPolicy::new(
            2,
            Duration::from_millis(50),
            Duration::from_millis(50),
        ))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = PrometheusSliProvider::new(client)
        .fetch_slis(&query(&["throughput", "error_rate"], 60))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.transient);
    assert!(err.message.contains("unreachable"), "{err}");
    assert!(err.message.contains("timed out"), "{err}");
}
