//! The built-in HTTP test runner against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use keptn_deploy::runner::{HttpCheck, HttpTestRunner, Workload};
use keptn_deploy::{Progress, StageService, TestOutcome, TestRequest, TestRunner, TestStrategy};

/// Starts the sample service on a free loopback port: `/health`, `/carts` (Version: v3),
/// `/slow` (50 ms), `/fail` (500), and `/flaky` (every third request fails).
async fn server() -> String {
    let flaky = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/carts", get(|| async { "Version: v3" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                "slow"
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/flaky",
            get(move || {
                let n = flaky.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n % 3 == 2 {
                        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                    } else {
                        (StatusCode::OK, "fine")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn request(strategy: TestStrategy, uri: String) -> TestRequest {
    TestRequest::new(
        StageService::new(
            "sockshop".parse().unwrap(),
            "dev".parse().unwrap(),
            "carts".parse().unwrap(),
        ),
        strategy,
        vec![uri],
    )
}

/// A functional run passes when statuses and body fragments match, with one latency per request.
#[tokio::test]
async fn functional_checks_pass() {
    let uri = server().await;
    let runner = HttpTestRunner::new()
        .health_check(vec![HttpCheck::get("/health").expect_status(200)])
        .workload(
            TestStrategy::Functional,
            Workload::functional(vec![
                HttpCheck::get("/carts").expect_body("Version: v3"),
                HttpCheck::get("/slow"),
            ]),
        );
    let r = runner
        .run(&request(TestStrategy::Functional, uri), &Progress::none())
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Pass, "{r:?}");
    assert_eq!((r.requests, r.errors), (3, 0));
    assert_eq!(r.latencies.len(), 3);
    assert!(
        r.latencies.iter().any(|l| *l >= Duration::from_millis(50)),
        "the slow request is recorded"
    );
    assert!(r.start <= r.end);
}

/// Any failed functional check fails the run and says which one and why.
#[tokio::test]
async fn functional_failure_names_the_check() {
    let uri = server().await;
    let runner = HttpTestRunner::new().workload(
        TestStrategy::Functional,
        Workload::functional(vec![
            HttpCheck::get("/carts").expect_body("Version: v2"),
            HttpCheck::get("/fail"),
        ]),
    );
    let r = runner
        .run(
            &request(TestStrategy::Functional, uri.clone()),
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Fail);
    assert_eq!(r.errors, 2);
    assert_eq!(
        r.failures[0],
        format!("GET {uri}/carts: body does not contain `Version: v2`")
    );
    assert_eq!(
        r.failures[1],
        format!("GET {uri}/fail: status 500, expected 2xx")
    );
    assert_eq!(
        r.message,
        "2 of 2 requests failed (100.0 % > accepted 0.0 %)"
    );
}

/// A failing health check stops the run before the load.
#[tokio::test]
async fn failing_health_check_skips_the_load() {
    let uri = server().await;
    let runner = HttpTestRunner::new()
        .health_check(vec![HttpCheck::get("/fail")])
        .workload(
            TestStrategy::Performance,
            Workload::performance(vec![HttpCheck::get("/health")]),
        );
    let r = runner
        .run(&request(TestStrategy::Performance, uri), &Progress::none())
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Fail);
    assert_eq!(r.requests, 1);
    assert_eq!(r.message, "health check failed: 1 of 1 requests failed");
}

/// Load with several users records every request and error; the error-rate threshold decides.
#[tokio::test]
async fn performance_load_counts_every_request_and_error() {
    let uri = server().await;
    let done = Arc::new(AtomicU64::new(0));
    let seen = done.clone();
    let progress = Progress::new(move |p| {
        seen.store(p.done, Ordering::SeqCst);
    });
    let workload = Workload::performance(vec![HttpCheck::get("/flaky")])
        .users(3)
        .iterations(10)
        .think_time(Duration::from_millis(1));
    let runner = HttpTestRunner::new().workload(
        TestStrategy::Performance,
        workload.clone().accepted_error_rate(0.5),
    );
    let r = runner
        .run(&request(TestStrategy::Performance, uri.clone()), &progress)
        .await
        .unwrap();
    assert_eq!(r.requests, 30);
    assert_eq!(r.errors, 10, "every third request of /flaky fails");
    assert_eq!(r.latencies.len(), 30);
    assert_eq!(r.outcome, TestOutcome::Pass);
    assert_eq!(
        done.load(Ordering::SeqCst),
        30,
        "progress reports the last request"
    );

    let strict = HttpTestRunner::new()
        .workload(TestStrategy::Performance, workload.accepted_error_rate(0.1));
    let r = strict
        .run(&request(TestStrategy::Performance, uri), &Progress::none())
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Fail);
}

/// A duration-based load stops at its deadline and a rate cap bounds the request count.
#[tokio::test]
async fn duration_and_rate_bound_the_load() {
    let uri = server().await;
    let workload = Workload::performance(vec![HttpCheck::get("/health")])
        .users(4)
        .duration(Duration::from_millis(500))
        .think_time(Duration::ZERO)
        .rate(20.0);
    let runner = HttpTestRunner::new().workload(TestStrategy::Performance, workload);
    let r = runner
        .run(&request(TestStrategy::Performance, uri), &Progress::none())
        .await
        .unwrap();
    // 20/s for 0.5 s: the first slot is immediate, so at most 11 (plus one per user in flight)
    assert!((5..=15).contains(&r.requests), "requests = {}", r.requests);
    assert_eq!(r.errors, 0);
}

/// An unreachable service is a failed test (errors counted), not a runner error.
#[tokio::test]
async fn unreachable_service_fails_the_test() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let runner = HttpTestRunner::new().workload(
        TestStrategy::Functional,
        Workload::functional(vec![HttpCheck::get("/health")]),
    );
    let r = runner
        .run(&request(TestStrategy::Functional, uri), &Progress::none())
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Fail);
    assert!(
        r.failures[0].contains("connection failed"),
        "{:?}",
        r.failures
    );
}

