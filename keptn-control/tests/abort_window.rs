//! What an abort leaves running is acted on durably and honestly: a restart while an aborted
//! deployment still runs rolls its canary back once; an abort during `release` keeps the
//! release from promoting and rolls the canary back; a release that had already promoted is
//! reported as such, not undone behind the user's back.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{CARTS, FileDeployer, seed_plane, seed_plane_with};
use keptn_control::store::EventQuery;
use keptn_control::{ControlPlane, SequenceControl, SequenceOutcome, SequenceState, SqliteStore};
use keptn_deploy::{Deployer, DeploymentRequest, DeploymentResult, ServiceStatus, StageService};
use keptn_spec::event::{EventType, KeptnContext, Phase, Status, Task};
use tokio::sync::{Notify, Semaphore};

const WAIT: Duration = Duration::from_secs(20);

/// Where [`Held`] stops once.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// In `deploy`, before deploying.
    Deploy,
    /// In `status`, when the stage has a canary (the release reads it before promoting).
    StatusWithCanary,
    /// In `promote`, after promoting (before the release answers).
    AfterPromote,
}

/// A [`FileDeployer`] that stops once at `step` in `stage` until a permit is added.
#[derive(Debug, Clone)]
struct Held {
    files: FileDeployer,
    stage: &'static str,
    step: Step,
    armed: Arc<AtomicBool>,
    reached: Arc<Notify>,
    gate: Arc<Semaphore>,
}

