//! Waiting for a Service switch to reach the data plane before the pods it left are touched.
//!
//! Patching a Service's selector is instant in the API server, but the endpoints controller
//! must then rewrite the Service's Endpoints and every node's kube-proxy its rules (measured on
//! a one-machine node: about 0.2 s; kube-proxy's default minimum sync period is 1 s). Scaling
//! the old pods down before that sends new connections to pods that are shutting down. With
//! [`KubeDeployer::with_switch_drain`](super::KubeDeployer::with_switch_drain) the deployer
//! waits until the Endpoints list only pods of the new role, then a settle time for kube-proxy.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Pod};
use kube::api::{Api, ListParams};

use super::manifest::{self, Role};
use crate::StageService;

/// How long to wait for a switch to show in the Endpoints, and to settle after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SwitchDrain {
    /// Longest wait for the Endpoints to list only the new role's pods.
    pub(super) endpoints_timeout: Duration,
    /// Extra time for kube-proxy (on every node) to apply the Endpoints.
    pub(super) settle: Duration,
}

/// The IPs the Endpoints `name` lists as ready; `None` when there is no such object (a cluster
/// without the endpoints controller: nothing to wait for).
async fn ready_ips(api: &Api<Endpoints>, name: &str) -> Option<BTreeSet<String>> {
    let ep = api.get_opt(name).await.ok()??;
    Some(
        ep.subsets
            .unwrap_or_default()
            .into_iter()
            .flat_map(|s| s.addresses.unwrap_or_default())
            .map(|a| a.ip)
            .collect(),
    )
}

/// The IPs of the pods of `role` that are not terminating.
async fn pod_ips(client: &kube::Client, target: &StageService, role: Role) -> BTreeSet<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &target.namespace());
    let selector = manifest::selector_labels(target, role)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    api.list(&ListParams::default().labels(&selector))
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| p.status.and_then(|s| s.pod_ip))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the Endpoints of the public Service of `target` list only (and at least one)
/// pods of `role`, at most `drain.endpoints_timeout`, then `drain.settle`. Returns whether the
/// Endpoints were seen switched (`false`: no Endpoints object, or the wait timed out; the
/// caller goes on either way, as before).
pub(super) async fn await_switch(
    client: &kube::Client,
    target: &StageService,
    role: Role,
    drain: SwitchDrain,
) -> bool {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), &target.namespace());
    let name = target.service.as_str();
    let deadline = tokio::time::Instant::now() + drain.endpoints_timeout;
    let mut switched = false;
    loop {
        let Some(listed) = ready_ips(&api, name).await else {
            return false;
        };
        if !listed.is_empty() {
            let own = pod_ips(client, target, role).await;
            if listed.is_subset(&own) {
                switched = true;
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                service = name,
                role = role.as_str(),
                "the Service's Endpoints did not switch in time"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(drain.settle).await;
    switched
}
