//! The `Deployer` port: deploy, promote, roll back, inspect and scale one service in one stage.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::{Deserialize, Serialize};

use crate::{DeploymentStrategy, Result};

/// One service in one stage of a project: what a deployer acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StageService {
    /// The project, such as `sockshop`.
    pub project: ProjectName,
    /// The stage, such as `staging`.
    pub stage: StageName,
    /// The service, such as `carts`.
    pub service: ServiceName,
}

impl StageService {
    /// The service `service` in `stage` of `project`.
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project,
            stage,
            service,
        }
    }

    /// Keptn's namespace for this stage: `{project}-{stage}`.
    pub fn namespace(&self) -> String {
        keptn_spec::names::namespace(&self.project, &self.stage)
    }
}

impl fmt::Display for StageService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.stage, self.service)
    }
}

/// A container image reference such as `docker.io/keptnexamples/carts:0.11.1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Artifact(String);

/// An image reference that cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image `{image}`: {reason}")]
pub struct InvalidArtifact {
    /// The rejected string.
    pub image: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl Artifact {
    /// Validates an image reference (`[registry/]repository[:tag][@digest]`).
    ///
    /// # Errors
    /// [`InvalidArtifact`] when the string is empty, contains whitespace or upper-case letters in
    /// the repository, or ends with `:`.
    pub fn new(image: impl Into<String>) -> std::result::Result<Self, InvalidArtifact> {
        let image = image.into();
        let fail = |reason| {
            Err(InvalidArtifact {
                image: image.clone(),
                reason,
            })
        };
        if image.is_empty() {
            return fail("it is empty");
        }
        if image.chars().any(char::is_whitespace) {
            return fail("it contains whitespace");
        }
        if image.ends_with(':') || image.ends_with('/') || image.starts_with('/') {
            return fail("it ends with `:` or `/` or starts with `/`");
        }
        let repo = image.split('@').next().unwrap_or_default();
        let repo_path = repo.rsplit_once('/').map_or(repo, |(_, last)| last);
        let repo_name = repo_path.split(':').next().unwrap_or_default();
        if repo_name.chars().any(|c| c.is_ascii_uppercase()) {
            return fail("repository names must be lowercase");
        }
        Ok(Self(image))
    }

    /// The full reference.
    pub fn image(&self) -> &str {
        &self.0
    }

    /// The tag (`0.11.1` in `carts:0.11.1`), `latest` when none is given (as container runtimes
    /// assume), or the digest when the reference is pinned by digest.
    pub fn tag(&self) -> &str {
        if let Some((_, digest)) = self.0.split_once('@') {
            return digest;
        }
        let last = self.0.rsplit('/').next().unwrap_or(&self.0);
        last.split_once(':').map_or("latest", |(_, tag)| tag)
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Artifact {
    type Err = InvalidArtifact;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Artifact {
    type Error = InvalidArtifact;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<Artifact> for String {
    fn from(a: Artifact) -> String {
        a.0
    }
}

/// What to deploy: Keptn's `deployment.triggered` for one service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeploymentRequest {
    /// Where to deploy.
    pub target: StageService,
    /// The new version.
    pub artifact: Artifact,
    /// How to roll it out.
    pub strategy: DeploymentStrategy,
    /// Keptn's `configurationChange.values` (the image is also there as `image`); deployers
    /// that understand more values (replicas, env) read them from here.
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The event's labels; deployers may attach them to what they create.
    pub labels: BTreeMap<String, String>,
}

impl DeploymentRequest {
    /// A request to deploy `artifact` to `target` with `strategy`; `values` gets `image`.
    pub fn new(target: StageService, artifact: Artifact, strategy: DeploymentStrategy) -> Self {
        let mut values = serde_json::Map::new();
        values.insert(
            "image".to_owned(),
            serde_json::Value::String(artifact.image().to_owned()),
        );
        Self {
            target,
            artifact,
            strategy,
            values,
            labels: BTreeMap::new(),
        }
    }

    /// Adds configuration values (Keptn's `configurationChange.values`).
    #[must_use]
    pub fn with_values(mut self, values: serde_json::Map<String, serde_json::Value>) -> Self {
        self.values.extend(values);
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }
}

/// What a deployment produced: Keptn's `deployment.finished` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentResult {
    /// The strategy used (Keptn's `deploymentstrategy`).
    #[serde(rename = "deploymentstrategy")]
    pub strategy: DeploymentStrategy,
    /// Which deployments run the new version: `canary`, `direct`, `user-managed`
    /// (Keptn's `deploymentNames`).
    #[serde(rename = "deploymentNames")]
    pub deployment_names: Vec<String>,
    /// URIs reachable inside the cluster / platform, where tests should go
    /// (Keptn's `deploymentURIsLocal`).
    #[serde(rename = "deploymentURIsLocal")]
    pub uris_local: Vec<String>,
    /// Public URIs, when known (Keptn's `deploymentURIsPublic`).
    #[serde(rename = "deploymentURIsPublic")]
    pub uris_public: Vec<String>,
    /// The image that was deployed.
    pub image: String,
}

impl DeploymentResult {
    /// A result with no URIs.
    pub fn new(strategy: DeploymentStrategy, deployment_names: Vec<String>, image: String) -> Self {
        Self {
            strategy,
            deployment_names,
            uris_local: Vec::new(),
            uris_public: Vec::new(),
            image,
        }
    }

    /// Sets the local URIs.
    #[must_use]
    pub fn with_uris_local(mut self, uris: Vec<String>) -> Self {
        self.uris_local = uris;
        self
    }

    /// Sets the public URIs.
    #[must_use]
    pub fn with_uris_public(mut self, uris: Vec<String>) -> Self {
        self.uris_public = uris;
        self
    }
}

/// One running version of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunningVersion {
    /// The backend's name for it (the Kubernetes Deployment `carts-primary`, …).
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Replicas that are ready.
    pub ready_replicas: u32,
}

impl RunningVersion {
    /// A running version.
    pub fn new(
        name: impl Into<String>,
        image: impl Into<String>,
        replicas: u32,
        ready: u32,
    ) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            replicas,
            ready_replicas: ready,
        }
    }
}

