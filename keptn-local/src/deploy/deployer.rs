//! `LocalDeployer`: Keptn's blue/green and direct deployments with local processes behind stage
//! proxies.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keptn_spec::ServiceName;
use tokio::sync::Mutex;

use super::error::LocalError;
use super::proxy::{StageProxy, Upstream};
use super::recorder::RequestRecorder;
use super::sli::LocalSliProvider;
use super::supervisor::{CommandTemplate, ServiceProcess};
use keptn_deploy::{
    Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, Error, Result,
    RunningVersion, ServiceStatus, StageService,
};

/// Deployment labels, as Keptn's `$DEPLOYMENT` placeholder and Dynatrace's `keptn_deployment` tag
/// use them; the proxies record requests under these names.
pub mod deployment {
    /// The serving, promoted version of a blue/green service.
    pub const PRIMARY: &str = "primary";
    /// The new version of a blue/green service under test.
    pub const CANARY: &str = "canary";
    /// The only version of a directly deployed service.
    pub const DIRECT: &str = "direct";
    /// A user-managed deployment.
    pub const USER_MANAGED: &str = "user-managed";
}

struct Running {
    upstream: Arc<Upstream>,
    process: ServiceProcess,
    image: String,
}

#[derive(Default)]
struct SlotState {
    strategy: Option<DeploymentStrategy>,
    serving: Option<Running>,
    canary: Option<Running>,
}

/// One service in one stage: the public proxy (serving version), the canary proxy (the version
/// under test) and one recorder for both.
struct Slot {
    public: StageProxy,
    canary: StageProxy,
    state: Mutex<SlotState>,
}

/// A [`Deployer`] running each service version as a local process (from a [`CommandTemplate`],
/// with `{version}` = the image tag) on a loopback port it picks.
///
/// Per service and stage there are two [`StageProxy`]s sharing one [`RequestRecorder`] (registered
/// with the deployer's [`LocalSliProvider`]):
/// - the **public** proxy owns the service's public port (`deploymentURIsPublic`) and routes to
///   the serving version, recorded as `primary` (blue/green) or `direct`;
/// - the **canary** proxy (`deploymentURIsLocal` of a blue/green deployment, where tests go)
///   routes to the canary, recorded as `canary`.
///
/// Keptn's blue/green semantics ([`DeploymentStrategy::BlueGreenService`]): the first deployment
/// starts the version twice, as primary and as canary (helm-service's two deployments); later
/// ones start a canary beside the untouched primary. [`promote`](Deployer::promote) switches the
/// public port to the canary's process in one atomic swap (now recorded as `primary`) and stops
/// the old primary once its in-flight requests finished; [`rollback`](Deployer::rollback) stops
/// the canary. [`DeploymentStrategy::Direct`] (and `user_managed`) replace the serving process.
///
/// Guarantees:
/// - a failed deployment (the process does not start or does not become ready) leaves the serving
///   version untouched and is reported as [`Error::RolloutFailed`] with `rolled_back: true`;
/// - no request is lost in a switch (the old process stops after draining, up to the drain
///   timeout);
/// - processes are stopped (`SIGTERM`, then `SIGKILL`) by [`LocalDeployer::shutdown`] and killed
///   when the deployer is dropped; none outlives it unless the whole program is `SIGKILL`ed
///   (then a child that watches [`SUPERVISOR_PID_ENV`](super::SUPERVISOR_PID_ENV) still exits).
///
/// Limits: one process per version, so [`scale`](Deployer::scale) accepts only 1 replica.
pub struct LocalDeployer {
    templates: BTreeMap<String, CommandTemplate>,
    sli: LocalSliProvider,
    slots: Mutex<BTreeMap<StageService, Arc<Slot>>>,
    drain_timeout: Duration,
}

