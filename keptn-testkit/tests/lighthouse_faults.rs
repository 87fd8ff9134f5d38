//! Property: **a gate never passes on missing or failed data**, through `keptn-control`'s
//! lighthouse: the `get-sli` executor asks Prometheus (a [`FaultServer`]), the lighthouse scores
//! its answer; every fault fails the evaluation sequence, within its bounds.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keptn_control::executors::{Lighthouse, SLO_URI, SliProviderExecutor};
use keptn_control::{ControlPlane, ResourceScope};
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Verdict};
use keptn_testkit::{Fault, FaultServer, Reply};
use support::{BOUND, LATENCY_QUERY, SLO, healthy_answer, healthy_prometheus, vector};

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: staging
      sequences:
        - name: evaluation
          tasks:
            - name: evaluation
";

fn evaluation_event() -> KeptnEvent {
    let ty =
        EventType::sequence("staging".parse().unwrap(), "evaluation", Phase::Triggered).unwrap();
    let data = serde_json::json!({"project": "sockshop", "stage": "staging", "service": "carts",
                                  "evaluation": {"timeframe": "5m"}});
    KeptnEvent::new(ty, "cli", KeptnContext::new_random(), &data)
}

/// Runs one evaluation sequence against the Prometheus at `url`: its verdict and duration.
async fn lighthouse_verdict(url: &str) -> (Verdict, String, Duration) {
    let plane = ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SHIPYARD)
        .executor(Lighthouse::new("prometheus").sli_timeout(Duration::from_secs(4)))
        .executor(SliProviderExecutor::new(Arc::new(
            support::prometheus_provider(url),
        )))
        .build()
        .await
        .unwrap();
    let service = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    plane.put_resource(&service, SLO_URI, SLO).await.unwrap();
    let started = Instant::now();
    let ctx = plane.send(evaluation_event()).await.unwrap();
    let out = plane.wait(ctx, Duration::from_secs(10)).await.unwrap();
    (out[0].result, format!("{:#?}", out[0]), started.elapsed())
}

async fn lighthouse_fails_with(fault: Fault) {
    let server = FaultServer::start().await;
    healthy_prometheus(&server);
    let (verdict, outcome, _) = lighthouse_verdict(&server.url()).await;
    assert_eq!(verdict, Verdict::Pass, "the healthy control run: {outcome}");
    server.route("/api/v1/query", fault.clone());
    let (verdict, outcome, took) = lighthouse_verdict(&server.url()).await;
    assert_eq!(verdict, Verdict::Fail, "{fault:?}: {outcome}");
    assert!(took < BOUND, "{fault:?} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_answers_500() {
    lighthouse_fails_with(Fault::Reply(Reply::status(500))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_answers_429_with_retry_after() {
    lighthouse_fails_with(Fault::Reply(Reply::status(429).retry_after(1))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_answers_garbage() {
    lighthouse_fails_with(Fault::Reply(Reply::json(200, "]]not json"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_hangs_after_the_headers() {
    lighthouse_fails_with(Fault::HangAfterHeaders).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_times_out() {
    lighthouse_fails_with(Fault::Delay(
        Duration::from_secs(5),
        Reply::json(200, vector(Some(0.01))),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_never_passes_when_prometheus_answers_half_the_indicators() {
    let server = FaultServer::start().await;
    server.route_with("/api/v1/query", |r| {
        if r.param("query").as_deref() == Some(LATENCY_QUERY) {
            Fault::Reply(Reply::json(200, vector(None)))
        } else {
            healthy_answer(r)
        }
    });
    let (verdict, outcome, _) = lighthouse_verdict(&server.url()).await;
    assert_eq!(verdict, Verdict::Fail, "{outcome}");
}
