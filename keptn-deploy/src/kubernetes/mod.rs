//! The Kubernetes [`Deployer`]: Keptn's blue/green on plain Deployments and Services.
//!
//! Feature `kube` (opt-in). k8s-openapi's Kubernetes version is the application's choice: add
//! `k8s-openapi = { version = "0.29", features = ["latest"] }` (or the `v1_*` feature matching
//! your cluster) to your own dependencies; without one, k8s-openapi's build script stops the build.
//!
//! What it does, per strategy (names from [`manifest`]):
//!
//! - **direct**: server-side apply of Deployment and Service `{service}`, then wait for the
//!   rollout. A failed or timed-out rollout re-applies the previous Deployment spec (or scales a
//!   first deployment to zero) and reports why.
//! - **blue_green_service**: the new version is applied as the canary Deployment `{service}`
//!   beside the serving `{service}-primary`; the public Service `{service}` keeps selecting the
//!   primary the whole time (with Istio routing, a VirtualService keeps 100 % on the primary).
//!   Tests reach the canary through `{service}-canary`. A failed canary rollout scales the
//!   canary to zero. The very first deployment starts the primary with the same version, as
//!   Keptn's helm-service does.
//! - **promote**: traffic switches to the (ready) canary, the primary is re-applied with the
//!   canary's pod spec and awaited, traffic switches back to the primary, and the canary is
//!   scaled to zero — no request ever reaches a pod that is not ready. If the primary does not
//!   take the new spec, the Service is switched back to the primary *first*, then the primary's
//!   previous spec is re-applied and awaited; an error says which of these steps failed and
//!   what state is left.
//! - **rollback**: traffic to the primary, canary scaled to zero.
//!
//! With [`KubeDeployer::with_switch_drain`], promote waits after each switch until the
//! Service's Endpoints list only the pods it now selects, plus a settle time for kube-proxy,
//! before the pods it left are replaced or scaled down (zero failed requests under load on a
//! real node; see `drain`); a direct deployment waits the same way after its rollout, until
//! the replaced pods are out of the Endpoints.
//!
//! Every Kubernetes call is retried under the family's one retry policy
//! ([`KubeDeployer::with_retry`]): all of them are idempotent, so a retry never applies twice.
//!
//! Readiness is awaited by watching the Deployment (no sleep-polling), bounded by
//! [`KubeDeployer::with_rollout_timeout`].
//!
//! # Caveats
//! Switching an existing service between `direct` and `blue_green_service` is refused (the
//! Deployment `{service}` would need another immutable selector): delete its Deployment first.

mod compat;
mod deploy;
mod drain;
pub mod manifest;
pub mod reach;
mod recover;
mod rollout;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use keptn_spec::ServiceName;
use keptn_spec::retry::RetryPolicy;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher::watch_object;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use manifest::{Role, ServiceTemplate};
pub use rollout::{RolloutState, rollout_state};

use crate::{
    Artifact, Deployer, DeploymentRequest, DeploymentResult, DeploymentStrategy, Error, Result,
    RunningVersion, ServiceStatus, StageService,
};

/// How traffic moves between primary and canary on promote and rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TrafficRouting {
    /// The public Service `{service}` changes its selector between the primary and canary pods.
    #[default]
    ServiceSelector,
    /// An Istio `VirtualService` `{service}` changes its weights (Keptn's mesh routing); the
    /// Service selector is switched too, so in-cluster clients without a sidecar follow.
    IstioVirtualService,
}

/// Deploys services to Kubernetes with Keptn's naming and blue/green semantics.
///
/// Takes a [`kube::Client`] from the caller; it never creates one.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use keptn_deploy::kubernetes::{KubeDeployer, ServiceTemplate};
/// use std::time::Duration;
/// let client = kube::Client::try_default().await?;
/// let deployer = KubeDeployer::new(client)
///     .with_rollout_timeout(Duration::from_secs(120))
///     .with_template("carts".parse()?, ServiceTemplate::new().service_port(80, 8080));
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub struct KubeDeployer {
    client: kube::Client,
    rollout_timeout: Duration,
    routing: TrafficRouting,
    field_manager: String,
    public_domain: Option<String>,
    default_template: ServiceTemplate,
    templates: Arc<BTreeMap<ServiceName, ServiceTemplate>>,
    drain: Option<drain::SwitchDrain>,
    retry: RetryPolicy,
}