/// Which version of a service serves and which one waits as canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// The service.
    pub target: StageService,
    /// The strategy the service is deployed with, if it is deployed at all.
    pub strategy: Option<DeploymentStrategy>,
    /// The version that receives the service's traffic.
    pub serving: Option<RunningVersion>,
    /// A canary waiting for promotion or rollback (blue/green only; `None` when scaled to zero).
    pub canary: Option<RunningVersion>,
}

impl ServiceStatus {
    /// The status of a service that is not deployed.
    pub fn absent(target: StageService) -> Self {
        Self {
            target,
            strategy: None,
            serving: None,
            canary: None,
        }
    }

    /// The image that serves, if any.
    pub fn serving_image(&self) -> Option<&str> {
        self.serving.as_ref().map(|v| v.image.as_str())
    }

    /// The image of the pending canary, if any.
    pub fn canary_image(&self) -> Option<&str> {
        self.canary.as_ref().map(|v| v.image.as_str())
    }
}

/// Deploys services and switches their traffic: Keptn's helm-service role.
///
/// Contract:
/// - [`deploy`](Deployer::deploy) waits until the new version is ready (bounded by the
///   implementation's own timeout). With [`DeploymentStrategy::BlueGreenService`] the serving
///   version keeps all traffic; the new version runs beside it as canary. If the rollout fails or
///   times out, the implementation rolls back before returning the error, so the serving version
///   is untouched.
/// - [`promote`](Deployer::promote) makes the canary the serving version (Keptn's `release`);
///   [`rollback`](Deployer::rollback) discards the canary (Keptn's `rollback`/discard). Both are
///   no-ops returning the status for strategies without a canary.
/// - Errors are reported, never swallowed; implementations never block a thread.
///
/// Three methods are required: [`name`](Deployer::name), [`deploy`](Deployer::deploy) and
/// [`status`](Deployer::status). The others have defaults for a deployer without canaries or
/// scaling, and the defaults never pretend: [`promote`](Deployer::promote) and
/// [`rollback`](Deployer::rollback) return the status when [`status`](Deployer::status) shows no
/// pending canary (nothing to switch, as for a direct deployment) and
/// [`Error::Unsupported`](crate::Error::Unsupported) when one is pending;
/// [`scale`](Deployer::scale) always returns [`Error::Unsupported`](crate::Error::Unsupported).
/// A deployer that runs blue/green canaries or scales overrides them.
///
/// Implementing it (with the re-exported [`async_trait`](crate::async_trait)):
///
/// ```
/// use keptn_deploy::{
///     Deployer, DeploymentRequest, DeploymentResult, Error, Result, RunningVersion,
///     ServiceStatus, StageService, async_trait,
/// };
///
/// /// Logs what it was asked to deploy; a real one would call its platform.
/// #[derive(Debug, Default)]
/// struct LogDeployer;
///
/// #[async_trait]
/// impl Deployer for LogDeployer {
///     fn name(&self) -> &str {
///         "log"
///     }
///     async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
///         println!("deploy {} to {}", request.artifact, request.target);
///         let names = vec![request.strategy.deployment_name().to_owned()];
///         Ok(DeploymentResult::new(request.strategy, names, request.artifact.to_string()))
///     }
///     async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
///         let mut status = ServiceStatus::absent(target.clone());
///         status.serving = Some(RunningVersion::new("primary", "unknown", 1, 1));
///         Ok(status)
///     }
/// }
///
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// # runtime.block_on(async {
/// let deployer: Box<dyn Deployer> = Box::new(LogDeployer);
/// let target = StageService::new("sockshop".parse()?, "dev".parse()?, "carts".parse()?);
/// // No canary is pending: promoting or rolling back has nothing to switch.
/// assert!(deployer.promote(&target).await?.canary.is_none());
/// // Scaling was not implemented: the default says so instead of pretending.
/// let err = deployer.scale(&target, 3).await.unwrap_err();
/// assert!(matches!(err, Error::Unsupported { operation: "scale", .. }), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait Deployer: Send + Sync + fmt::Debug {
    /// A short name for events and logs (`kubernetes`, `in-memory`, …).
    fn name(&self) -> &str;

    /// Rolls out `request.artifact` with `request.strategy` and waits until it is ready.
    ///
    /// # Errors
    /// The backend failed, or the rollout failed or timed out (after rolling back).
    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult>;

    /// Reports which version serves and which is canary.
    ///
    /// # Errors
    /// The backend failed.
    async fn status(&self, target: &StageService) -> Result<ServiceStatus>;

    /// Makes the pending canary the serving version.
    ///
    /// The default, for deployers without canaries, returns the [`status`](Deployer::status)
    /// when no canary is pending and [`Error::Unsupported`](crate::Error::Unsupported) when one
    /// is.
    ///
    /// # Errors
    /// There is no canary to promote, or the backend failed.
    async fn promote(&self, target: &StageService) -> Result<ServiceStatus> {
        without_canary(self, target, "promote").await
    }

    /// Discards the pending canary; the serving version keeps serving.
    ///
    /// The default, for deployers without canaries, returns the [`status`](Deployer::status)
    /// when no canary is pending and [`Error::Unsupported`](crate::Error::Unsupported) when one
    /// is.
    ///
    /// # Errors
    /// The backend failed.
    async fn rollback(&self, target: &StageService) -> Result<ServiceStatus> {
        without_canary(self, target, "rollback").await
    }

    /// Sets the replica count of the serving version.
    ///
    /// The default returns [`Error::Unsupported`](crate::Error::Unsupported).
    ///
    /// # Errors
    /// The service is not deployed, or the backend failed.
    async fn scale(&self, target: &StageService, replicas: u32) -> Result<ServiceStatus> {
        Err(crate::Error::Unsupported {
            deployer: self.name().to_owned(),
            operation: "scale",
            reason: format!("cannot set {target} to {replicas} replicas"),
        })
    }

    /// What [`deploy`](Deployer::deploy) returned for `request`, when that version runs as
    /// `deploy` leaves it (the canary of a blue/green deployment, otherwise the serving
    /// version): for a caller that lost the result of a deployment it made — a control plane
    /// killed after `deploy` returned and before it stored the result — so it need not deploy
    /// again. `None` when that version does not run so, or when the implementation cannot tell
    /// (the default: the caller then deploys again).
    ///
    /// # Errors
    /// The backend failed.
    async fn deployed(&self, request: &DeploymentRequest) -> Result<Option<DeploymentResult>> {
        let _ = request;
        Ok(None)
    }
}

