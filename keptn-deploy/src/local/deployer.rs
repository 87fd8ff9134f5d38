//! `LocalDeployer`: blue/green and direct deployments of local processes behind stage proxies.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use keptn_spec::{ProjectName, ServiceName, StageName};
use tokio::sync::Mutex;

use super::error::LocalError;
use super::proxy::{StageProxy, Upstream};
use super::recorder::RequestRecorder;
use super::sli::LocalSliProvider;
use super::supervisor::{CommandTemplate, ServiceProcess};

/// How a new version replaces the serving one (Keptn's `deployment_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalStrategy {
    /// Start the new version, switch all traffic to it, stop the old one (`direct`).
    Direct,
    /// Start the new version as canary and send all traffic to it; the primary keeps running
    /// until [`LocalDeployer::promote`] or [`LocalDeployer::rollback`] (`blue_green_service`).
    BlueGreen,
}

/// Deployment labels, as Keptn's `$DEPLOYMENT` placeholder and Dynatrace's `keptn_deployment` tag
/// use them.
pub mod deployment {
    /// The serving, promoted version of a blue/green service.
    pub const PRIMARY: &str = "primary";
    /// The new version of a blue/green service under test.
    pub const CANARY: &str = "canary";
    /// The only version of a directly deployed service.
    pub const DIRECT: &str = "direct";
}

/// What serves a service in a stage right now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Serving {
    /// The version that gets new requests.
    pub version: String,
    /// Its deployment label (`primary`, `canary`, `direct`).
    pub deployment: String,
    /// The version of the primary when a canary is serving.
    pub primary_version: Option<String>,
    /// The stage proxy's public URL.
    pub url: String,
}

struct Running {
    upstream: Arc<Upstream>,
    process: ServiceProcess,
}

#[derive(Default)]
struct SlotState {
    primary: Option<Running>,
    canary: Option<Running>,
}

struct Slot {
    proxy: StageProxy,
    state: Mutex<SlotState>,
}

type Key = (ProjectName, StageName, ServiceName);

/// Runs each service version as a local process (from a [`CommandTemplate`]) on a loopback port
/// it picks, behind one [`StageProxy`] per project, stage and service that owns the service's
/// public port. Every proxy's recorder is registered with the deployer's [`LocalSliProvider`].
///
/// Guarantees:
/// - a failed deployment (the process does not start or does not become ready) leaves the serving
///   version untouched;
/// - switching traffic (deploy, promote, rollback) is one atomic swap in the proxy; the old process
///   is stopped only after its in-flight requests finished (up to the drain timeout);
/// - processes are stopped with `SIGTERM` (then `SIGKILL`) by [`LocalDeployer::shutdown`], and
///   killed when the deployer is dropped, so none outlives it (unless the whole program is killed
///   with `SIGKILL`).
pub struct LocalDeployer {
    templates: BTreeMap<String, CommandTemplate>,
    sli: LocalSliProvider,
    slots: Mutex<BTreeMap<Key, Arc<Slot>>>,
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

    /// Registers proxies with `provider` instead of a provider of its own.
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

