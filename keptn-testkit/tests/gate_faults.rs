//! Property: **a gate never passes on missing or failed data.**
//!
//! Prometheus' client against a [`FaultServer`], Dynatrace's against the fake tenant (and the
//! fault server for what the fake cannot do), each through `keptn-slo`'s [`QualityGate`]: every
//! fault fails the gate. Each test first shows the same gate passing on a healthy answer, so a
//! test cannot pass because nothing would ever pass. The lighthouse path (through
//! `keptn-control`) is in `lighthouse_faults.rs`.

mod support;

use std::time::{Duration, Instant};

use keptn_dynatrace::testing::FakeTenant;
use keptn_spec::Verdict;
use keptn_testkit::{Fault, FaultServer, Reply};
use support::{
    BOUND, LATENCY_QUERY, dynatrace_gate, dynatrace_tenant_provider, gate_verdict,
    healthy_prometheus, prometheus_gate, vector,
};

/// Runs the Prometheus gate against `server` after `setup`: passes while healthy, fails after.
async fn prometheus_fails_with(fault: Fault) {
    let server = FaultServer::start().await;
    healthy_prometheus(&server);
    let (verdict, messages, _) = gate_verdict(&prometheus_gate(&server.url())).await;
    assert_eq!(
        verdict,
        Verdict::Pass,
        "the healthy control run: {messages:?}"
    );

    server.route("/api/v1/query", fault.clone());
    let (verdict, messages, took) = gate_verdict(&prometheus_gate(&server.url())).await;
    assert_eq!(verdict, Verdict::Fail, "{fault:?}: {messages:?}");
    assert!(
        messages.iter().any(|m| !m.is_empty()),
        "a failed indicator says why: {messages:?}"
    );
    assert!(took < BOUND, "{fault:?} took {took:?}");
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_500() {
    prometheus_fails_with(Fault::Reply(Reply::json(
        500,
        r#"{"status":"error","errorType":"internal","error":"injected"}"#,
    )))
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_429_without_retry_after() {
    prometheus_fails_with(Fault::Reply(Reply::status(429))).await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_429_with_retry_after() {
    let server = FaultServer::start().await;
    server.route(
        "/api/v1/query",
        Fault::Reply(Reply::status(429).retry_after(1)),
    );
    let started = Instant::now();
    let (verdict, messages, _) = gate_verdict(&prometheus_gate(&server.url())).await;
    assert_eq!(verdict, Verdict::Fail, "{messages:?}");
    // the one-second Retry-After was waited for before the second attempt
    assert!(server.hits("/api/v1/query") >= 3, "{:?}", server.requests());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < BOUND);
}

#[tokio::test]
async fn gate_passes_after_a_429_with_retry_after_only_once_the_data_arrives() {
    let server = FaultServer::start().await;
    let first = std::sync::atomic::AtomicBool::new(true);
    server.route_with("/api/v1/query", move |r| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Fault::Reply(Reply::status(429).retry_after(1))
        } else {
            support::healthy_answer(r)
        }
    });
    let (verdict, messages, _) = gate_verdict(&prometheus_gate(&server.url())).await;
    assert_eq!(verdict, Verdict::Pass, "{messages:?}");
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_garbage_json() {
    prometheus_fails_with(Fault::Reply(Reply::json(
        200,
        "{\"status\":\"succ\u{0}ess\",[[[",
    )))
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_bytes_that_are_not_http() {
    prometheus_fails_with(Fault::Garbage(
        b"\x00\xffSSH-2.0-garbage\r\n\r\n\x1b[2J".to_vec(),
    ))
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_closes_the_connection() {
    prometheus_fails_with(Fault::Close).await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_answers_half_the_indicators() {
    let server = FaultServer::start().await;
    healthy_prometheus(&server);
    // the latency query answers with no series; the error rate stays healthy
    server.route_with("/api/v1/query", |r| {
        if r.param("query").as_deref() == Some(LATENCY_QUERY) {
            Fault::Reply(Reply::json(200, vector(None)))
        } else {
            support::healthy_answer(r)
        }
    });
    let (verdict, messages, _) = gate_verdict(&prometheus_gate(&server.url())).await;
    assert_eq!(verdict, Verdict::Fail, "{messages:?}");
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_times_out() {
    prometheus_fails_with(Fault::Delay(
        Duration::from_secs(5),
        Reply::json(200, vector(Some(0.01))),
    ))
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_prometheus_hangs_after_the_headers() {
    prometheus_fails_with(Fault::HangAfterHeaders).await;
}

// --- Dynatrace: the fake tenant (its `fail_next`, latency, missing series) ----------------

/// The Dynatrace gate on a fake tenant: passes while healthy, then fails after `fault`.
async fn dynatrace_fails_with(fault: impl FnOnce(&FakeTenant)) {
    let tenant = support::healthy_tenant().await;
    let (verdict, messages, _) =
        gate_verdict(&dynatrace_gate(dynatrace_tenant_provider(&tenant))).await;
    assert_eq!(
        verdict,
        Verdict::Pass,
        "the healthy control run: {messages:?}"
    );
    fault(&tenant);
    let (verdict, messages, took) =
        gate_verdict(&dynatrace_gate(dynatrace_tenant_provider(&tenant))).await;
    assert_eq!(verdict, Verdict::Fail, "{messages:?}");
    assert!(took < BOUND, "took {took:?}");
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_answers_500() {
    dynatrace_fails_with(|t| {
        for _ in 0..8 {
            t.fail_next(500, None);
        }
    })
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_answers_429_without_retry_after() {
    dynatrace_fails_with(|t| {
        for _ in 0..8 {
            t.fail_next(429, None);
        }
    })
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_answers_429_with_retry_after() {
    dynatrace_fails_with(|t| {
        for _ in 0..8 {
            t.fail_next(429, Some(1));
        }
    })
    .await;
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_answers_half_the_indicators() {
    dynatrace_fails_with(|t| t.set_value(support::DT_LATENCY, None)).await;
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_times_out() {
    dynatrace_fails_with(|t| t.set_latency(Duration::from_secs(5))).await;
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_answers_garbage() {
    let server = FaultServer::start().await;
    server.route(
        "/api/v2/metrics/query",
        Fault::Reply(Reply::json(200, "<html>proxy error")),
    );
    let (verdict, messages, took) =
        gate_verdict(&dynatrace_gate(support::dynatrace_provider(&server.url()))).await;
    assert_eq!(verdict, Verdict::Fail, "{messages:?}");
    assert!(took < BOUND);
}

#[tokio::test]
async fn gate_never_passes_when_dynatrace_hangs_after_the_headers() {
    let server = FaultServer::start().await;
    server.route("/api/v2/metrics/query", Fault::HangAfterHeaders);
    let (verdict, messages, took) =
        gate_verdict(&dynatrace_gate(support::dynatrace_provider(&server.url()))).await;
    assert_eq!(verdict, Verdict::Fail, "{messages:?}");
    assert!(took < BOUND, "took {took:?}");
}