/// The default `promote`/`rollback`: nothing to switch without a canary; a pending canary this
/// deployer cannot switch is an error, never a silent success.
async fn without_canary<D: Deployer + ?Sized>(
    deployer: &D,
    target: &StageService,
    operation: &'static str,
) -> Result<ServiceStatus> {
    let status = deployer.status(target).await?;
    match &status.canary {
        None => Ok(status),
        Some(canary) => Err(crate::Error::Unsupported {
            deployer: deployer.name().to_owned(),
            operation,
            reason: format!(
                "{target} has a pending canary ({}) and this deployer does not switch traffic",
                canary.image
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags, digests and registries with ports are split correctly.
    #[test]
    fn artifact_tag() {
        let a = Artifact::new("docker.io/keptnexamples/carts:0.11.1").unwrap();
        assert_eq!(a.tag(), "0.11.1");
        assert_eq!(
            Artifact::new("localhost:5000/carts").unwrap().tag(),
            "latest"
        );
        assert_eq!(
            Artifact::new("carts@sha256:abc").unwrap().tag(),
            "sha256:abc"
        );
    }

    /// Bad image strings are rejected with the reason.
    #[test]
    fn artifact_rejects_bad_images() {
        assert_eq!(
            Artifact::new("").unwrap_err().to_string(),
            "invalid image ``: it is empty"
        );
        assert!(Artifact::new("carts :1").is_err());
        assert!(Artifact::new("carts:").is_err());
        assert!(Artifact::new("Carts:1").is_err());
    }

    /// A deployer with only the required methods: promote and rollback return the status
    /// while nothing is pending and refuse a pending canary; scale is refused. None pretends.
    #[tokio::test]
    async fn defaults_refuse_what_they_cannot_do() {
        #[derive(Debug)]
        struct Minimal(Option<RunningVersion>);
        #[async_trait]
        impl Deployer for Minimal {
            fn name(&self) -> &str {
                "minimal"
            }
            async fn deploy(&self, _: &DeploymentRequest) -> Result<DeploymentResult> {
                Err(crate::Error::backend("minimal", "not in this test"))
            }
            async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
                let mut s = ServiceStatus::absent(target.clone());
                s.serving = Some(RunningVersion::new("primary", "carts:1", 1, 1));
                s.canary.clone_from(&self.0);
                Ok(s)
            }
        }
        let target = StageService::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
        );
        let plain = Minimal(None);
        assert_eq!(
            plain.promote(&target).await.unwrap().serving_image(),
            Some("carts:1")
        );
        assert!(plain.rollback(&target).await.unwrap().canary.is_none());
        let err = plain.scale(&target, 2).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "deployer `minimal` does not support scale: cannot set sockshop/staging/carts to 2 replicas"
        );
        let pending = Minimal(Some(RunningVersion::new("canary", "carts:2", 1, 1)));
        for (op, result) in [
            ("promote", pending.promote(&target).await),
            ("rollback", pending.rollback(&target).await),
        ] {
            match result {
                Err(crate::Error::Unsupported {
                    deployer,
                    operation,
                    reason,
                }) => {
                    assert_eq!((deployer.as_str(), operation), ("minimal", op));
                    assert!(reason.contains("carts:2"), "{reason}");
                }
                other => panic!("{op}: {other:?}"),
            }
        }
    }

    /// The deployment result serializes with Keptn's field names.
    #[test]
    fn deployment_result_uses_keptn_field_names() {
        let r = DeploymentResult::new(
            DeploymentStrategy::BlueGreenService,
            vec!["canary".into()],
            "carts:1".into(),
        )
        .with_uris_local(vec!["http://carts-canary.sockshop-staging".into()]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["deploymentstrategy"], "blue_green_service");
        assert_eq!(v["deploymentNames"][0], "canary");
        assert_eq!(
            v["deploymentURIsLocal"][0],
            "http://carts-canary.sockshop-staging"
        );
    }
}