impl fmt::Debug for KubeDeployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeDeployer")
            .field("rollout_timeout", &self.rollout_timeout)
            .field("routing", &self.routing)
            .field("field_manager", &self.field_manager)
            .field("public_domain", &self.public_domain)
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .field("drain", &self.drain)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A wait that did not end in a completed rollout.
enum WaitFailure {
    Failed(String),
    TimedOut(String),
}

impl KubeDeployer {
    /// A deployer using `client`, a 5-minute rollout timeout, Service-selector routing and the
    /// default [`ServiceTemplate`].
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            rollout_timeout: Duration::from_secs(300),
            routing: TrafficRouting::ServiceSelector,
            field_manager: manifest::FIELD_MANAGER.to_owned(),
            public_domain: None,
            default_template: ServiceTemplate::new(),
            templates: Arc::new(BTreeMap::new()),
            drain: None,
            retry: RetryPolicy::default(),
        }
    }

    /// How failed Kubernetes calls are retried (default: the family's [`RetryPolicy::default`]).
    /// Every call is idempotent, so transport errors, `409`, `429` and `5xx` answers are sent
    /// again; [`RetryPolicy::none`] turns retries off.
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// On promote, after each switch of the public Service, waits (at most
    /// `endpoints_timeout`) until its Endpoints list only the pods it now selects, then
    /// `settle` for kube-proxy, before the pods it left are replaced or scaled down; after a
    /// direct rollout, until the replaced (terminating) pods are out of the Endpoints. Off by
    /// default; a cluster without the endpoints controller (no Endpoints object) skips the
    /// wait. Use it where requests flow during a promotion.
    #[must_use]
    pub fn with_switch_drain(mut self, endpoints_timeout: Duration, settle: Duration) -> Self {
        self.drain = Some(drain::SwitchDrain {
            endpoints_timeout,
            settle,
        });
        self
    }

    async fn drain_switch(&self, target: &StageService, role: Role) {
        if let Some(d) = self.drain {
            drain::await_switch(&self.client, target, role, d).await;
        }
    }

    /// How long a rollout may take before it is rolled back.
    #[must_use]
    pub fn with_rollout_timeout(mut self, timeout: Duration) -> Self {
        self.rollout_timeout = timeout;
        self
    }

    /// How traffic is switched on promote and rollback.
    #[must_use]
    pub fn with_traffic_routing(mut self, routing: TrafficRouting) -> Self {
        self.routing = routing;
        self
    }

    /// The server-side-apply field manager (default `keptn-rs`).
    #[must_use]
    pub fn with_field_manager(mut self, manager: impl Into<String>) -> Self {
        self.field_manager = manager.into();
        self
    }

    /// A domain for public URIs `http://{service}.{project}-{stage}.{domain}` (Keptn's
    /// `keptn-domain` ConfigMap).
    #[must_use]
    pub fn with_public_domain(mut self, domain: impl Into<String>) -> Self {
        self.public_domain = Some(domain.into());
        self
    }

    /// The template used for services without their own.
    #[must_use]
    pub fn with_default_template(mut self, template: ServiceTemplate) -> Self {
        self.default_template = template;
        self
    }

    /// The template of `service` (ports, env, probe, or the user's manifests).
    #[must_use]
    pub fn with_template(mut self, service: ServiceName, template: ServiceTemplate) -> Self {
        Arc::make_mut(&mut self.templates).insert(service, template);
        self
    }

    fn template(&self, service: &ServiceName) -> &ServiceTemplate {
        self.templates
            .get(service)
            .unwrap_or(&self.default_template)
    }

    fn deployments(&self, target: &StageService) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &target.namespace())
    }

    fn services_api(&self, target: &StageService) -> Api<Service> {
        Api::namespaced(self.client.clone(), &target.namespace())
    }

    fn apply_params(&self) -> PatchParams {
        PatchParams::apply(&self.field_manager).force()
    }

    async fn apply<K>(&self, api: &Api<K>, kind: &str, name: &str, obj: &K) -> Result<K>
    where
        K: Clone + DeserializeOwned + fmt::Debug + serde::Serialize,
    {
        let params = self.apply_params();
        recover::retrying(&self.retry, || async {
            api.patch(name, &params, &Patch::Apply(obj))
                .await
                .map_err(|e| kube_error(format!("apply {kind} {name}"), e))
        })
        .await
    }

    async fn get_opt<K>(&self, api: &Api<K>, kind: &str, name: &str) -> Result<Option<K>>
    where
        K: Clone + DeserializeOwned + fmt::Debug,
    {
        recover::retrying(&self.retry, || async {
            api.get_opt(name)
                .await
                .map_err(|e| kube_error(format!("read {kind} {name}"), e))
        })
        .await
    }

    async fn ensure_namespace(&self, target: &StageService) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = manifest::namespace(target);
        self.apply(&api, "Namespace", &target.namespace(), &ns)
            .await?;
        Ok(())
    }

    async fn scale_deployment(
        &self,
        target: &StageService,
        name: &str,
        replicas: u32,
    ) -> Result<()> {
        let patch = json!({ "spec": { "replicas": replicas } });
        let api = self.deployments(target);
        recover::retrying(&self.retry, || async {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| {
                    kube_error(
                        format!(
                            "scale Deployment {}/{name} to {replicas}",
                            target.namespace()
                        ),
                        e,
                    )
                })
        })
        .await?;
        Ok(())
    }

    /// Points the public Service (and, with Istio routing, the VirtualService) at `role`.
    async fn switch_traffic(&self, target: &StageService, role: Role) -> Result<()> {
        let name = target.service.as_str();
        if self.routing == TrafficRouting::IstioVirtualService {
            let gvk = GroupVersionKind::gvk("networking.istio.io", "v1beta1", "VirtualService");
            let ar = ApiResource::from_gvk(&gvk);
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &target.namespace(), &ar);
            let weight = if role == Role::Canary { 100 } else { 0 };
            let port = self.template(&target.service).primary_port();
            let vs: DynamicObject =
                serde_json::from_value(manifest::virtual_service(target, weight, port))
                    .map_err(|e| Error::invalid("VirtualService", e.to_string()))?;
            self.apply(&api, "VirtualService", name, &vs).await?;
        }
        let patch = json!({ "spec": { "selector": { manifest::ROLE_LABEL: role.as_str() } } });
        let api = self.services_api(target);
        recover::retrying(&self.retry, || async {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| {
                    kube_error(
                        format!("switch Service {}/{name} to {role}", target.namespace()),
                        e,
                    )
                })
        })
        .await?;
        Ok(())
    }

    /// Watches Deployment `name` until its rollout completes, fails, or the timeout expires.
    async fn wait_rollout(
        &self,
        target: &StageService,
        name: &str,
    ) -> std::result::Result<(), WaitFailure> {
        let api = self.deployments(target);
        let mut last = String::from("the Deployment was not observed yet");
        let watch = async {
            let stream = watch_object(api, name);
            futures::pin_mut!(stream);
            loop {
                match stream.next().await {
                    None => return Err(WaitFailure::Failed("the watch ended".into())),
                    Some(Err(e)) => {
                        // the watcher re-lists by itself; back off briefly so a persistent
                        // error cannot spin
                        last = format!("watch error: {e}");
                        tracing::warn!(deployment = name, error = %e, "watch error while awaiting rollout");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Some(Ok(None)) => last = "the Deployment does not exist".into(),
                    Some(Ok(Some(d))) => match rollout_state(&d) {
                        RolloutState::Complete => return Ok(()),
                        RolloutState::Failed(reason) => return Err(WaitFailure::Failed(reason)),
                        RolloutState::Progressing(state) => last = state,
                    },
                }
            }
        };
        match tokio::time::timeout(self.rollout_timeout, watch).await {
            Ok(r) => r,
            Err(_) => Err(WaitFailure::TimedOut(last)),
        }
    }

    fn rollout_error(
        &self,
        target: &StageService,
        name: &str,
        failure: WaitFailure,
        rolled_back: bool,
    ) -> Error {
        let object = format!("Deployment {}/{name}", target.namespace());
        match failure {
            WaitFailure::Failed(reason) => Error::RolloutFailed {
                object,
                reason,
                rolled_back,
            },
            WaitFailure::TimedOut(last_state) => Error::RolloutTimedOut {
                object,
                timeout: self.rollout_timeout,
                last_state,
                rolled_back,
            },
        }
    }

    fn replicas_from(values: &serde_json::Map<String, serde_json::Value>) -> Result<Option<u32>> {
        match values
            .get("replicaCount")
            .or_else(|| values.get("replicas"))
        {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid(
                        "replicaCount",
                        format!("expected a non-negative integer, got {v}"),
                    )
                }),
        }
    }

    fn uris(&self, target: &StageService, local_name: &str) -> (Vec<String>, Vec<String>) {
        let port = self.template(&target.service).primary_port();
        let local = vec![manifest::service_uri(target, local_name, port)];
        let public = self
            .public_domain
            .as_ref()
            .map(|d| {
                vec![format!(
                    "http://{}.{}.{d}",
                    target.service,
                    target.namespace()
                )]
            })
            .unwrap_or_default();
        (local, public)
    }

    /// Reads the Deployment `{service}` and refuses to continue if it has another role.
    async fn existing_own(
        &self,
        target: &StageService,
        expected: Role,
    ) -> Result<Option<Deployment>> {
        let name = target.service.as_str();
        let existing = self
            .get_opt(&self.deployments(target), "Deployment", name)
            .await?;
        if let Some(existing) = &existing {
            let role = deployment_role(existing);
            if role.is_some() && role != Some(expected) {
                return Err(Error::invalid(
                    "strategy",
                    format!(
                        "Deployment {}/{name} exists as `{}`; switching strategies needs it deleted first",
                        target.namespace(),
                        role.map_or("", Role::as_str)
                    ),
                ));
            }
        }
        Ok(existing)
    }
}

