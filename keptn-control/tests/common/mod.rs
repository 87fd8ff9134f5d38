//! Shared test doubles: a deployer that keeps its state in a file (so a restarted process sees
//! what the killed one deployed), an SLI provider that measures the deployed version, and a
//! test runner that passes.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use keptn_control::executors::{
    DeploymentExecutor, Lighthouse, ReleaseExecutor, RollbackExecutor, SliProviderExecutor,
    TestExecutor,
};
use keptn_control::{ControlPlaneBuilder, ResourceScope};
use keptn_deploy::{
    Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, Progress, RunningVersion,
    ServiceStatus, StageService, TestOutcome, TestReport, TestRequest, TestRunner,
};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::SliValue;
use serde::{Deserialize, Serialize};

/// The tour's shipyard (Keptn 0.6 form), converted to 0.2 when parsed.
pub const SEED_SHIPYARD: &str = "stages:
  - name: dev
    deployment_strategy: direct
    test_strategy: functional
  - name: staging
    deployment_strategy: blue_green_service
    test_strategy: performance
  - name: production
    deployment_strategy: blue_green_service
";

/// The tour's quality gate for staging/carts.
pub const SEED_SLO: &str = "spec_version: '0.1.1'
comparison:
  aggregate_function: avg
  compare_with: single_result
  include_result_with_score: pass
  number_of_comparison_results: 1
objectives:
  - sli: response_time_p95
    pass:
      - criteria: ['<=+10%', '<600']
    warning:
      - criteria: ['<=800']
total_score:
  pass: '90%'
  warning: '75%'
";

pub const CARTS: &str = "docker.io/keptnexamples/carts";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    slots: BTreeMap<String, Slot>,
    deployments: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Slot {
    serving: Option<String>,
    canary: Option<String>,
}

/// A [`Deployer`] whose state lives in memory and, with a path, in a JSON file; every real
/// deployment is recorded in the same state (one atomic file write).
#[derive(Debug, Clone, Default)]
pub struct FileDeployer {
    path: Option<PathBuf>,
    state: Arc<Mutex<State>>,
}

impl FileDeployer {
    pub fn in_memory() -> Self {
        Self::default()
    }

