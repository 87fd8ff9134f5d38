//! In-memory test doubles: a deployer that records every call and keeps Keptn's blue/green
//! state in memory, for tests of code that drives a [`Deployer`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::{
    Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, Error, Progress, Result,
    RunningVersion, ServiceStatus, StageService, TestOutcome, TestReport, TestRequest, TestRunner,
};

/// One call an [`InMemoryDeployer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployerCall {
    /// `deploy` of an image with a strategy.
    Deploy {
        /// Where.
        target: StageService,
        /// The image.
        image: String,
        /// The strategy.
        strategy: DeploymentStrategy,
    },
    /// `promote`.
    Promote(StageService),
    /// `rollback`.
    Rollback(StageService),
    /// `scale` to a replica count.
    Scale(StageService, u32),
}

#[derive(Debug, Clone, Default)]
struct Entry {
    strategy: Option<DeploymentStrategy>,
    serving: Option<String>,
    canary: Option<String>,
    replicas: u32,
}

#[derive(Debug, Default)]
struct State {
    services: BTreeMap<StageService, Entry>,
    failing: BTreeSet<String>,
    calls: Vec<DeployerCall>,
}

/// A [`Deployer`] that keeps serving and canary versions in memory and never waits.
///
/// Blue/green follows Keptn: the first deployment of a service serves at once (and also runs as
/// canary); later ones run as canary until promoted. Images registered with
/// [`fail_rollout_of`](Self::fail_rollout_of) fail their rollout, which is rolled back.
/// Clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDeployer {
    state: Arc<Mutex<State>>,
}

impl InMemoryDeployer {
    /// An empty deployer.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // a poisoned lock only means another test thread panicked; the state is still usable
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every rollout of `image` fail (as a crash-looping build would).
    pub fn fail_rollout_of(&self, image: impl Into<String>) {
        self.lock().failing.insert(image.into());
    }

    /// Every call received so far, in order.
    pub fn calls(&self) -> Vec<DeployerCall> {
        self.lock().calls.clone()
    }

    /// The image serving `target`, if any.
    pub fn serving_image(&self, target: &StageService) -> Option<String> {
        self.lock()
            .services
            .get(target)
            .and_then(|e| e.serving.clone())
    }

    /// The pending canary image of `target`, if any.
    pub fn canary_image(&self, target: &StageService) -> Option<String> {
        self.lock()
            .services
            .get(target)
            .and_then(|e| e.canary.clone())
    }

    /// What a successful deployment of `request` returns.
    fn result_of(request: &DeploymentRequest) -> DeploymentResult {
        let ns = request.target.namespace();
        let svc = &request.target.service;
        let (name, local) = match request.strategy {
            DeploymentStrategy::BlueGreenService => ("canary", format!("http://{svc}-canary.{ns}")),
            DeploymentStrategy::UserManaged => ("user-managed", format!("http://{svc}.{ns}")),
            _ => ("direct", format!("http://{svc}.{ns}")),
        };
        DeploymentResult::new(
            request.strategy,
            vec![name.to_owned()],
            request.artifact.to_string(),
        )
        .with_uris_local(vec![local])
    }

    fn status_of(target: &StageService, e: Option<&Entry>) -> ServiceStatus {
        let mut s = ServiceStatus::absent(target.clone());
        if let Some(e) = e {
            s.strategy = e.strategy;
            let role = |name: &str| format!("{}{name}", target.service);
            let serving_name = match e.strategy {
                Some(DeploymentStrategy::BlueGreenService) => role("-primary"),
                _ => role(""),
            };
            s.serving = e
                .serving
                .as_ref()
                .map(|i| RunningVersion::new(serving_name, i.clone(), e.replicas, e.replicas));
            s.canary = e
                .canary
                .as_ref()
                .map(|i| RunningVersion::new(role(""), i.clone(), 1, 1));
        }
        s
    }
}

