//! `deployment`, `test`, `release` and `rollback` executed by keptn-deploy's [`Deployer`] and
//! [`TestRunner`].

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, Progress,
    StageService, TestOutcome, TestRequest, TestRunner, TestStrategy,
};
use keptn_spec::ServiceName;
use keptn_spec::event::{
    DeploymentDetails, DeploymentFinishedData, DeploymentTriggeredData, EventData, KeptnEvent,
    Payload, ReleaseDetails, ReleaseFinishedData, ReleaseTriggeredData, Status, Task, TestDetails,
    TestFinishedData, TestTriggeredData, Verdict,
};
use serde_json::Value;

use super::answer::{common, errored};
use crate::ResourceScope;
use crate::executor::{ExecutorContext, TaskExecutor};

/// The `source` of the deployment, release and rollback answers.
pub const DEPLOY_SOURCE: &str = "keptn-deploy";

fn target_of(data: &EventData) -> Result<StageService, Box<Payload>> {
    match (&data.project, &data.stage, &data.service) {
        (Some(p), Some(st), Some(sv)) => Ok(StageService::new(p.clone(), st.clone(), sv.clone())),
        _ => Err(Box::new(errored(
            "the task has no project, stage and service",
        ))),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn outcome(status: Status, result: Verdict, message: impl Into<String>) -> EventData {
    let mut data = EventData::default();
    data.status = Some(status);
    data.result = Some(result);
    data.message = Some(message.into());
    data
}

/// The service resource where [`DeploymentExecutor`] keeps what its last deployment of a
/// service in a stage reported (JSON of [`DeploymentResult`]), as Keptn's helm-service kept its
/// generated chart beside the service's files.
pub const DEPLOYMENT_RESULT_URI: &str = "deployment/result.json";

/// Executes `deployment` with a [`Deployer`]: the image from `configurationChange.values.image`,
/// the strategy from the task's `deploymentstrategy` (or a per-service override, as
/// `keptn onboard service --deployment-strategy` gave).
///
/// Each deployment's result is kept in the store ([`DEPLOYMENT_RESULT_URI`]) before the task is
/// answered, so a repeated task (the same `.triggered` id after a restart) whose version is
/// already deployed answers with the same deployment names and URIs without deploying again.
/// When the store has no result of a version that runs (the process was killed between
/// deploying and keeping the result, or another control plane deployed it), the deployer is
/// asked what it left ([`Deployer::deployed`]); only a deployer that cannot tell deploys again.
#[derive(Debug, Clone)]
pub struct DeploymentExecutor {
    deployer: Arc<dyn Deployer>,
    overrides: BTreeMap<ServiceName, DeploymentStrategy>,
}

impl DeploymentExecutor {
    /// Deploys with `deployer`.
    pub fn new(deployer: Arc<dyn Deployer>) -> Self {
        Self {
            deployer,
            overrides: BTreeMap::new(),
        }
    }

    /// Deploys `service` with `strategy` whatever its shipyard task says.
    #[must_use]
    pub fn with_strategy_override(
        mut self,
        service: ServiceName,
        strategy: DeploymentStrategy,
    ) -> Self {
        self.overrides.insert(service, strategy);
        self
    }
}

#[async_trait]
impl TaskExecutor for DeploymentExecutor {
    fn task(&self) -> Task {
        Task::Deployment
    }

    fn source(&self) -> &str {
        DEPLOY_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload {
        let data: DeploymentTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the deployment request: {e}")),
        };
        let target = match target_of(&data.common) {
            Ok(t) => t,
            Err(p) => return *p,
        };
        let strategy = match self.overrides.get(&target.service) {
            Some(s) => *s,
            None => match data
                .deployment
                .as_ref()
                .and_then(|d| d.deploymentstrategy.as_deref())
            {
                None | Some("") => DeploymentStrategy::Direct,
                Some(s) => match s.parse() {
                    Ok(s) => s,
                    Err(e) => return errored(format!("deployment strategy: {e}")),
                },
            },
        };
        let values = data
            .configuration_change
            .map(|c| c.values)
            .unwrap_or_default();
        let Some(image) = values.get("image").and_then(Value::as_str) else {
            return errored("no image in configurationChange.values.image");
        };
        let image = image.to_owned();
        let image = image.as_str();
        let artifact = match Artifact::new(image) {
            Ok(a) => a,
            Err(e) => return errored(e.to_string()),
        };
        let already = match self.deployer.status(&target).await {
            Ok(status) => match strategy {
                DeploymentStrategy::BlueGreenService => status.canary_image() == Some(image),
                _ => status.serving_image() == Some(image) && status.canary_image().is_none(),
            },
            Err(_) => false,
        };
        let scope = ResourceScope::service(
            target.project.clone(),
            target.stage.clone(),
            target.service.clone(),
        );
        let request = DeploymentRequest::new(target, artifact, strategy)
            .with_values(values.into_iter().collect())
            .with_labels(data.common.labels.clone());
        let kept = if already {
            self.recover(cx, &scope, &request).await
        } else {
            None
        };
        let (result, message) = match kept {
            Some(result) => {
                let message = format!("{image} is already deployed ({strategy})");
                (result, message)
            }
            None => {
                let result = match self.deployer.deploy(&request).await {
                    Ok(result) => result,
                    Err(e) => return errored(chain(&e)),
                };
                if let Err(e) = keep_result(cx, &scope, &result).await {
                    tracing::warn!(%image, "the deployment result is not kept: {e}");
                }
                let message = format!("deployed {} ({strategy})", result.image);
                (result, message)
            }
        };
        let mut details = DeploymentDetails::default();
        details.deploymentstrategy = Some(strategy.as_str().to_owned());
        details.deployment_names = result.deployment_names;
        details.deployment_uris_local = result.uris_local;
        details.deployment_uris_public = result.uris_public;
        let mut finished = DeploymentFinishedData::default();
        finished.common = outcome(Status::Succeeded, Verdict::Pass, message);
        finished.deployment = Some(details);
        Payload::DeploymentFinished(finished)
    }
}

impl DeploymentExecutor {
    /// The result of the deployment of `request`, whose version already runs: the one kept in
    /// the store, else what the deployer says it left (a crash between deploying and keeping
    /// the result), which is then kept. `None` when neither knows: deploy again.
    async fn recover(
        &self,
        cx: &ExecutorContext,
        scope: &ResourceScope,
        request: &DeploymentRequest,
    ) -> Option<DeploymentResult> {
        let image = request.artifact.image();
        let fits = |r: &DeploymentResult| r.image == image && r.strategy == request.strategy;
        if let Some(kept) = kept_result(cx, scope).await.filter(fits) {
            return Some(kept);
        }
        let running = match self.deployer.deployed(request).await {
            Ok(running) => running.filter(fits)?,
            Err(e) => {
                tracing::warn!(%image, "cannot ask the deployer what runs: {e}");
                return None;
            }
        };
        if let Err(e) = keep_result(cx, scope, &running).await {
            tracing::warn!(%image, "the deployment result is not kept: {e}");
        }
        Some(running)
    }
}

/// The result the last deployment of `scope` kept, if it is readable.
async fn kept_result(cx: &ExecutorContext, scope: &ResourceScope) -> Option<DeploymentResult> {
    let text = cx
        .store()
        .resource(scope, DEPLOYMENT_RESULT_URI)
        .await
        .ok()??;
    serde_json::from_str(&text).ok()
}

/// Keeps `result` as the last deployment of `scope`.
async fn keep_result(
    cx: &ExecutorContext,
    scope: &ResourceScope,
    result: &DeploymentResult,
) -> crate::Result<()> {
    let text = serde_json::to_string(result)
        .map_err(|e| crate::Error::Invalid(format!("deployment result: {e}")))?;
    cx.store()
        .put_resource(scope, DEPLOYMENT_RESULT_URI, &text)
        .await
}

/// Executes `test` with a [`TestRunner`] against the deployment's URIs; a task without
/// `teststrategy` passes at once (Keptn's test services skipped it).
#[derive(Debug, Clone)]
pub struct TestExecutor {
    runner: Arc<dyn TestRunner>,
}

impl TestExecutor {
    /// Tests with `runner`.
    pub fn new(runner: Arc<dyn TestRunner>) -> Self {
        Self { runner }
    }
}

#[async_trait]
impl TaskExecutor for TestExecutor {
    fn task(&self) -> Task {
        Task::Test
    }

    fn source(&self) -> &str {
        "keptn-test"
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let data: TestTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the test request: {e}")),
        };
        let target = match target_of(&data.common) {
            Ok(t) => t,
            Err(p) => return *p,
        };
        let strategy = data
            .test
            .as_ref()
            .and_then(|t| t.teststrategy.as_deref())
            .and_then(TestStrategy::from_wire);
        let mut finished = TestFinishedData::default();
        let mut details = TestDetails::default();
        let Some(strategy) = strategy else {
            let now = Utc::now();
            details.start = Some(now);
            details.end = Some(now);
            finished.test = Some(details);
            finished.common = outcome(Status::Succeeded, Verdict::Pass, "no tests configured");
            return Payload::TestFinished(finished);
        };
        let deployment = data.deployment.unwrap_or_default();
        let mut uris = deployment.deployment_uris_local;
        if uris.is_empty() {
            uris = deployment.deployment_uris_public;
        }
        details.teststrategy = Some(strategy.as_str().to_owned());
        let request = TestRequest::new(target, strategy, uris);
        match self.runner.run(&request, &Progress::none()).await {
            Ok(report) => {
                details.start = Some(report.start);
                details.end = Some(report.end);
                let result = match report.outcome {
                    TestOutcome::Pass => Verdict::Pass,
                    TestOutcome::Fail => Verdict::Fail,
                };
                finished.test = Some(details);
                finished.common = outcome(Status::Succeeded, result, report.message);
                Payload::TestFinished(finished)
            }
            Err(e) => errored(chain(&e)),
        }
    }
}

fn released(serving: Option<&str>, message: String) -> Payload {
    let mut details = ReleaseDetails::default();
    if let Some(image) = serving {
        details
            .extra
            .insert("serving".to_owned(), Value::String(image.to_owned()));
    }
    let mut finished = ReleaseFinishedData::default();
    finished.common = outcome(Status::Succeeded, Verdict::Pass, message);
    finished.release = Some(details);
    Payload::ReleaseFinished(finished)
}

/// Executes `release`: promotes the blue/green canary (nothing to do for `direct`). A repeated
/// release whose canary was already promoted reports the serving version. A release whose
/// sequence was aborted before it promotes does not promote: it answers `aborted`, and the
/// control plane rolls the canary back (an abort means back to the stable version).
#[derive(Debug, Clone)]
pub struct ReleaseExecutor {
    deployer: Arc<dyn Deployer>,
}

impl ReleaseExecutor {
    /// Releases with `deployer`.
    pub fn new(deployer: Arc<dyn Deployer>) -> Self {
        Self { deployer }
    }
}

#[async_trait]
impl TaskExecutor for ReleaseExecutor {
    fn task(&self) -> Task {
        Task::Release
    }

    fn source(&self) -> &str {
        DEPLOY_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload {
        let data: ReleaseTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the release request: {e}")),
        };
        if data.common.result == Some(Verdict::Fail) {
            return common(
                Status::Succeeded,
                Verdict::Fail,
                "not released: the sequence failed",
            );
        }
        let target = match target_of(&data.common) {
            Ok(t) => t,
            Err(p) => return *p,
        };
        let status = match self.deployer.status(&target).await {
            Ok(s) => s,
            Err(e) => return errored(chain(&e)),
        };
        if status.canary_image().is_none() {
            let serving = status.serving_image().map(str::to_owned);
            let message = format!(
                "{} serves; nothing to promote",
                serving.as_deref().unwrap_or("nothing")
            );
            return released(serving.as_deref(), message);
        }
        match cx.aborted(triggered).await {
            Ok(false) => {}
            Ok(true) => {
                return common(
                    Status::Aborted,
                    Verdict::Fail,
                    "not released: the sequence was aborted, the canary is rolled back",
                );
            }
            Err(e) => {
                return errored(format!(
                    "not released: cannot tell whether the sequence was aborted: {e}"
                ));
            }
        }
        match self.deployer.promote(&target).await {
            Ok(status) => {
                let serving = status.serving_image().map(str::to_owned);
                let message = format!("released {}", serving.as_deref().unwrap_or("nothing"));
                released(serving.as_deref(), message)
            }
            Err(e) => errored(chain(&e)),
        }
    }
}

/// Executes `rollback`: discards the blue/green canary, so the previous version keeps serving.
/// A repeated rollback with no canary left reports the serving version.
#[derive(Debug, Clone)]
pub struct RollbackExecutor {
    deployer: Arc<dyn Deployer>,
}

impl RollbackExecutor {
    /// Rolls back with `deployer`.
    pub fn new(deployer: Arc<dyn Deployer>) -> Self {
        Self { deployer }
    }
}

#[async_trait]
impl TaskExecutor for RollbackExecutor {
    fn task(&self) -> Task {
        Task::Rollback
    }

    fn source(&self) -> &str {
        DEPLOY_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let data: EventData = triggered.common().unwrap_or_default();
        let target = match target_of(&data) {
            Ok(t) => t,
            Err(p) => return *p,
        };
        let status = match self.deployer.status(&target).await {
            Ok(s) => s,
            Err(e) => return errored(chain(&e)),
        };
        let status = if status.canary_image().is_some() {
            match self.deployer.rollback(&target).await {
                Ok(s) => s,
                Err(e) => return errored(chain(&e)),
            }
        } else {
            status
        };
        let serving = status.serving_image().map(str::to_owned);
        let message = format!(
            "rolled back; {} serves",
            serving.as_deref().unwrap_or("nothing")
        );
        released(serving.as_deref(), message)
    }
}