fn kube_error(action: String, e: kube::Error) -> Error {
    Error::Kubernetes {
        action,
        source: Box::new(e),
    }
}

fn deployment_role(d: &Deployment) -> Option<Role> {
    d.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(manifest::ROLE_LABEL))
        .and_then(|r| Role::from_label(r))
}

fn deployment_image(d: &Deployment) -> String {
    d.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(manifest::IMAGE_ANNOTATION).cloned())
        .or_else(|| {
            compat::spec(d)
                .and_then(|s| s.template.spec.as_ref())
                .and_then(|p| p.containers.first())
                .and_then(|c| c.image.clone())
        })
        .unwrap_or_default()
}

fn deployment_strategy(d: &Deployment) -> Option<DeploymentStrategy> {
    d.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(manifest::STRATEGY_ANNOTATION))
        .and_then(|s| s.parse().ok())
}

fn replicas_of(d: &Deployment) -> (u32, u32) {
    let desired = compat::spec(d).and_then(|s| s.replicas).unwrap_or(1);
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    (
        u32::try_from(desired).unwrap_or(0),
        u32::try_from(ready).unwrap_or(0),
    )
}

fn running(d: &Deployment) -> RunningVersion {
    let (desired, ready) = replicas_of(d);
    RunningVersion::new(
        d.metadata.name.clone().unwrap_or_default(),
        deployment_image(d),
        desired,
        ready,
    )
}