impl Held {
    fn new(files: &FileDeployer, stage: &'static str, step: Step) -> Self {
        Self {
            files: files.clone(),
            stage,
            step,
            armed: Arc::new(AtomicBool::new(true)),
            reached: Arc::new(Notify::new()),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    async fn hold(&self, target: &StageService, step: Step) {
        if step == self.step
            && target.stage.as_str() == self.stage
            && self.armed.swap(false, Ordering::SeqCst)
        {
            self.reached.notify_one();
            self.gate.acquire().await.unwrap().forget();
        }
    }

    async fn reached(&self) {
        tokio::time::timeout(WAIT, self.reached.notified())
            .await
            .expect("the held step is reached");
    }
}

#[async_trait]
impl Deployer for Held {
    fn name(&self) -> &str {
        "held"
    }
    async fn deploy(&self, request: &DeploymentRequest) -> keptn_deploy::Result<DeploymentResult> {
        self.hold(&request.target, Step::Deploy).await;
        self.files.deploy(request).await
    }
    async fn promote(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        let status = self.files.promote(target).await;
        self.hold(target, Step::AfterPromote).await;
        status
    }
    async fn rollback(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        self.files.rollback(target).await
    }
    async fn status(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        let status = self.files.status(target).await?;
        if status.canary_image().is_some() {
            self.hold(target, Step::StatusWithCanary).await;
        }
        Ok(status)
    }
    async fn scale(&self, target: &StageService, n: u32) -> keptn_deploy::Result<ServiceStatus> {
        self.files.scale(target, n).await
    }
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

/// The number of `<task>.<phase>` events of `ctx`.
async fn count(plane: &ControlPlane, ctx: KeptnContext, task: Task, phase: Phase) -> usize {
    let query = EventQuery::context(ctx).of_type(EventType::task(task, phase));
    plane.store().events(&query).await.unwrap().len()
}

/// 0.11.1 serves in every stage of `files`, delivered by a plane on `store`.
async fn first_delivery(files: &FileDeployer, store: Option<Arc<SqliteStore>>) {
    let mut builder = seed_plane(files);
    if let Some(store) = store {
        builder = builder.store(store);
    }
    let plane = builder.build().await.unwrap();
    let ctx = deliver(&plane, "0.11.1").await;
    plane.wait(ctx, WAIT).await.unwrap();
}

async fn staging(plane: &ControlPlane, ctx: KeptnContext) -> SequenceOutcome {
    let out = plane.wait(ctx, WAIT).await.unwrap();
    out.into_iter()
        .find(|o| o.stage.as_str() == "staging")
        .expect("a staging sequence")
}

const V1: &str = "docker.io/keptnexamples/carts:0.11.1";
const V3: &str = "docker.io/keptnexamples/carts:0.11.3";

/// The process stops (its plane is dropped, the staging deployment never answers) after the
/// delivery was aborted while that deployment ran; a new plane on the same SQLite file asks
/// for the deployment again and rolls back the canary it leaves, once, also after one more
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_the_aborted_deployment_runs_still_rolls_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let files = FileDeployer::in_memory();
    first_delivery(&files, Some(Arc::new(SqliteStore::open(&path).unwrap()))).await;

    let held = Held::new(&files, "staging", Step::Deploy);
    let plane = seed_plane_with(Arc::new(held.clone()), &files)
        .store(Arc::new(SqliteStore::open(&path).unwrap()))
        .build()
        .await
        .unwrap();
    let ctx = deliver(&plane, "0.11.3").await;
    held.reached().await;
    plane
        .control(ctx, None, SequenceControl::Abort)
        .await
        .unwrap();
    drop(plane); // killed: the held deployment never answers

    let plane = seed_plane(&files)
        .store(Arc::new(SqliteStore::open(&path).unwrap()))
        .build()
        .await
        .unwrap();
    plane
        .wait_answered(ctx, &[Task::Deployment, Task::Rollback], WAIT)
        .await
        .unwrap();
    assert_eq!(
        count(&plane, ctx, Task::Rollback, Phase::Triggered).await,
        1
    );
    assert_eq!(count(&plane, ctx, Task::Rollback, Phase::Finished).await, 1);
    assert_eq!(files.canary("staging", "carts"), None, "canary rolled back");
    assert_eq!(files.serving("staging", "carts").as_deref(), Some(V1));
    let out = staging(&plane, ctx).await;
    assert_eq!(out.state, SequenceState::Aborted);
    let tasks: Vec<&str> = out.tasks.iter().map(|t| t.task.as_str()).collect();
    assert_eq!(
        tasks,
        ["deployment", "rollback"],
        "what the abort left, recorded"
    );
    assert_eq!(out.serving.as_deref(), Some(V1));
    drop(plane);

    let plane = seed_plane(&files)
        .store(Arc::new(SqliteStore::open(&path).unwrap()))
        .build()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(&plane, ctx, Task::Rollback, Phase::Triggered).await,
        1
    );
    assert_eq!(
        count(&plane, ctx, Task::Deployment, Phase::Finished).await,
        2,
        "dev and staging answered once each"
    );
    let deployed_v3 = files
        .deployments()
        .iter()
        .filter(|d| d.contains(V3))
        .count();
    assert_eq!(
        deployed_v3, 2,
        "0.11.3 deployed once in dev and once in staging"
    );
}

/// Aborted while the staging release is about to promote: it does not promote, answers
/// `aborted`, and the canary is rolled back — 0.11.1 keeps serving (an abort means back to
/// the stable version, as in Argo Rollouts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_during_the_release_keeps_the_stable_version() {
    let files = FileDeployer::in_memory();
    first_delivery(&files, None).await;
    let held = Held::new(&files, "staging", Step::StatusWithCanary);
    let plane = seed_plane_with(Arc::new(held.clone()), &files)
        .build()
        .await
        .unwrap();
    let ctx = deliver(&plane, "0.11.3").await;
    held.reached().await;
    let running = plane.open_triggered(&Task::Release).await.unwrap();
    assert_eq!(running.len(), 1, "held in the release");
    plane
        .control(ctx, None, SequenceControl::Abort)
        .await
        .unwrap();
    held.gate.add_permits(1);
    plane
        .wait_answered(ctx, &[Task::Release, Task::Rollback], WAIT)
        .await
        .unwrap();
    assert_eq!(files.canary("staging", "carts"), None, "canary rolled back");
    assert_eq!(files.serving("staging", "carts").as_deref(), Some(V1));
    assert_eq!(count(&plane, ctx, Task::Rollback, Phase::Finished).await, 1);
    let out = staging(&plane, ctx).await;
    assert_eq!(out.state, SequenceState::Aborted);
    let release = out
        .task("release")
        .expect("the release's answer is recorded");
    assert_eq!(release.status, Status::Aborted);
    assert!(
        release.message.contains("not released"),
        "{}",
        release.message
    );
    assert_eq!(out.serving.as_deref(), Some(V1));
    assert_eq!(
        files.serving("production", "carts").as_deref(),
        Some(V1),
        "nothing after the abort ran"
    );
}

/// Aborted after the release promoted (before it answered): the promotion stands, nothing is
/// rolled back behind it, and the sequence says what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_after_the_promotion_says_so() {
    let files = FileDeployer::in_memory();
    first_delivery(&files, None).await;
    let held = Held::new(&files, "staging", Step::AfterPromote);
    let plane = seed_plane_with(Arc::new(held.clone()), &files)
        .build()
        .await
        .unwrap();
    let ctx = deliver(&plane, "0.11.3").await;
    held.reached().await;
    plane
        .control(ctx, None, SequenceControl::Abort)
        .await
        .unwrap();
    held.gate.add_permits(1);
    plane
        .wait_answered(ctx, &[Task::Release, Task::Rollback], WAIT)
        .await
        .unwrap();
    assert_eq!(
        count(&plane, ctx, Task::Rollback, Phase::Triggered).await,
        0
    );
    assert_eq!(files.serving("staging", "carts").as_deref(), Some(V3));
    let out = staging(&plane, ctx).await;
    assert_eq!(out.state, SequenceState::Aborted);
    assert!(
        out.message.contains("after the release had promoted") && out.message.contains("0.11.3"),
        "{}",
        out.message
    );
    assert_eq!(out.serving.as_deref(), Some(V3));
}
