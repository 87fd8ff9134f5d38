//! `Retry-After` on `429`/`503`: a local server that asks the client to come back later (a real
//! Prometheus cannot be made to answer so on demand).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keptn_prometheus::{Error, PrometheusClient, QueryResult};

use crate::support::serve;

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"42"]}]}}"#;

/// A query endpoint answering the first `refusals` requests with `status` and
/// `Retry-After: retry_after`, then a one-sample vector; it records when each request came.
async fn busy_server(
    refusals: usize,
    status: StatusCode,
    retry_after: String,
) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = move || {
        let (log, retry_after) = (log.clone(), retry_after.clone());
        async move {
            let mut log = log.lock().unwrap();
            log.push(Instant::now());
            let mut headers = HeaderMap::new();
            if log.len() <= refusals {
                headers.insert("retry-after", retry_after.parse().unwrap());
                (status, headers, "busy".to_owned())
            } else {
                (StatusCode::OK, headers, VECTOR.to_owned())
            }
        }
    };
    let url = serve(Router::new().route("/api/v1/query", get(handler))).await;
    (url, seen)
}

/// A `429` with `Retry-After: 2` is retried after two seconds, not after the policy's
/// backoff (at most 250 ms for the first retry), and then succeeds.
#[tokio::test]
async fn retry_after_of_a_429_is_honoured() {
    let (url, seen) = busy_server(1, StatusCode::TOO_MANY_REQUESTS, "2".to_owned()).await;
    let client = PrometheusClient::builder(url).build().unwrap();
    let result = client.query("up", chrono::Utc::now()).await.unwrap();
    assert!(matches!(result, QueryResult::Vector(v) if v.len() == 1 && v[0].value == 42.0));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let waited = seen[1] - seen[0];
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}, Retry-After said 2 s"
    );
}

/// A `503` whose `Retry-After` (an HTTP date) lies beyond the client's total timeout is not
/// waited for: the call fails at once with the `503`, after one attempt.
#[tokio::test]
async fn retry_after_beyond_the_deadline_gives_up_at_once() {
    let later = (chrono::Utc::now() + chrono::TimeDelta::seconds(60)).to_rfc2822();
    let (url, seen) = busy_server(10, StatusCode::SERVICE_UNAVAILABLE, later).await;
    let client = PrometheusClient::builder(url)
        .total_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.query("up", chrono::Utc::now()).await.unwrap_err();
    assert!(matches!(err, Error::Status { status: 503, .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
