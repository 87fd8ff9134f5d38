//! Aborting a sequence whose blue/green deployment left a canary rolls the canary back through
//! the deployer; a direct deployment is left as it is.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{CARTS, FileDeployer, PassingTests, SEED_SHIPYARD, seed_plane};
use keptn_control::executors::{
    DeploymentExecutor, Lighthouse, ReleaseExecutor, RollbackExecutor, TestExecutor,
};
use keptn_control::store::EventQuery;
use keptn_control::{ControlPlane, SequenceControl, SequenceState};
use keptn_deploy::{
    Deployer, DeploymentRequest, DeploymentResult, Progress, ServiceStatus, StageService,
    TestReport, TestRequest, TestRunner,
};
use keptn_spec::event::{EventType, KeptnContext, Phase, Task};
use tokio::sync::{Notify, Semaphore};

const WAIT: Duration = Duration::from_secs(20);

/// Holds whatever runs in `stage` until a permit is added; says when it got there.
#[derive(Debug, Clone)]
struct Hold {
    stage: &'static str,
    reached: Arc<Notify>,
    gate: Arc<Semaphore>,
}

impl Hold {
    fn new(stage: &'static str) -> Self {
        Self {
            stage,
            reached: Arc::new(Notify::new()),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    async fn pass(&self, target: &StageService) {
        if target.stage.as_str() == self.stage {
            self.reached.notify_one();
            self.gate.acquire().await.unwrap().forget();
        }
    }
}

/// Tests that pass, after the hold.
#[derive(Debug, Clone)]
struct HeldTests(Hold);

#[async_trait]
impl TestRunner for HeldTests {
    fn name(&self) -> &str {
        "held"
    }

    async fn run(
        &self,
        request: &TestRequest,
        progress: &Progress,
    ) -> keptn_deploy::Result<TestReport> {
        self.0.pass(&request.target).await;
        PassingTests.run(request, progress).await
    }
}

/// A [`FileDeployer`] whose deployments wait for the hold.
#[derive(Debug, Clone)]
struct HeldDeployer(FileDeployer, Hold);

#[async_trait]
impl Deployer for HeldDeployer {
    fn name(&self) -> &str {
        "held"
    }
    async fn deploy(&self, request: &DeploymentRequest) -> keptn_deploy::Result<DeploymentResult> {
        self.1.pass(&request.target).await;
        self.0.deploy(request).await
    }
    async fn promote(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.0.promote(target).await
    }
    async fn rollback(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.0.rollback(target).await
    }
    async fn status(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.0.status(target).await
    }
    async fn scale(&self, target: &StageService, n: u32) -> keptn_deploy::Result<ServiceStatus> {
        self.0.scale(target, n).await
    }
}

fn plane_with(deployer: Arc<dyn Deployer>, tests: HeldTests) -> keptn_control::ControlPlaneBuilder {
    ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SEED_SHIPYARD)
        .executor(DeploymentExecutor::new(deployer.clone()))
        .executor(TestExecutor::new(Arc::new(tests)))
        .executor(ReleaseExecutor::new(deployer.clone()))
        .executor(RollbackExecutor::new(deployer))
        .executor(Lighthouse::new("measured"))
}

async fn deliver(plane: &ControlPlane, version: &str) -> KeptnContext {
    plane
        .trigger_delivery(
            &"sockshop".parse().unwrap(),
            &"dev".parse().unwrap(),
            "delivery",
            &"carts".parse().unwrap(),
            &format!("{CARTS}:{version}"),
        )
        .await
        .unwrap()
}

/// The number of `rollback.<phase>` events of `ctx`.
async fn rollbacks(plane: &ControlPlane, ctx: KeptnContext, phase: Phase) -> usize {
    let query = EventQuery::context(ctx).of_type(EventType::task(Task::Rollback, phase));
    plane.store().events(&query).await.unwrap().len()
}

/// 0.11.1 serves everywhere; then 0.11.3's staging tests are held and the delivery aborted:
/// the staging canary (0.11.3) is rolled back, 0.11.1 keeps serving; dev (direct) keeps 0.11.3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_rolls_back_the_pending_canary() {
    let deployer = FileDeployer::in_memory();
    let first = seed_plane(&deployer).build().await.unwrap();
    let ctx = deliver(&first, "0.11.1").await;
    first.wait(ctx, WAIT).await.unwrap();
    drop(first);
    assert_eq!(
        deployer.serving("staging", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );

    let hold = Hold::new("staging");
    let plane = plane_with(Arc::new(deployer.clone()), HeldTests(hold.clone()))
        .build()
        .await
        .unwrap();
    let ctx = deliver(&plane, "0.11.3").await;
    tokio::time::timeout(WAIT, hold.reached.notified())
        .await
        .expect("the staging tests start");
    assert_eq!(
        deployer.canary("staging", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.3"),
        "the staging deployment left a canary"
    );
    assert!(plane.abort_and_settle(ctx, WAIT).await.unwrap());
    hold.gate.add_permits(1);

    assert_eq!(
        deployer.canary("staging", "carts"),
        None,
        "canary rolled back"
    );
    assert_eq!(
        deployer.serving("staging", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(
        deployer.serving("dev", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.3"),
        "a direct deployment is not undone"
    );
    assert_eq!(rollbacks(&plane, ctx, Phase::Triggered).await, 1);
    assert_eq!(rollbacks(&plane, ctx, Phase::Finished).await, 1);
    let out = plane.wait(ctx, WAIT).await.unwrap();
    let staging = out.iter().find(|o| o.stage.as_str() == "staging").unwrap();
    assert_eq!(staging.state, SequenceState::Aborted);
    assert!(
        !plane.abort_and_settle(ctx, WAIT).await.unwrap(),
        "nothing is left to abort"
    );
}

/// Aborted while the staging deployment still runs: the canary it leaves when it finishes is
/// rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_during_the_deployment_rolls_back_what_it_leaves() {
    let files = FileDeployer::in_memory();
    let first = seed_plane(&files).build().await.unwrap();
    let ctx = deliver(&first, "0.11.1").await;
    first.wait(ctx, WAIT).await.unwrap();
    drop(first);

    let hold = Hold::new("staging");
    let deployer = HeldDeployer(files.clone(), hold.clone());
    let plane = plane_with(Arc::new(deployer), HeldTests(Hold::new("none")))
        .build()
        .await
        .unwrap();
    let ctx = deliver(&plane, "0.11.3").await;
    tokio::time::timeout(WAIT, hold.reached.notified())
        .await
        .expect("the staging deployment starts");
    plane
        .control(ctx, None, SequenceControl::Abort)
        .await
        .unwrap();
    assert_eq!(rollbacks(&plane, ctx, Phase::Triggered).await, 0);
    hold.gate.add_permits(1); // the deployment finishes after the abort, leaving a canary
    plane
        .wait_answered(ctx, &[Task::Deployment, Task::Rollback], WAIT)
        .await
        .unwrap();
    assert_eq!(rollbacks(&plane, ctx, Phase::Finished).await, 1);
    assert_eq!(files.canary("staging", "carts"), None, "canary rolled back");
    assert_eq!(
        files.serving("staging", "carts").as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
}
