//! A deployment whose result never reached the store (the process was killed after the
//! deployer returned) is not deployed again when its task is repeated: the executor asks the
//! deployer what it left.

mod common;

use std::sync::Arc;

use common::{CARTS, FileDeployer};
use keptn_control::executors::{DEPLOYMENT_RESULT_URI, DeploymentExecutor};
use keptn_control::{
    ApprovalDesk, ExecutorContext, InProcessBus, MemoryStore, ResourceScope, Store, TaskExecutor,
};
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Payload, Phase, Task};
use serde_json::json;

/// A context over a fresh store holding the project `sockshop`.
async fn context() -> (ExecutorContext, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store
        .put_project(&"sockshop".parse().unwrap(), "stages: []")
        .await
        .unwrap();
    let cx = ExecutorContext::new(
        Arc::new(InProcessBus::new()),
        store.clone(),
        ApprovalDesk::new(),
    );
    (cx, store)
}

fn staging_deployment(version: &str) -> KeptnEvent {
    let data = json!({
        "project": "sockshop", "stage": "staging", "service": "carts",
        "configurationChange": {"values": {"image": format!("{CARTS}:{version}")}},
        "deployment": {"deploymentstrategy": "blue_green_service"},
    });
    KeptnEvent::new(
        EventType::task(Task::Deployment, Phase::Triggered),
        "shipyard-controller",
        KeptnContext::new_random(),
        &data,
    )
}

fn uris(payload: &Payload) -> (Vec<String>, Vec<String>) {
    let Payload::DeploymentFinished(data) = payload else {
        panic!("not a deployment answer: {payload:?}");
    };
    let details = data.deployment.clone().expect("deployment details");
    (details.deployment_names, details.deployment_uris_local)
}

/// 0.11.1 serves in staging; 0.11.3 is deployed as canary, and the task is repeated on a
/// store its result never reached: the deployer is asked, nothing is deployed twice, the
/// answer has the same names and URIs, and the result is kept now.
#[tokio::test]
async fn a_lost_result_is_asked_for_not_deployed_again() {
    let files = FileDeployer::in_memory();
    let executor = DeploymentExecutor::new(Arc::new(files.clone()));
    let (cx, _) = context().await;
    let first = executor.execute(&staging_deployment("0.11.1"), &cx).await;
    uris(&first);

    let triggered = staging_deployment("0.11.3");
    let answered = executor.execute(&triggered, &cx).await;
    assert_eq!(
        files.canary("staging", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.3")
    );
    let (lost, store) = context().await; // killed before the result was kept
    let repeated = executor.execute(&triggered, &lost).await;

    let deployed: Vec<String> = files
        .deployments()
        .into_iter()
        .filter(|d| d.ends_with(":0.11.3"))
        .collect();
    assert_eq!(deployed.len(), 1, "deployed once: {deployed:?}");
    assert_eq!(uris(&repeated), uris(&answered));
    let scope = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let kept = store.resource(&scope, DEPLOYMENT_RESULT_URI).await.unwrap();
    assert!(kept.is_some_and(|k| k.contains("0.11.3")), "kept now");
}