    async fn slot(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Result<Arc<Slot>, LocalError> {
        let key = (project.clone(), stage.clone(), service.clone());
        let mut slots = self.slots.lock().await;
        if let Some(slot) = slots.get(&key) {
            return Ok(slot.clone());
        }
        let recorder = Arc::new(RequestRecorder::default());
        let proxy = StageProxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), recorder.clone())
            .await
            .map_err(|source| LocalError::Proxy {
                project: project.to_string(),
                stage: stage.to_string(),
                service: service.to_string(),
                source,
            })?;
        self.sli
            .register(project.clone(), stage.clone(), service.clone(), recorder);
        let slot = Arc::new(Slot {
            proxy,
            state: Mutex::new(SlotState::default()),
        });
        slots.insert(key, slot.clone());
        Ok(slot)
    }

    async fn existing(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Option<Arc<Slot>> {
        let key = (project.clone(), stage.clone(), service.clone());
        self.slots.lock().await.get(&key).cloned()
    }

    /// The public URL of a service in a stage (creating its proxy, with nothing serving yet, if
    /// needed).
    ///
    /// # Errors
    /// [`LocalError::Proxy`] when the proxy cannot bind a port.
    pub async fn url(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Result<String, LocalError> {
        Ok(self.slot(project, stage, service).await?.proxy.url())
    }

    /// Deploys `version` of `service` to `stage` with `strategy` and returns what serves now.
    ///
    /// # Errors
    /// [`LocalError::UnknownService`] without a template; the process errors of
    /// [`CommandTemplate::spawn`] — in every error case the serving version is untouched.
    pub async fn deploy(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
        version: &str,
        strategy: LocalStrategy,
    ) -> Result<Serving, LocalError> {
        let template =
            self.templates
                .get(service.as_str())
                .ok_or_else(|| LocalError::UnknownService {
                    service: service.to_string(),
                })?;
        let slot = self.slot(project, stage, service).await?;
        let mut state = slot.state.lock().await;
        let process = template.spawn(service.as_str(), version).await?;
        let label = match strategy {
            LocalStrategy::Direct => deployment::DIRECT,
            LocalStrategy::BlueGreen => deployment::CANARY,
        };
        let upstream = Arc::new(Upstream::new(label, version, process.addr()));
        slot.proxy.route_to(Some(upstream.clone()));
        let new = Running { upstream, process };
        match strategy {
            LocalStrategy::Direct => {
                let old_primary = state.primary.replace(new);
                let old_canary = state.canary.take();
                drop(state);
                for old in [old_primary, old_canary].into_iter().flatten() {
                    self.retire(old).await;
                }
            }
            LocalStrategy::BlueGreen => {
                let old_canary = state.canary.replace(new);
                drop(state);
                if let Some(old) = old_canary {
                    self.retire(old).await;
                }
            }
        }
        self.serving(project, stage, service)
            .await
            .ok_or_else(|| invalid("deploy", project, stage, service, "nothing serving"))
    }

    /// Makes the canary the primary: traffic stays on the same process, now recorded as
    /// `primary`, and the old primary is stopped.
    ///
    /// # Errors
    /// [`LocalError::InvalidState`] when there is no canary.
    pub async fn promote(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Result<Serving, LocalError> {
        let slot = self
            .existing(project, stage, service)
            .await
            .ok_or_else(|| invalid("promote", project, stage, service, "nothing is deployed"))?;
        let mut state = slot.state.lock().await;
        let Some(canary) = state.canary.take() else {
            return Err(invalid(
                "promote",
                project,
                stage,
                service,
                "there is no canary",
            ));
        };
        let primary = Arc::new(Upstream::new(
            deployment::PRIMARY,
            canary.upstream.version(),
            canary.process.addr(),
        ));
        slot.proxy.route_to(Some(primary.clone()));
        let old_primary = state.primary.replace(Running {
            upstream: primary,
            process: canary.process,
        });
        drop(state);
        canary.upstream.drain(self.drain_timeout).await;
        if let Some(old) = old_primary {
            self.retire(old).await;
        }
        self.serving(project, stage, service)
            .await
            .ok_or_else(|| invalid("promote", project, stage, service, "nothing serving"))
    }

    /// Sends traffic back to the primary and stops the canary (Keptn's rollback after a failed
    /// gate). Without a primary the service is left without a serving version.
    ///
    /// # Errors
    /// [`LocalError::InvalidState`] when there is no canary.
    pub async fn rollback(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Result<Option<Serving>, LocalError> {
        let slot = self
            .existing(project, stage, service)
            .await
            .ok_or_else(|| invalid("rollback", project, stage, service, "nothing is deployed"))?;
        let mut state = slot.state.lock().await;
        let Some(canary) = state.canary.take() else {
            return Err(invalid(
                "rollback",
                project,
                stage,
                service,
                "there is no canary",
            ));
        };
        slot.proxy
            .route_to(state.primary.as_ref().map(|p| p.upstream.clone()));
        drop(state);
        self.retire(canary).await;
        Ok(self.serving(project, stage, service).await)
    }

    /// What serves `service` in `stage` right now, if anything.
    pub async fn serving(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Option<Serving> {
        let slot = self.existing(project, stage, service).await?;
        let current = slot.proxy.current()?;
        let state = slot.state.lock().await;
        let primary_version = state
            .canary
            .as_ref()
            .and(state.primary.as_ref())
            .map(|p| p.upstream.version().to_owned());
        Some(Serving {
            version: current.version().to_owned(),
            deployment: current.deployment().to_owned(),
            primary_version,
            url: slot.proxy.url(),
        })
    }

    /// Process ids of every running service process (for leak checks).
    pub async fn pids(&self) -> Vec<u32> {
        let slots: Vec<_> = self.slots.lock().await.values().cloned().collect();
        let mut pids = Vec::new();
        for slot in slots {
            let state = slot.state.lock().await;
            pids.extend(
                [&state.primary, &state.canary]
                    .into_iter()
                    .flatten()
                    .map(|r| r.process.pid()),
            );
        }
        pids
    }

    /// Stops every process (`SIGTERM`, then `SIGKILL` after the grace period) and closes every
    /// proxy. Returns the errors of processes that could not be stopped cleanly (they are killed).
    pub async fn shutdown(&self) -> Vec<LocalError> {
        let slots: Vec<_> = std::mem::take(&mut *self.slots.lock().await)
            .into_values()
            .collect();
        let mut errors = Vec::new();
        for slot in slots {
            slot.proxy.route_to(None);
            let mut state = slot.state.lock().await;
            for running in [state.canary.take(), state.primary.take()]
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
}

fn invalid(
    action: &'static str,
    project: &ProjectName,
    stage: &StageName,
    service: &ServiceName,
    reason: &str,
) -> LocalError {
    LocalError::InvalidState {
        action,
        project: project.to_string(),
        stage: stage.to_string(),
        service: service.to_string(),
        reason: reason.to_owned(),
    }
}
