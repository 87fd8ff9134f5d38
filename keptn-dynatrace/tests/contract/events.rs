//! Event forwarding against the fake tenant (Environment API v1 events, v2 ingest).

use keptn_dynatrace::EventForwarder;
use keptn_spec::event::KeptnEvent;
use serde_json::json;

use crate::conformance::assert_documented;
use crate::support::{client, tenant};

fn event(ty: &str, data: serde_json::Value) -> KeptnEvent {
    let mut v = json!({
        "specversion": "1.0", "id": "6de83495-4f83-481c-8dbe-fcceb2e0243b", "source": "lighthouse-service",
        "type": ty, "shkeptncontext": "3e2ec4a4-6cd6-4c5c-a3bd-2cd3c7a9b4a2"
    });
    v["data"] = data;
    KeptnEvent::from_json_str(&v.to_string()).unwrap()
}

/// An evaluation result becomes a CUSTOM_INFO with Keptn's title, description, properties
/// and tag attach rules, on v1 and on v2.
#[tokio::test]
async fn evaluation_finished_is_a_quality_gate_info() {
    let t = tenant().await;
    let f =
        EventForwarder::new(client(&t.uri())).with_bridge_url("https://bridge.keptn.example.com");
    let e = event(
        "sh.keptn.event.evaluation.finished",
        json!({"project": "sockshop", "stage": "staging", "service": "carts", "result": "pass", "status": "succeeded",
               "labels": {"buildnr": "17"},
               "evaluation": {"score": 95.5, "timeStart": "2024-03-01T10:00:00Z", "timeEnd": "2024-03-01T10:10:00Z",
                              "indicatorResults": [{}, {}, {}]}}),
    );
    assert_eq!(f.forward_v1(&e).await.unwrap(), 1);
    assert_eq!(f.forward_v2(&e).await.unwrap(), 1);
    let v1 = &t.events_v1()[0];
    assert_eq!(v1["eventType"], "CUSTOM_INFO");
    assert_eq!(v1["source"], "Keptn dynatrace-service");
    assert_eq!(v1["title"], "Quality Gate Result: pass (95.5/100)");
    assert_eq!(v1["description"], "Keptn evaluation status: pass");
    assert_eq!(v1["customProperties"]["Quality Gate Score"], "95.5");
    assert_eq!(v1["customProperties"]["No of evaluated SLIs"], "3");
    assert_eq!(v1["customProperties"]["buildnr"], "17");
    assert_eq!(
        v1["customProperties"]["KeptnContext"],
        "3e2ec4a4-6cd6-4c5c-a3bd-2cd3c7a9b4a2"
    );
    assert_eq!(
        v1["customProperties"]["Keptns Bridge"],
        "https://bridge.keptn.example.com/trace/3e2ec4a4-6cd6-4c5c-a3bd-2cd3c7a9b4a2"
    );
    assert_eq!(
        v1["attachRules"],
        json!({"tagRule": [{"meTypes": ["SERVICE"], "tags": [
            {"context": "CONTEXTLESS", "key": "keptn_project", "value": "sockshop"},
            {"context": "CONTEXTLESS", "key": "keptn_stage", "value": "staging"},
            {"context": "CONTEXTLESS", "key": "keptn_service", "value": "carts"}]}]})
    );
    let v2 = &t.events_v2()[0];
    assert_eq!(v2["eventType"], "CUSTOM_INFO");
    assert_eq!(v2["title"], "Quality Gate Result: pass (95.5/100)");
    assert_eq!(
        v2["entitySelector"],
        "type(SERVICE),tag(keptn_project:sockshop),tag(keptn_stage:staging),tag(keptn_service:carts)"
    );
    assert_documented(&t.requests());
}

/// A generation-1 deployment-finished becomes a CUSTOM_DEPLOYMENT plus a "Start Tests"
/// annotation; tests-finished a "Stop Tests" annotation.
#[tokio::test]
async fn deployment_and_tests() {
    let t = tenant().await;
    let f = EventForwarder::new(client(&t.uri()));
    let deployed = event(
        "sh.keptn.events.deployment-finished",
        json!({"project": "sockshop", "stage": "staging", "service": "carts", "teststrategy": "performance",
               "deploymentstrategy": "blue_green_service", "tag": "0.11.1", "image": "docker.io/keptnexamples/carts:0.11.1",
               "deploymentURILocal": "http://carts-canary.sockshop-staging"}),
    );
    assert_eq!(f.forward_v1(&deployed).await.unwrap(), 2);
    let ev = t.events_v1();
    assert_eq!(ev[0]["eventType"], "CUSTOM_DEPLOYMENT");
    assert_eq!(
        ev[0]["deploymentName"],
        "Deploy carts 0.11.1 with strategy blue_green_service"
    );
    assert_eq!(ev[0]["deploymentVersion"], "0.11.1");
    assert_eq!(ev[0]["deploymentProject"], "sockshop");
    assert_eq!(
        ev[0]["customProperties"]["Image"],
        "docker.io/keptnexamples/carts:0.11.1"
    );
    assert_eq!(
        ev[0]["customProperties"]["deploymentURILocal"],
        "http://carts-canary.sockshop-staging"
    );
    assert_eq!(ev[1]["eventType"], "CUSTOM_ANNOTATION");
    assert_eq!(ev[1]["annotationType"], "Start Tests: performance");
    let tested = event(
        "sh.keptn.events.tests-finished",
        json!({"project": "sockshop", "stage": "staging", "service": "carts", "teststrategy": "performance",
               "start": "2024-03-01T10:00:00Z", "end": "2024-03-01T10:10:00Z", "result": "pass"}),
    );
    assert_eq!(f.forward_v2(&tested).await.unwrap(), 1);
    assert_eq!(t.events_v2()[0]["title"], "Stop Tests: performance");
    assert_documented(&t.requests());
}

/// Remediation results are forwarded; events without project/stage/service, or of types
/// Keptn did not forward, send nothing.
#[tokio::test]
async fn remediation_and_ignored_events() {
    let t = tenant().await;
    let f = EventForwarder::new(client(&t.uri()));
    let done = event(
        "sh.keptn.event.remediation.finished",
        json!({"project": "sockshop", "stage": "production", "service": "carts", "result": "pass", "status": "succeeded",
               "message": "feature toggle EnablePromotion set to off"}),
    );
    assert_eq!(f.forward_v1(&done).await.unwrap(), 1);
    assert_eq!(t.events_v1()[0]["title"], "Remediation action successful");
    let started = event(
        "sh.keptn.event.deployment.started",
        json!({"project": "sockshop", "stage": "dev", "service": "carts"}),
    );
    assert_eq!(f.forward_v1(&started).await.unwrap(), 0);
    let no_scope = event(
        "sh.keptn.event.evaluation.finished",
        json!({"result": "pass"}),
    );
    assert_eq!(f.forward_v1(&no_scope).await.unwrap(), 0);
    assert_eq!(t.events_v1().len(), 1);
}