#[async_trait]
impl Deployer for InMemoryDeployer {
    fn name(&self) -> &str {
        "in-memory"
    }

    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
        let image = request.artifact.to_string();
        let target = &request.target;
        let mut state = self.lock();
        state.calls.push(DeployerCall::Deploy {
            target: target.clone(),
            image: image.clone(),
            strategy: request.strategy,
        });
        let failing = state.failing.contains(&image);
        let entry = state.services.entry(target.clone()).or_default();
        if let Some(existing) = entry.strategy
            && existing != request.strategy
            && entry.serving.is_some()
            && request.strategy != DeploymentStrategy::UserManaged
            && existing != DeploymentStrategy::UserManaged
        {
            return Err(Error::invalid(
                "strategy",
                format!(
                    "{target} is deployed as `{existing}`; switching strategies needs it deleted first"
                ),
            ));
        }
        if failing {
            if request.strategy == DeploymentStrategy::BlueGreenService {
                entry.canary = None;
            }
            return Err(Error::RolloutFailed {
                object: format!("{target} {image}"),
                reason: "the new version never became ready".into(),
                rolled_back: true,
            });
        }
        entry.strategy = Some(request.strategy);
        entry.replicas = entry.replicas.max(1);
        match request.strategy {
            DeploymentStrategy::BlueGreenService => {
                if entry.serving.is_none() {
                    entry.serving = Some(image.clone());
                }
                entry.canary = Some(image);
            }
            _ => entry.serving = Some(image),
        }
        Ok(Self::result_of(request))
    }

    async fn deployed(&self, request: &DeploymentRequest) -> Result<Option<DeploymentResult>> {
        let image = request.artifact.to_string();
        let state = self.lock();
        let Some(entry) = state.services.get(&request.target) else {
            return Ok(None);
        };
        let runs = entry.strategy == Some(request.strategy)
            && match request.strategy {
                DeploymentStrategy::BlueGreenService => entry.canary.as_ref() == Some(&image),
                _ => entry.serving.as_ref() == Some(&image),
            };
        Ok(runs.then(|| Self::result_of(request)))
    }

    async fn promote(&self, target: &StageService) -> Result<ServiceStatus> {
        let mut state = self.lock();
        state.calls.push(DeployerCall::Promote(target.clone()));
        let entry = state.services.get_mut(target);
        match entry {
            Some(e) if e.strategy == Some(DeploymentStrategy::BlueGreenService) => {
                let Some(canary) = e.canary.take() else {
                    return Err(Error::NoCanary {
                        target: target.clone(),
                    });
                };
                e.serving = Some(canary);
                Ok(Self::status_of(target, Some(e)))
            }
            Some(e) => Ok(Self::status_of(target, Some(e))),
            None => Err(Error::NoCanary {
                target: target.clone(),
            }),
        }
    }

    async fn rollback(&self, target: &StageService) -> Result<ServiceStatus> {
        let mut state = self.lock();
        state.calls.push(DeployerCall::Rollback(target.clone()));
        let entry = state.services.get_mut(target);
        if let Some(e) = entry {
            e.canary = None;
            return Ok(Self::status_of(target, Some(e)));
        }
        Ok(ServiceStatus::absent(target.clone()))
    }

    async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
        let state = self.lock();
        Ok(Self::status_of(target, state.services.get(target)))
    }

    async fn scale(&self, target: &StageService, replicas: u32) -> Result<ServiceStatus> {
        let mut state = self.lock();
        state
            .calls
            .push(DeployerCall::Scale(target.clone(), replicas));
        match state.services.get_mut(target) {
            Some(e) if e.serving.is_some() => {
                e.replicas = replicas;
                Ok(Self::status_of(target, Some(e)))
            }
            _ => Err(Error::NotDeployed {
                target: target.clone(),
            }),
        }
    }
}

/// A [`TestRunner`] that answers every run with a fixed outcome, records the requests and
/// sends no traffic.
#[derive(Debug, Clone)]
pub struct StaticTestRunner {
    outcome: Arc<Mutex<TestOutcome>>,
    requests: Arc<Mutex<Vec<TestRequest>>>,
}

impl StaticTestRunner {
    /// A runner whose every run ends with `outcome`.
    pub fn new(outcome: TestOutcome) -> Self {
        Self {
            outcome: Arc::new(Mutex::new(outcome)),
            requests: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Changes the outcome of later runs.
    pub fn set_outcome(&self, outcome: TestOutcome) {
        *self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<TestRequest> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl TestRunner for StaticTestRunner {
    fn name(&self) -> &str {
        "static"
    }

    async fn run(&self, request: &TestRequest, _progress: &Progress) -> Result<TestReport> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(request.clone());
        let outcome = *self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut report = TestReport::skipped(
            request.strategy.clone(),
            chrono::Utc::now(),
            format!("static {}", outcome.as_str()),
        );
        report.outcome = outcome;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Artifact;

    fn target() -> StageService {
        StageService::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
        )
    }

    fn req(tag: &str) -> DeploymentRequest {
        DeploymentRequest::new(
            target(),
            Artifact::new(format!("carts:{tag}")).unwrap(),
            DeploymentStrategy::BlueGreenService,
        )
    }

    /// Blue/green: the primary keeps serving until promote; rollback discards the canary.
    #[tokio::test]
    async fn blue_green_lifecycle() {
        let d = InMemoryDeployer::new();
        d.deploy(&req("1")).await.unwrap();
        d.promote(&target()).await.unwrap();
        d.deploy(&req("2")).await.unwrap();
        assert_eq!(d.serving_image(&target()).as_deref(), Some("carts:1"));
        assert_eq!(d.canary_image(&target()).as_deref(), Some("carts:2"));
        d.rollback(&target()).await.unwrap();
        assert_eq!(d.serving_image(&target()).as_deref(), Some("carts:1"));
        assert_eq!(d.canary_image(&target()), None);
        d.deploy(&req("3")).await.unwrap();
        let s = d.promote(&target()).await.unwrap();
        assert_eq!(s.serving_image(), Some("carts:3"));
        assert!(matches!(
            d.promote(&target()).await,
            Err(Error::NoCanary { .. })
        ));
    }

    /// A failing image is rolled back and the serving version stays.
    #[tokio::test]
    async fn failing_rollout_leaves_serving_untouched() {
        let d = InMemoryDeployer::new();
        d.deploy(&req("1")).await.unwrap();
        d.promote(&target()).await.unwrap();
        d.fail_rollout_of("carts:2");
        let err = d.deploy(&req("2")).await.unwrap_err();
        assert!(matches!(
            err,
            Error::RolloutFailed {
                rolled_back: true,
                ..
            }
        ));
        assert_eq!(d.serving_image(&target()).as_deref(), Some("carts:1"));
        assert_eq!(d.canary_image(&target()), None);
        assert_eq!(d.calls().len(), 3);
    }
}