/// Unknown strategies and missing URIs are errors; skipped strategies pass without requests.
#[tokio::test]
async fn configuration_errors_and_skips() {
    let runner = HttpTestRunner::new().skip(TestStrategy::Other("real-user".into()));
    let err = runner
        .run(
            &request(TestStrategy::Performance, "http://x".into()),
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "test run failed to execute: no workload configured for test strategy `performance`"
    );
    let r = runner
        .run(
            &request(TestStrategy::Other("real-user".into()), "http://x".into()),
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!((r.outcome, r.requests), (TestOutcome::Pass, 0));
    let mut req = request(TestStrategy::Performance, String::new());
    req.uris.clear();
    let runner = runner.workload(TestStrategy::Performance, Workload::performance(vec![]));
    assert!(
        runner
            .run(&req, &Progress::none())
            .await
            .unwrap_err()
            .to_string()
            .contains("no deployment URI")
    );
}

/// The observer sees every request with its status, latency and verdict, including the health
/// check, and nothing when the service cannot be reached but a transport error (`status: None`).
#[tokio::test]
async fn observer_sees_every_request() {
    use std::sync::Mutex;
    let uri = server().await;
    type Seen = Vec<(String, Option<u16>, bool, Duration)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    let runner = HttpTestRunner::new()
        .health_check(vec![HttpCheck::get("/health")])
        .workload(
            TestStrategy::Functional,
            Workload::functional(vec![
                HttpCheck::get("/slow"),
                HttpCheck::get("/fail"),
                HttpCheck::get("/carts").expect_body("Version: v9"),
            ])
            .accepted_error_rate(1.0),
        )
        .observer(move |s| {
            assert_eq!(s.target.stage.as_str(), "dev");
            log.lock()
                .unwrap()
                .push((s.base.to_owned(), s.status, s.passed, s.latency));
        });
    let r = runner
        .run(
            &request(TestStrategy::Functional, uri.clone()),
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(r.requests, 4);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|(base, ..)| *base == uri));
    let statuses: Vec<_> = seen.iter().map(|(_, s, p, _)| (*s, *p)).collect();
    assert!(statuses.contains(&(Some(200), true)), "{statuses:?}");
    assert!(statuses.contains(&(Some(500), false)), "{statuses:?}");
    // status fine, body check failed
    assert_eq!(
        statuses
            .iter()
            .filter(|(s, p)| *s == Some(200) && !*p)
            .count(),
        1
    );
    assert!(seen.iter().any(|(.., l)| *l >= Duration::from_millis(50)));

    // nothing listens on port 9 of loopback: no status, not passed
    let dead: Arc<Mutex<Vec<Option<u16>>>> = Arc::default();
    let log = dead.clone();
    let runner = HttpTestRunner::new()
        .workload(
            TestStrategy::Functional,
            Workload::functional(vec![HttpCheck::get("/health")]),
        )
        .observer(move |s| log.lock().unwrap().push(s.status));
    let r = runner
        .run(
            &request(TestStrategy::Functional, "http://127.0.0.1:9".into()),
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, TestOutcome::Fail);
    assert_eq!(*dead.lock().unwrap(), vec![None]);
}
