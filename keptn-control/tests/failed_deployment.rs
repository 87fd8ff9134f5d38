//! A deployment whose rollout fails midway is rolled back by the deployer: the task is
//! `errored`, the sequence stops there (nothing later runs, no later stage starts; a blue/green
//! stage runs its rollback sequence), every triggered task is answered, and the version that
//! served before keeps serving.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{CARTS, FileDeployer, seed_plane_with};
use keptn_control::store::EventQuery;
use keptn_control::{ControlPlane, SequenceState};
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, ServiceStatus,
    StageService,
};
use keptn_spec::event::{EventType, KeptnContext, Phase, Status, Verdict};

const WAIT: Duration = Duration::from_secs(20);

/// A [`FileDeployer`] whose rollout of `failing` in `stage` starts (the new version is applied),
/// never becomes ready, and is undone: the previous serving version is applied again (direct)
/// or the canary discarded (blue/green).
#[derive(Debug, Clone)]
struct MidRolloutFailure {
    files: FileDeployer,
    stage: &'static str,
    failing: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl Deployer for MidRolloutFailure {
    fn name(&self) -> &str {
        "mid-rollout-failure"
    }
    async fn deploy(&self, request: &DeploymentRequest) -> keptn_deploy::Result<DeploymentResult> {
        let failing = self.failing.lock().unwrap().clone();
        let image = request.artifact.to_string();
        if request.target.stage.as_str() != self.stage || failing.as_deref() != Some(image.as_str())
        {
            return self.files.deploy(request).await;
        }
        let before = self.files.status(&request.target).await?;
        self.files.deploy(request).await?; // the rollout has begun
        match (request.strategy, before.serving_image()) {
            (DeploymentStrategy::BlueGreenService, _) => {
                self.files.rollback(&request.target).await?;
            }
            (_, Some(previous)) => {
                let restore = DeploymentRequest::new(
                    request.target.clone(),
                    Artifact::new(previous).unwrap(),
                    request.strategy,
                );
                self.files.deploy(&restore).await?;
            }
            (_, None) => {}
        }
        Err(keptn_deploy::Error::RolloutFailed {
            object: format!("{} {image}", request.target),
            reason: "the new version never became ready".into(),
            rolled_back: true,
        })
    }
    async fn promote(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.files.promote(target).await
    }
    async fn rollback(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.files.rollback(target).await
    }
    async fn status(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.files.status(target).await
    }
    async fn scale(&self, target: &StageService, n: u32) -> keptn_deploy::Result<ServiceStatus> {
        self.files.scale(target, n).await
    }
}

async fn deliver(plane: &ControlPlane, version: &str) -> KeptnContext {
    let ctx = plane
        .trigger_delivery(
            &"sockshop".parse().unwrap(),
            &"dev".parse().unwrap(),
            "delivery",
            &"carts".parse().unwrap(),
            &format!("{CARTS}:{version}"),
        )
        .await
        .unwrap();
    plane.wait(ctx, WAIT).await.unwrap();
    ctx
}

/// Every task `.triggered` of `ctx` has a `.finished` answer.
async fn assert_every_task_answered(plane: &ControlPlane, ctx: KeptnContext) {
    let events = plane
        .store()
        .events(&EventQuery::context(ctx))
        .await
        .unwrap();
    for triggered in events.iter().filter(|e| {
        matches!(
            &e.ty,
            EventType::Task {
                phase: Phase::Triggered,
                ..
            }
        )
    }) {
        assert!(
            events.iter().any(|e| matches!(
                &e.ty,
                EventType::Task {
                    phase: Phase::Finished,
                    ..
                }
            ) && e.triggeredid.as_ref() == Some(&triggered.id)),
            "{} has no answer",
            triggered.ty
        );
    }
}

async fn failed_rollout_in(stage: &'static str) {
    let files = FileDeployer::in_memory();
    let deployer = MidRolloutFailure {
        files: files.clone(),
        stage,
        failing: Arc::default(),
    };
    let plane = seed_plane_with(Arc::new(deployer.clone()), &files)
        .build()
        .await
        .unwrap();
    deliver(&plane, "0.11.1").await;
    *deployer.failing.lock().unwrap() = Some(format!("{CARTS}:0.11.3"));

    let ctx = deliver(&plane, "0.11.3").await;
    let out = plane.outcomes(ctx).await.unwrap();
    let failed = out
        .iter()
        .find(|o| o.stage.as_str() == stage && o.sequence == "delivery")
        .unwrap_or_else(|| panic!("no {stage} delivery: {out:#?}"));
    assert!(
        out.iter()
            .all(|o| o.stage.as_str() == stage || o.stage.as_str() == "dev"),
        "no later stage starts: {out:#?}"
    );
    // the shipyard's blue/green stages run their rollback sequence after a failed delivery
    let rollback = out.iter().find(|o| o.sequence == "rollback");
    if stage == "staging" {
        let rollback = rollback.expect("the staging rollback sequence");
        assert_eq!(rollback.status, Status::Succeeded, "{rollback:#?}");
    } else {
        assert!(rollback.is_none(), "{out:#?}");
    }
    assert_eq!(failed.state, SequenceState::Finished);
    assert_eq!(
        (failed.status, failed.result),
        (Status::Errored, Verdict::Fail),
        "{failed:#?}"
    );
    assert!(
        failed.message.contains("never became ready") && failed.message.contains("rolled back"),
        "{}",
        failed.message
    );
    assert_eq!(
        failed
            .tasks
            .iter()
            .map(|t| t.task.as_str())
            .collect::<Vec<_>>(),
        ["deployment"],
        "nothing runs after the failed deployment"
    );
    assert_eq!(
        files.serving(stage, "carts").as_deref(),
        Some(format!("{CARTS}:0.11.1").as_str()),
        "the version that served before keeps serving"
    );
    assert_eq!(files.canary(stage, "carts"), None);
    assert_eq!(
        files.serving("production", "carts").as_deref(),
        Some(format!("{CARTS}:0.11.1").as_str())
    );
    assert_every_task_answered(&plane, ctx).await;
}

/// dev deploys `direct`: the previous version is applied again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_direct_deployment_keeps_the_serving_version() {
    failed_rollout_in("dev").await;
}

/// staging deploys blue/green: the canary is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_blue_green_deployment_keeps_the_serving_version() {
    failed_rollout_in("staging").await;
}
