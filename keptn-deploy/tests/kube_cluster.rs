//! The Kubernetes deployer against a real API server.
//!
//! Runs when `KUBECONFIG` is set (CI starts a real kube-apiserver v1.20 + etcd +
//! kube-controller-manager with `../shared/tools/kube-apiserver-up.sh` and runs its
//! `fake-kubelet` so pods become Ready); skipped with a message otherwise. Each test works in its
//! own namespaces (`it<random>-<stage>`) and deletes them at the end.
//!
//! Against v1.20 this shows: server-side apply with our field manager, the Deployment
//! controller's real status for readiness, Service selector switching, rollback when pods cannot
//! be created (a LimitRange refuses them). It cannot show a real kubelet's probes or traffic
//! actually flowing through the Service.
#![cfg(feature = "kube")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Service};
use keptn_deploy::kubernetes::{KubeDeployer, ServiceTemplate};
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentStrategy, Error, StageService,
};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

async fn client() -> Option<kube::Client> {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!(
            "skipping: KUBECONFIG is not set (start ../shared/tools/kube-apiserver-up.sh up DIR and its fake-kubelet, then export KUBECONFIG=DIR/kubeconfig)"
        );
        return None;
    }
    Some(
        kube::Client::try_default()
            .await
            .expect("KUBECONFIG is set but unusable"),
    )
}

fn unique_project() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("it{n}")
}