    pub fn at(path: PathBuf) -> Self {
        let state = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        Self {
            path: Some(path),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Writes the whole state (slots and deployment list) atomically.
    fn save(&self, state: &State) {
        if let Some(path) = &self.path {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_string(state).unwrap()).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
    }

    /// Every deployment ever made: `stage/service image`.
    pub fn deployments(&self) -> Vec<String> {
        self.state.lock().unwrap().deployments.clone()
    }

    pub fn serving(&self, stage: &str, service: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .slots
            .get(&format!("{stage}/{service}"))
            .and_then(|s| s.serving.clone())
    }

    pub fn canary(&self, stage: &str, service: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .slots
            .get(&format!("{stage}/{service}"))
            .and_then(|s| s.canary.clone())
    }

    fn status_of(target: &StageService, slot: &Slot) -> ServiceStatus {
        let mut status = ServiceStatus::absent(target.clone());
        status.serving = slot
            .serving
            .as_ref()
            .map(|i| RunningVersion::new("primary", i, 1, 1));
        status.canary = slot
            .canary
            .as_ref()
            .map(|i| RunningVersion::new("canary", i, 1, 1));
        status
    }
}

/// What [`FileDeployer`] returns for a deployment of `request`.
fn result_of(request: &DeploymentRequest) -> DeploymentResult {
    DeploymentResult::new(
        request.strategy,
        vec![request.strategy.deployment_name().to_owned()],
        request.artifact.to_string(),
    )
    .with_uris_local(vec![format!("http://{}.local", request.target.service)])
}

fn key(target: &StageService) -> String {
    format!("{}/{}", target.stage, target.service)
}

#[async_trait]
impl Deployer for FileDeployer {
    fn name(&self) -> &str {
        "file"
    }

    async fn deploy(&self, request: &DeploymentRequest) -> keptn_deploy::Result<DeploymentResult> {
        let image = request.artifact.to_string();
        let mut state = self.state.lock().unwrap();
        state
            .deployments
            .push(format!("{} {image}", key(&request.target)));
        let slot = state.slots.entry(key(&request.target)).or_default();
        match request.strategy {
            DeploymentStrategy::BlueGreenService if slot.serving.is_some() => {
                slot.canary = Some(image.clone());
            }
            _ => {
                slot.serving = Some(image.clone());
                slot.canary = None;
            }
        }
        self.save(&state);
        Ok(result_of(request))
    }

    async fn deployed(
        &self,
        request: &DeploymentRequest,
    ) -> keptn_deploy::Result<Option<DeploymentResult>> {
        let image = request.artifact.to_string();
        let state = self.state.lock().unwrap();
        let Some(slot) = state.slots.get(&key(&request.target)) else {
            return Ok(None);
        };
        let runs = match request.strategy {
            DeploymentStrategy::BlueGreenService => slot.canary.as_ref() == Some(&image),
            _ => slot.serving.as_ref() == Some(&image) && slot.canary.is_none(),
        };
        Ok(runs.then(|| result_of(request)))
    }

    async fn promote(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        let mut state = self.state.lock().unwrap();
        let slot = state.slots.entry(key(target)).or_default();
        if let Some(canary) = slot.canary.take() {
            slot.serving = Some(canary);
        }
        let status = Self::status_of(target, slot);
        self.save(&state);
        Ok(status)
    }

    async fn rollback(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        let mut state = self.state.lock().unwrap();
        let slot = state.slots.entry(key(target)).or_default();
        slot.canary = None;
        let status = Self::status_of(target, slot);
        self.save(&state);
        Ok(status)
    }

    async fn status(&self, target: &StageService) -> keptn_deploy::Result<ServiceStatus> {
        let state = self.state.lock().unwrap();
        Ok(Self::status_of(
            target,
            &state.slots.get(&key(target)).cloned().unwrap_or_default(),
        ))
    }

    async fn scale(
        &self,
        target: &StageService,
        _replicas: u32,
    ) -> keptn_deploy::Result<ServiceStatus> {
        self.status(target).await
    }
}

/// Measures p95 of whatever version is new in the stage: 0.11.2 has the 1 s slowdown.
#[derive(Debug, Clone)]
pub struct VersionSli {
    pub deployer: FileDeployer,
}

#[async_trait]
impl SliProvider for VersionSli {
    fn name(&self) -> &str {
        "measured"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        let target = StageService::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        );
        let status = self
            .deployer
            .status(&target)
            .await
            .map_err(|e| ProviderError::new("measured", e.to_string(), false))?;
        let image = status
            .canary_image()
            .or(status.serving_image())
            .unwrap_or_default()
            .to_owned();
        let p95 = if image.ends_with(":0.11.2") {
            1050.0
        } else {
            310.0
        };
        Ok(query
            .indicators
            .iter()
            .map(|i| SliValue::ok(i.clone(), p95))
            .collect())
    }
}

/// Tests that always pass.
#[derive(Debug, Clone, Default)]
pub struct PassingTests;

#[async_trait]
impl TestRunner for PassingTests {
    fn name(&self) -> &str {
        "passing"
    }

    async fn run(
        &self,
        request: &TestRequest,
        _progress: &Progress,
    ) -> keptn_deploy::Result<TestReport> {
        let mut report =
            TestReport::skipped(request.strategy.clone(), Utc::now(), "all checks passed");
        report.outcome = TestOutcome::Pass;
        Ok(report)
    }
}

/// A control plane builder with the seed's project and every delivery executor on `deployer`.
pub fn seed_plane(deployer: &FileDeployer) -> ControlPlaneBuilder {
    seed_plane_with(Arc::new(deployer.clone()), deployer)
}

/// The same with the delivery executors on `shared` (which wraps `files`, whose state the SLI
/// provider measures).
pub fn seed_plane_with(shared: Arc<dyn Deployer>, files: &FileDeployer) -> ControlPlaneBuilder {
    keptn_control::ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SEED_SHIPYARD)
        .executor(DeploymentExecutor::new(shared.clone()))
        .executor(TestExecutor::new(Arc::new(PassingTests)))
        .executor(ReleaseExecutor::new(shared.clone()))
        .executor(RollbackExecutor::new(shared))
        .executor(Lighthouse::new("measured"))
        .executor(SliProviderExecutor::new(Arc::new(VersionSli {
            deployer: files.clone(),
        })))
}

pub fn staging_carts() -> ResourceScope {
    ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

/// A shipyard whose `staging` stage has the `evaluation` sequence alone.
pub const EVALUATION_SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: staging
      sequences:
        - name: evaluation
          tasks:
            - name: evaluation
";

/// `sh.keptn.event.staging.evaluation.triggered` for sockshop/carts over the last 5 minutes,
/// in a new context.
pub fn evaluation_event() -> keptn_spec::event::KeptnEvent {
    use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase};
    let ty =
        EventType::sequence("staging".parse().unwrap(), "evaluation", Phase::Triggered).unwrap();
    let data = serde_json::json!({"project": "sockshop", "stage": "staging", "service": "carts",
                                  "evaluation": {"timeframe": "5m"}});
    KeptnEvent::new(ty, "cli", KeptnContext::new_random(), &data)
}
