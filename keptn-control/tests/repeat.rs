//! A repeated deployment task (the same `.triggered` id, as a restarted control plane re-sends
//! it) answers as the first time: the same deployment names and URIs, without deploying again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CARTS, FileDeployer, seed_plane};
use keptn_control::executors::DeploymentExecutor;
use keptn_control::store::EventQuery;
use keptn_control::{ApprovalDesk, ExecutorContext, TaskExecutor};
use keptn_spec::event::{
    DeploymentFinishedData, EventType, KeptnEvent, Payload, Phase, Status, Task, Verdict,
};

const WAIT: Duration = Duration::from_secs(20);

async fn dev_event(plane: &keptn_control::ControlPlane, phase: Phase) -> KeptnEvent {
    let query = EventQuery::all().of_type(EventType::task(Task::Deployment, phase));
    plane
        .store()
        .events(&query)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.data["stage"] == "dev")
        .expect("a dev deployment event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_deployment_reports_the_same_uris() {
    let deployer = FileDeployer::in_memory();
    let plane = seed_plane(&deployer).build().await.unwrap();
    let ctx = plane
        .trigger_delivery(
            &"sockshop".parse().unwrap(),
            &"dev".parse().unwrap(),
            "delivery",
            &"carts".parse().unwrap(),
            &format!("{CARTS}:0.11.1"),
        )
        .await
        .unwrap();
    plane.wait(ctx, WAIT).await.unwrap();
    let triggered = dev_event(&plane, Phase::Triggered).await;
    let first: DeploymentFinishedData = dev_event(&plane, Phase::Finished).await.data_as().unwrap();
    let first = first.deployment.unwrap();
    assert!(!first.deployment_uris_local.is_empty(), "{first:?}");
    let deployed = deployer.deployments().len();

    let executor = DeploymentExecutor::new(Arc::new(deployer.clone()));
    let cx = ExecutorContext::new(
        plane.bus().clone(),
        plane.store().clone(),
        ApprovalDesk::new(),
    );
    let Payload::DeploymentFinished(again) = executor.execute(&triggered, &cx).await else {
        panic!("not a deployment answer");
    };
    assert_eq!(
        (again.common.status, again.common.result),
        (Some(Status::Succeeded), Some(Verdict::Pass)),
        "{:?}",
        again.common.message
    );
    assert!(
        again
            .common
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("already deployed"),
        "{:?}",
        again.common.message
    );
    assert_eq!(again.deployment.as_ref(), Some(&first));
    assert_eq!(deployer.deployments().len(), deployed, "not deployed again");
}
