//! [`KubeScaler`]: the [`Scaler`] port on a Kubernetes cluster, through the Deployment's
//! `scale` subresource.

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};

use crate::scaling::{ScaleError, Scaler};

/// The field manager the scaler writes replicas as.
pub const FIELD_MANAGER: &str = "keptn-remediate";

/// How long one call to the API server may take unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and sets `spec.replicas` of a Deployment through its `scale` subresource
/// (`/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale`), as `kubectl scale` does.
///
/// Every call is bounded by [`timeout`](Self::timeout). The Service account needs `get` and
/// `patch` on `deployments/scale` in the namespaces it scales. The change is a merge patch of
/// `spec.replicas` only, so it does not take ownership of the rest of the Deployment (a
/// deployer using server-side apply keeps its fields; set `replicas` in its manifest only if
/// it should win over remediation).
///
/// ```no_run
/// use keptn_remediate::kubernetes::KubeScaler;
/// use keptn_remediate::{ActionRegistry, ScalingAction};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = kube::Client::try_default().await?;
/// let registry = ActionRegistry::new().with(ScalingAction::new(KubeScaler::new(client)));
/// # drop(registry);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KubeScaler {
    client: kube::Client,
    timeout: Duration,
}

impl std::fmt::Debug for KubeScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds credentials; only the settings are shown.
        f.debug_struct("KubeScaler")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KubeScaler {
    /// A scaler using `client` (e.g. `kube::Client::try_default()` for the current
    /// KUBECONFIG context or the in-cluster service account).
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets how long one call to the API server may take (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn api(&self, namespace: &str) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn bounded<T>(
        &self,
        namespace: &str,
        deployment: &str,
        what: &str,
        call: impl std::future::Future<Output = kube::Result<T>>,
    ) -> Result<T, ScaleError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ScaleError::new(namespace, deployment, describe(what, &e))),
            Err(_) => Err(ScaleError::new(
                namespace,
                deployment,
                format!(
                    "{what}: no answer from the Kubernetes API within {:?}",
                    self.timeout
                ),
            )),
        }
    }
}

/// A short, credential-free description of a kube error.
fn describe(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => {
            let code = status.code;
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", status.reason)
            };
            let hint = match code {
                404 => "; the deployment does not exist",
                401 | 403 => "; the credentials may not get/patch deployments/scale here",
                _ => "",
            };
            format!("{what}: HTTP {code}{reason}: {}{hint}", status.message)
        }
        other => format!("{what}: {other}"),
    }
}

#[async_trait]
impl Scaler for KubeScaler {
    async fn replicas(&self, namespace: &str, deployment: &str) -> Result<u32, ScaleError> {
        let api = self.api(namespace);
        let scale = self
            .bounded(
                namespace,
                deployment,
                "reading the scale",
                api.get_scale(deployment),
            )
            .await?;
        let replicas = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
        u32::try_from(replicas).map_err(|_| {
            ScaleError::new(
                namespace,
                deployment,
                format!("the API server reported {replicas} replicas"),
            )
        })
    }

    async fn set_replicas(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: u32,
    ) -> Result<(), ScaleError> {
        let api = self.api(namespace);
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        self.bounded(
            namespace,
            deployment,
            "setting the replicas",
            api.patch_scale(deployment, &params, &Patch::Merge(&patch)),
        )
        .await
        .map(drop)
    }
}