fn target(project: &str, stage: &str) -> StageService {
    StageService::new(
        project.parse().unwrap(),
        stage.parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

fn req(t: &StageService, tag: &str, strategy: DeploymentStrategy) -> DeploymentRequest {
    DeploymentRequest::new(
        t.clone(),
        Artifact::new(format!("docker.io/keptnexamples/carts:{tag}")).unwrap(),
        strategy,
    )
}

fn deployer(client: kube::Client, timeout: Duration) -> KubeDeployer {
    KubeDeployer::new(client)
        .with_rollout_timeout(timeout)
        .with_default_template(
            ServiceTemplate::new()
                .service_port(80, 8080)
                .readiness_path("/health"),
        )
}

async fn image_of(client: &kube::Client, ns: &str, name: &str) -> (String, i32) {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap();
    let v = serde_json::to_value(&d).unwrap();
    (
        v["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_owned(),
        v["spec"]["replicas"].as_i64().unwrap_or(1) as i32,
    )
}

async fn selector_role(client: &kube::Client, ns: &str) -> String {
    let s = Api::<Service>::namespaced(client.clone(), ns)
        .get("carts")
        .await
        .unwrap();
    s.spec.unwrap().selector.unwrap()["keptn.sh/deployment"].clone()
}

async fn cleanup(client: &kube::Client, ns: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(ns, &DeleteParams::default())
        .await;
}

/// The Keptn tutorial's staging flow on a real API server: first version serves, a second waits as canary
/// while the primary keeps serving, rollback discards it, a third is promoted.
#[tokio::test]
async fn blue_green_lifecycle_on_a_real_api_server() {
    let Some(client) = client().await else { return };
    let project = unique_project();
    let t = target(&project, "staging");
    let ns = t.namespace();
    let d = deployer(client.clone(), Duration::from_secs(60));
    let bg = DeploymentStrategy::BlueGreenService;

    let r = d.deploy(&req(&t, "0.11.1", bg)).await.unwrap();
    assert_eq!(r.uris_local, [format!("http://carts-canary.{ns}")]);
    d.promote(&t).await.unwrap();
    assert_eq!(
        image_of(&client, &ns, "carts-primary").await.0,
        "docker.io/keptnexamples/carts:0.11.1"
    );

    d.deploy(&req(&t, "0.11.2", bg)).await.unwrap();
    let s = d.status(&t).await.unwrap();
    assert_eq!(
        s.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(
        s.canary_image(),
        Some("docker.io/keptnexamples/carts:0.11.2")
    );
    assert_eq!(
        selector_role(&client, &ns).await,
        "primary",
        "the primary serves while the canary waits"
    );

    let s = d.rollback(&t).await.unwrap();
    assert_eq!(
        s.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(s.canary, None);
    assert_eq!(
        image_of(&client, &ns, "carts").await.1,
        0,
        "canary scaled to zero"
    );

    d.deploy(&req(&t, "0.11.3", bg)).await.unwrap();
    let s = d.promote(&t).await.unwrap();
    assert_eq!(
        s.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.3")
    );
    assert_eq!(
        image_of(&client, &ns, "carts-primary").await.0,
        "docker.io/keptnexamples/carts:0.11.3"
    );
    assert_eq!(selector_role(&client, &ns).await, "primary");

    let s = d.scale(&t, 2).await.unwrap();
    assert_eq!(s.serving.unwrap().replicas, 2);
    cleanup(&client, &ns).await;
}

/// Refuses every new pod in a namespace, as a broken build or exhausted cluster would.
async fn refuse_new_pods(client: &kube::Client, ns: &str) {
    let lr: LimitRange = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": { "name": "refuse-new-pods" },
        "spec": { "limits": [ { "type": "Pod", "max": { "memory": "1" } } ] }
    }))
    .unwrap();
    Api::<LimitRange>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &lr)
        .await
        .unwrap();
}

/// A canary whose pods can never start times out, is scaled to zero, and the primary keeps
/// serving the old version.
#[tokio::test]
async fn failed_blue_green_rollout_leaves_the_primary_serving() {
    let Some(client) = client().await else { return };
    let project = unique_project();
    let t = target(&project, "staging");
    let ns = t.namespace();
    let d = deployer(client.clone(), Duration::from_secs(60));
    let bg = DeploymentStrategy::BlueGreenService;
    d.deploy(&req(&t, "0.11.1", bg)).await.unwrap();
    d.promote(&t).await.unwrap();

    refuse_new_pods(&client, &ns).await;
    let d = deployer(client.clone(), Duration::from_secs(4));
    let err = d.deploy(&req(&t, "0.11.2", bg)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RolloutTimedOut {
                rolled_back: true,
                ..
            }
        ),
        "{err}"
    );
    let s = d.status(&t).await.unwrap();
    assert_eq!(
        s.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(s.canary, None);
    assert_eq!(selector_role(&client, &ns).await, "primary");
    assert_eq!(image_of(&client, &ns, "carts").await.1, 0);
    cleanup(&client, &ns).await;
}

/// A direct deployment replaces in place; a failed one re-applies the previous version.
#[tokio::test]
async fn direct_deploy_and_failed_redeploy_restore_the_previous_version() {
    let Some(client) = client().await else { return };
    let project = unique_project();
    let t = target(&project, "dev");
    let ns = t.namespace();
    let d = deployer(client.clone(), Duration::from_secs(60));
    let r = d
        .deploy(&req(&t, "0.11.1", DeploymentStrategy::Direct))
        .await
        .unwrap();
    assert_eq!(r.deployment_names, ["direct"]);
    d.deploy(&req(&t, "0.11.2", DeploymentStrategy::Direct))
        .await
        .unwrap();
    assert_eq!(
        image_of(&client, &ns, "carts").await.0,
        "docker.io/keptnexamples/carts:0.11.2"
    );

    refuse_new_pods(&client, &ns).await;
    let d = deployer(client.clone(), Duration::from_secs(4));
    let err = d
        .deploy(&req(&t, "0.11.3", DeploymentStrategy::Direct))
        .await
        .unwrap_err();
    assert!(err.is_rollout_failure(), "{err}");
    assert_eq!(
        image_of(&client, &ns, "carts").await.0,
        "docker.io/keptnexamples/carts:0.11.2"
    );
    let s = d.status(&t).await.unwrap();
    assert_eq!(
        s.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.2")
    );
    cleanup(&client, &ns).await;
}