/// The object as we would apply it: name, namespace, labels, annotations and spec only.
fn clean_copy(d: &Deployment) -> Deployment {
    compat::deployment(
        kube::api::ObjectMeta {
            name: d.metadata.name.clone(),
            namespace: d.metadata.namespace.clone(),
            labels: d.metadata.labels.clone(),
            annotations: d.metadata.annotations.as_ref().map(|a| {
                a.iter()
                    .filter(|(k, _)| {
                        !k.starts_with("deployment.kubernetes.io/")
                            && k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            ..Default::default()
        },
        compat::spec(d).cloned().unwrap_or_default(),
    )
}

#[async_trait]
impl Deployer for KubeDeployer {
    fn name(&self) -> &str {
        "kubernetes"
    }

    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
        let replicas = Self::replicas_from(&request.values)?;
        if request.strategy == DeploymentStrategy::UserManaged {
            return Ok(self.result_for(request));
        }
        self.ensure_namespace(&request.target).await?;
        match request.strategy {
            DeploymentStrategy::BlueGreenService => self.deploy_blue_green(request, replicas).await,
            _ => self.deploy_direct(request, replicas).await,
        }
    }

    async fn deployed(&self, request: &DeploymentRequest) -> Result<Option<DeploymentResult>> {
        self.left_by(request).await
    }

    async fn promote(&self, target: &StageService) -> Result<ServiceStatus> {
        let api = self.deployments(target);
        let canary_name = Role::Canary.deployment_name(&target.service);
        let primary_name = Role::Primary.deployment_name(&target.service);
        let Some(canary) = self.get_opt(&api, "Deployment", &canary_name).await? else {
            return Err(Error::NoCanary {
                target: target.clone(),
            });
        };
        match deployment_role(&canary) {
            Some(Role::Canary) => {}
            // direct services have nothing to promote (Keptn's helm-service ignores it too)
            _ => return self.status(target).await,
        }
        if replicas_of(&canary).0 == 0 {
            return Err(Error::NoCanary {
                target: target.clone(),
            });
        }
        let previous = self.get_opt(&api, "Deployment", &primary_name).await?;
        let replicas = previous.as_ref().map(|p| replicas_of(p).0);
        self.switch_traffic(target, Role::Canary).await?;
        self.drain_switch(target, Role::Canary).await;
        let primary = manifest::primary_from_canary(target, &canary, replicas);
        if let Err(e) = self
            .apply(&api, "Deployment", &primary_name, &primary)
            .await
        {
            // the primary was not touched and still runs the serving version: send the public
            // traffic back to it (retried); the apply error is what the caller must see, with
            // the state left when even that fails
            if previous.is_some() {
                match self.switch_traffic(target, Role::Primary).await {
                    Ok(()) => self.drain_switch(target, Role::Primary).await,
                    Err(back) => {
                        let state = format!(
                            "Service {}/{} still selects the canary (the new version); switching it back failed: {}",
                            target.namespace(),
                            target.service,
                            recover::described(&back)
                        );
                        return Err(recover::with_state(e, &state));
                    }
                }
            }
            return Err(e);
        }
        if let Err(failure) = self.wait_rollout(target, &primary_name).await {
            let left = self
                .restore_after_failed_promote(target, previous.as_ref())
                .await;
            let error = self.rollout_error(target, &primary_name, failure, left.is_ok());
            return Err(match left {
                Ok(()) => error,
                Err(state) => recover::with_state(error, &state),
            });
        }
        self.switch_traffic(target, Role::Primary).await?;
        self.drain_switch(target, Role::Primary).await;
        self.scale_deployment(target, &canary_name, 0).await?;
        self.status(target).await
    }

    async fn rollback(&self, target: &StageService) -> Result<ServiceStatus> {
        let api = self.deployments(target);
        let canary_name = Role::Canary.deployment_name(&target.service);
        let Some(canary) = self.get_opt(&api, "Deployment", &canary_name).await? else {
            return self.status(target).await;
        };
        if deployment_role(&canary) == Some(Role::Canary) {
            self.switch_traffic(target, Role::Primary).await?;
            self.scale_deployment(target, &canary_name, 0).await?;
        }
        self.status(target).await
    }

    async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
        let api = self.deployments(target);
        let name = target.service.as_str();
        let own = self.get_opt(&api, "Deployment", name).await?;
        let mut status = ServiceStatus::absent(target.clone());
        match own.as_ref().map(|d| (d, deployment_role(d))) {
            None => {}
            Some((d, Some(Role::Direct) | None)) => {
                status.strategy = deployment_strategy(d).or(Some(DeploymentStrategy::Direct));
                status.serving = Some(running(d));
            }
            Some((canary, Some(_))) => {
                status.strategy =
                    deployment_strategy(canary).or(Some(DeploymentStrategy::BlueGreenService));
                let primary = self
                    .get_opt(
                        &api,
                        "Deployment",
                        &Role::Primary.deployment_name(&target.service),
                    )
                    .await?;
                let svc = self
                    .get_opt(&self.services_api(target), "Service", name)
                    .await?;
                let selected = svc
                    .as_ref()
                    .and_then(|s| s.spec.as_ref())
                    .and_then(|s| s.selector.as_ref())
                    .and_then(|s| s.get(manifest::ROLE_LABEL))
                    .and_then(|r| Role::from_label(r))
                    .unwrap_or(Role::Primary);
                let canary_running = replicas_of(canary).0 > 0;
                if selected == Role::Canary {
                    status.serving = Some(running(canary));
                } else {
                    status.serving = primary.as_ref().map(running);
                    if canary_running {
                        status.canary = Some(running(canary));
                    }
                }
            }
        }
        Ok(status)
    }

    async fn scale(&self, target: &StageService, replicas: u32) -> Result<ServiceStatus> {
        let status = self.status(target).await?;
        let Some(serving) = &status.serving else {
            return Err(Error::NotDeployed {
                target: target.clone(),
            });
        };
        self.scale_deployment(target, &serving.name.clone(), replicas)
            .await?;
        self.status(target).await
    }
}

impl KubeDeployer {
    /// The image `artifact` would run as in `target` — a convenience for callers that print
    /// plans; it performs no API call.
    pub fn planned_deployment(
        &self,
        target: &StageService,
        artifact: &Artifact,
        strategy: DeploymentStrategy,
    ) -> Deployment {
        let role = if strategy == DeploymentStrategy::BlueGreenService {
            Role::Canary
        } else {
            Role::Direct
        };
        manifest::deployment(
            target,
            artifact,
            role,
            strategy,
            self.template(&target.service),
            None,
        )
    }
}
