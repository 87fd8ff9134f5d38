//! [`KubeScaler`] against a real Kubernetes API server (kube-apiserver v1.20 + etcd +
//! kube-controller-manager, started by `scripts/kube-apiserver.sh` from `scripts/test-all.sh`).
//! Skipped, with a message, when `KUBECONFIG` is not set.
//!
//! Each test works in its own namespace and deletes it at the end. The API server has no real
//! kubelet, so this proves the `scale` subresource calls and the workflow around them, not pods
//! actually starting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use keptn_remediate::kubernetes::KubeScaler;
use keptn_remediate::{
    ActionRegistry, ActionStatus, Problem, RemediationStatus, Remediator, Scaler, ScalingAction,
};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

async fn client(test: &str) -> Option<kube::Client> {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!(
            "skipping {test}: KUBECONFIG is not set (scripts/test-all.sh starts a real kube-apiserver and exports it)"
        );
        return None;
    }
    Some(
        kube::Client::try_default()
            .await
            .expect("KUBECONFIG is set but unusable"),
    )
}

/// A fresh `<project>-production` namespace with `carts-primary` at `replicas`.
async fn setup(client: &kube::Client, replicas: i32) -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let project = format!("rs{nanos}");
    let ns = format!("{project}-production");
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "carts-primary"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "carts-primary"}},
            "template": {
                "metadata": {"labels": {"app": "carts-primary"}},
                "spec": {"containers": [{"name": "carts", "image": "docker.io/keptnexamples/carts:0.11.3"}]}
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    (project, ns)
}

async fn spec_replicas(client: &kube::Client, ns: &str) -> Option<i32> {
    Api::<Deployment>::namespaced(client.clone(), ns)
        .get("carts-primary")
        .await
        .unwrap()
        .spec
        .replicas
}

async fn teardown(client: &kube::Client, ns: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(ns, &DeleteParams::default())
        .await;
}

/// The Keptn tutorial's `Response time degradation` remediation (`scaling` `+1`) scales the real
/// Deployment from 1 to 2 replicas through the scale subresource; the undo step names the
/// way back.
#[tokio::test]
async fn scaling_remediation_changes_a_real_deployment() {
    let Some(client) = client("scaling_remediation_changes_a_real_deployment").await else {
        return;
    };
    let (project, ns) = setup(&client, 1).await;
    let scaler = KubeScaler::new(client.clone());
    assert_eq!(scaler.replicas(&ns, "carts-primary").await.unwrap(), 1);

    let registry = ActionRegistry::new().with(ScalingAction::new(scaler.clone()));
    let remediator = Remediator::builder(registry)
        .wait(Duration::from_millis(10))
        .build();
    remediator
        .add_remediation_yaml(
            project.parse().unwrap(),
            "production".parse().unwrap(),
            None,
            "remediations:\n- name: Response time degradation\n  actions:\n  - action: scaling\n    value: \"+1\"\n",
            Some("remediation.yaml"),
        )
        .unwrap();
    let problem = Problem::new(
        "PID-kube-1",
        "Response time degradation",
        project.parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap());
    let report = remediator.on_problem_open(problem).await;

    let step = &report.steps[0];
    assert_eq!(step.outcome.status, ActionStatus::Succeeded, "{report:#?}");
    assert_eq!(spec_replicas(&client, &ns).await, Some(2));
    assert_eq!(scaler.replicas(&ns, "carts-primary").await.unwrap(), 2);
    // Nobody reports the problem resolved, so after its only action the workflow escalates.
    assert_eq!(report.status, RemediationStatus::Escalated);
    let undo = step.outcome.undo.as_ref().expect("an undo step");
    assert_eq!(undo.value.as_ref().and_then(|v| v.as_text()), Some("-1"));

    scaler.set_replicas(&ns, "carts-primary", 1).await.unwrap();
    assert_eq!(spec_replicas(&client, &ns).await, Some(1));
    teardown(&client, &ns).await;
}

/// A missing Deployment is a reported failure naming the namespace, the deployment and the
/// API server's 404, never a silent success.
#[tokio::test]
async fn a_missing_deployment_is_a_clear_failure() {
    let Some(client) = client("a_missing_deployment_is_a_clear_failure").await else {
        return;
    };
    let (_, ns) = setup(&client, 1).await;
    let scaler = KubeScaler::new(client.clone()).timeout(Duration::from_secs(5));
    let err = scaler.replicas(&ns, "orders-primary").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&ns) && text.contains("orders-primary"),
        "{text}"
    );
    assert!(
        text.contains("404") && text.contains("does not exist"),
        "{text}"
    );
    let err = scaler
        .set_replicas(&ns, "orders-primary", 3)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // The existing Deployment was not touched.
    assert_eq!(spec_replicas(&client, &ns).await, Some(1));
    let debug = format!("{scaler:?}");
    assert!(
        !debug.contains("keptn-test-token") && debug.contains("timeout"),
        "{debug}"
    );
    teardown(&client, &ns).await;
}