impl fmt::Debug for LocalDeployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDeployer")
            .field("services", &self.templates.keys().collect::<Vec<_>>())
            .field("drain_timeout", &self.drain_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for LocalDeployer {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalDeployer {
    /// A deployer with no services and its own [`LocalSliProvider`].
    pub fn new() -> Self {
        Self {
            templates: BTreeMap::new(),
            sli: LocalSliProvider::new(),
            slots: Mutex::new(BTreeMap::new()),
            drain_timeout: Duration::from_secs(30),
        }
    }

    /// Runs `service` with `template`.
    #[must_use]
    pub fn with_service(mut self, service: &ServiceName, template: CommandTemplate) -> Self {
        self.templates.insert(service.to_string(), template);
        self
    }

    /// Registers the proxies' recorders with `provider` instead of a provider of its own.
    #[must_use]
    pub fn with_sli_provider(mut self, provider: LocalSliProvider) -> Self {
        self.sli = provider;
        self
    }

    /// How long to wait for in-flight requests of a replaced version before stopping it.
    #[must_use]
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The SLI provider answering from this deployer's proxies.
    pub fn sli_provider(&self) -> &LocalSliProvider {
        &self.sli
    }

    async fn slot(&self, target: &StageService) -> Result<Arc<Slot>, LocalError> {
        let mut slots = self.slots.lock().await;
        if let Some(slot) = slots.get(target) {
            return Ok(slot.clone());
        }
        let recorder = Arc::new(RequestRecorder::default());
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let proxy_error = |source| LocalError::Proxy {
            project: target.project.to_string(),
            stage: target.stage.to_string(),
            service: target.service.to_string(),
            source,
        };
        let public = StageProxy::start(bind, recorder.clone())
            .await
            .map_err(proxy_error)?;
        let canary = StageProxy::start(bind, recorder.clone())
            .await
            .map_err(proxy_error)?;
        self.sli.register(
            target.project.clone(),
            target.stage.clone(),
            target.service.clone(),
            recorder,
        );
        let slot = Arc::new(Slot {
            public,
            canary,
            state: Mutex::new(SlotState::default()),
        });
        slots.insert(target.clone(), slot.clone());
        Ok(slot)
    }

    async fn existing(&self, target: &StageService) -> Option<Arc<Slot>> {
        self.slots.lock().await.get(target).cloned()
    }

    /// The public URL of a service in a stage — it serves the serving version — creating its
    /// proxy (with nothing behind it yet) if needed.
    ///
    /// # Errors
    /// [`LocalError::Proxy`] when a proxy cannot bind a port.
    pub async fn public_url(&self, target: &StageService) -> Result<String, LocalError> {
        Ok(self.slot(target).await?.public.url())
    }

    /// The address to scrape for a service in a stage: its public proxy, whose
    /// [`METRICS_PATH`](super::METRICS_PATH) carries the traffic of every deployment of the slot
    /// (`primary`/`direct` on the public port and `canary` on the canary port share one
    /// recorder), so one scrape target per slot sees everything and nothing twice.
    ///
    /// # Errors
    /// [`LocalError::Proxy`] when a proxy cannot bind a port.
    pub async fn metrics_addr(&self, target: &StageService) -> Result<SocketAddr, LocalError> {
        Ok(self.slot(target).await?.public.addr())
    }

    /// The canary URL of a service in a stage (answers `503` while there is no canary).
    ///
    /// # Errors
    /// [`LocalError::Proxy`] when a proxy cannot bind a port.
    pub async fn canary_url(&self, target: &StageService) -> Result<String, LocalError> {
        Ok(self.slot(target).await?.canary.url())
    }

    /// Process ids of every running service process (for leak checks).
    pub async fn pids(&self) -> Vec<u32> {
        let slots: Vec<_> = self.slots.lock().await.values().cloned().collect();
        let mut pids = Vec::new();
        for slot in slots {
            let state = slot.state.lock().await;
            pids.extend(
                [&state.serving, &state.canary]
                    .into_iter()
                    .flatten()
                    .map(|r| r.process.pid()),
            );
        }
        pids
    }

    /// Stops every process (`SIGTERM`, then `SIGKILL` after the grace period) and closes every
    /// proxy. Returns the errors of processes that could not be stopped cleanly (they are killed
    /// anyway).
    pub async fn shutdown(&self) -> Vec<LocalError> {
        let slots: Vec<_> = std::mem::take(&mut *self.slots.lock().await)
            .into_values()
            .collect();
        let mut errors = Vec::new();
        for slot in slots {
            slot.public.route_to(None);
            slot.canary.route_to(None);
            let mut state = slot.state.lock().await;
            for running in [state.canary.take(), state.serving.take()]
                .into_iter()
                .flatten()
            {
                if let Err(e) = running.process.stop().await {
                    errors.push(e);
                }
            }
        }
        errors
    }

    async fn retire(&self, old: Running) {
        if !old.upstream.drain(self.drain_timeout).await {
            tracing::warn!(
                version = old.upstream.version(),
                "requests still in flight after the drain timeout; stopping anyway"
            );
        }
        if let Err(e) = old.process.stop().await {
            tracing::warn!(error = %e, "could not stop a replaced version cleanly");
        }
    }

    async fn start(&self, request: &DeploymentRequest, label: &str) -> Result<Running> {
        let target = &request.target;
        let template = self.templates.get(target.service.as_str()).ok_or_else(|| {
            Error::invalid(
                "service",
                LocalError::UnknownService {
                    service: target.service.to_string(),
                }
                .to_string(),
            )
        })?;
        let version = request.artifact.tag();
        let process = template
            .spawn(target.service.as_str(), version)
            .await
            .map_err(|e| Error::RolloutFailed {
                object: format!("{target} {}", request.artifact),
                reason: e.to_string(),
                rolled_back: true,
            })?;
        Ok(Running {
            upstream: Arc::new(Upstream::new(label, version, process.addr())),
            process,
            image: request.artifact.to_string(),
        })
    }

    fn status_of(target: &StageService, state: &SlotState) -> ServiceStatus {
        let mut status = ServiceStatus::absent(target.clone());
        status.strategy = state.strategy;
        let name = |suffix: &str| format!("{}{suffix}", target.service);
        status.serving = state.serving.as_ref().map(|r| {
            let n = if r.upstream.deployment() == deployment::PRIMARY {
                name("-primary")
            } else {
                name("")
            };
            RunningVersion::new(n, r.image.clone(), 1, 1)
        });
        status.canary = state
            .canary
            .as_ref()
            .map(|r| RunningVersion::new(name(""), r.image.clone(), 1, 1));
        status
    }
}

/// What [`LocalDeployer::deploy`] answers for `request` once it has run on `slot`: the canary
/// behind the canary proxy for blue/green, else the new version behind the public proxy.
fn result_of(request: &DeploymentRequest, slot: &Slot) -> DeploymentResult {
    let (label, local) = match request.strategy {
        DeploymentStrategy::BlueGreenService => (deployment::CANARY, slot.canary.url()),
        DeploymentStrategy::UserManaged => (deployment::USER_MANAGED, slot.public.url()),
        _ => (deployment::DIRECT, slot.public.url()),
    };
    DeploymentResult::new(
        request.strategy,
        vec![label.to_owned()],
        request.artifact.to_string(),
    )
    .with_uris_local(vec![local])
    .with_uris_public(vec![slot.public.url()])
}

fn local_error(e: &LocalError) -> Error {
    Error::backend("local", e.to_string())
}

#[async_trait]
impl Deployer for LocalDeployer {
    fn name(&self) -> &str {
        "local"
    }

    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
        let target = &request.target;
        let slot = self.slot(target).await.map_err(|e| local_error(&e))?;
        let mut state = slot.state.lock().await;
        if let Some(existing) = state.strategy
            && existing != request.strategy
            && state.serving.is_some()
        {
            return Err(Error::invalid(
                "strategy",
                format!(
                    "{target} is deployed as `{existing}`; the local deployer cannot switch it to `{}`",
                    request.strategy
                ),
            ));
        }
        match request.strategy {
            DeploymentStrategy::BlueGreenService => {
                let canary = self.start(request, deployment::CANARY).await?;
                let first_primary = if state.serving.is_none() {
                    // Keptn's first blue/green deployment creates both deployments.
                    match self.start(request, deployment::PRIMARY).await {
                        Ok(p) => Some(p),
                        Err(e) => {
                            drop(state);
                            self.retire(canary).await;
                            return Err(e);
                        }
                    }
                } else {
                    None
                };
                slot.canary.route_to(Some(canary.upstream.clone()));
                let old_canary = state.canary.replace(canary);
                if let Some(primary) = first_primary {
                    slot.public.route_to(Some(primary.upstream.clone()));
                    state.serving = Some(primary);
                }
                state.strategy = Some(request.strategy);
                drop(state);
                if let Some(old) = old_canary {
                    self.retire(old).await;
                }
                Ok(result_of(request, &slot))
            }
            _ => {
                let label = if request.strategy == DeploymentStrategy::UserManaged {
                    deployment::USER_MANAGED
                } else {
                    deployment::DIRECT
                };
                let new = self.start(request, label).await?;
                slot.public.route_to(Some(new.upstream.clone()));
                slot.canary.route_to(None);
                let old_serving = state.serving.replace(new);
                let old_canary = state.canary.take();
                state.strategy = Some(request.strategy);
                drop(state);
                for old in [old_canary, old_serving].into_iter().flatten() {
                    self.retire(old).await;
                }
                Ok(result_of(request, &slot))
            }
        }
    }

    async fn deployed(&self, request: &DeploymentRequest) -> Result<Option<DeploymentResult>> {
        let Some(slot) = self.existing(&request.target).await else {
            return Ok(None);
        };
        let state = slot.state.lock().await;
        let running = match request.strategy {
            DeploymentStrategy::BlueGreenService => state.canary.as_ref(),
            _ => state.serving.as_ref(),
        };
        let image = request.artifact.to_string();
        let runs =
            state.strategy == Some(request.strategy) && running.is_some_and(|r| r.image == image);
        Ok(runs.then(|| result_of(request, &slot)))
    }

    async fn promote(&self, target: &StageService) -> Result<ServiceStatus> {
        let Some(slot) = self.existing(target).await else {
            return Err(Error::NotDeployed {
                target: target.clone(),
            });
        };
        let mut state = slot.state.lock().await;
        if state.strategy != Some(DeploymentStrategy::BlueGreenService) {
            return Ok(Self::status_of(target, &state));
        }
        let Some(canary) = state.canary.take() else {
            return Err(Error::NoCanary {
                target: target.clone(),
            });
        };
        let primary = Arc::new(Upstream::new(
            deployment::PRIMARY,
            canary.upstream.version(),
            canary.process.addr(),
        ));
        slot.public.route_to(Some(primary.clone()));
        slot.canary.route_to(None);
        let old_serving = state.serving.replace(Running {
            upstream: primary,
            process: canary.process,
            image: canary.image,
        });
        let status = Self::status_of(target, &state);
        drop(state);
        canary.upstream.drain(self.drain_timeout).await;
        if let Some(old) = old_serving {
            self.retire(old).await;
        }
        Ok(status)
    }

    async fn rollback(&self, target: &StageService) -> Result<ServiceStatus> {
        let Some(slot) = self.existing(target).await else {
            return Err(Error::NotDeployed {
                target: target.clone(),
            });
        };
        let mut state = slot.state.lock().await;
        slot.canary.route_to(None);
        let canary = state.canary.take();
        let status = Self::status_of(target, &state);
        drop(state);
        if let Some(canary) = canary {
            self.retire(canary).await;
        }
        Ok(status)
    }

    async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
        match self.existing(target).await {
            Some(slot) => Ok(Self::status_of(target, &*slot.state.lock().await)),
            None => Ok(ServiceStatus::absent(target.clone())),
        }
    }

    async fn scale(&self, target: &StageService, replicas: u32) -> Result<ServiceStatus> {
        let status = self.status(target).await?;
        if status.serving.is_none() {
            return Err(Error::NotDeployed {
                target: target.clone(),
            });
        }
        if replicas != 1 {
            return Err(Error::invalid(
                "replicas",
                format!(
                    "the local deployer runs one process per version; cannot scale {target} to {replicas}"
                ),
            ));
        }
        Ok(status)
    }
}
