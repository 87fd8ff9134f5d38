//! Blue/green with real pods: `KubeDeployer` against the one-machine node of
//! `scripts/kube-node.sh` (kubelet, containerd, kube-proxy in iptables mode) running the images
//! `scripts/kube-node.sh images` built from this project's carts example. Requests go through
//! the Service's ClusterIP (kube-proxy's rules on this host), after checking that it routes to
//! the node's own bridge.
//!
//! Runs when `KUBE_NODE_KUBECONFIG` names the node's kubeconfig (`scripts/test-all.sh` starts
//! the node and sets it); skipped with a message otherwise. Each test works in its own
//! namespaces and deletes them at the end.
#![cfg(feature = "kube")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use keptn_deploy::kubernetes::{KubeDeployer, ServiceTemplate, reach};
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentStrategy, Error, StageService,
};
use kube::api::{Api, DeleteParams, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

const CARTS: &str = "keptn-rs.local/sample-carts";
const CRASHING: &str = "keptn-rs.local/sample-carts-crashing:0.0.1";
const UNREADY: &str = "keptn-rs.local/sample-carts-unready:0.0.1";

/// One test at a time on the node: on a 2-core machine, parallel rollouts and loads slow each
/// other's pods and kube-proxy enough to blur what a test measures.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn node() -> Option<kube::Client> {
    let Some(path) = std::env::var_os("KUBE_NODE_KUBECONFIG") else {
        eprintln!(
            "skipping: KUBE_NODE_KUBECONFIG is not set (scripts/kube-node.sh start DIR && scripts/kube-node.sh images DIR, then KUBE_NODE_KUBECONFIG=DIR/kubeconfig)"
        );
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("KUBE_NODE_KUBECONFIG is unreadable");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("KUBE_NODE_KUBECONFIG is unusable");
    Some(kube::Client::try_from(config).expect("a client for the node"))
}

fn deployer(client: &kube::Client, rollout_timeout: Duration) -> KubeDeployer {
    KubeDeployer::new(client.clone())
        .with_rollout_timeout(rollout_timeout)
        .with_switch_drain(Duration::from_secs(10), Duration::from_secs(1))
        .with_template(
            "carts".parse().unwrap(),
            ServiceTemplate::new()
                .service_port(80, 8080)
                .readiness_path("/health"),
        )
}

/// `carts` in stage `staging` of a project unique to this run.
fn target(prefix: &str) -> StageService {
    let project = format!("{prefix}{}", fastrand::u32(10_000..99_999));
    StageService::new(
        project.parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

async fn deploy(d: &KubeDeployer, t: &StageService, image: &str) -> keptn_deploy::Result<()> {
    let request = DeploymentRequest::new(
        t.clone(),
        Artifact::new(image).unwrap(),
        DeploymentStrategy::BlueGreenService,
    );
    d.deploy(&request).await.map(|_| ())
}

/// Deletes the namespace of `t` (and so everything the test created in it).
async fn clean_up(client: &kube::Client, t: &StageService) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(&t.namespace(), &DeleteParams::default()).await;
}

/// `http://CLUSTER-IP:80` of Service `name`, refused unless it routes to a local bridge.
async fn service_url(client: &kube::Client, t: &StageService, name: &str) -> String {
    let ip = reach::service_cluster_ip(client, &t.namespace(), name)
        .await
        .expect("the Service's ClusterIP routes locally");
    format!("http://{ip}:80")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn version_at(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client
        .get(format!("{url}/version"))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    body["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no version in {body}"))
}

/// The version answering at `url` once the address answers at all: kube-proxy's rules for a
/// Service whose pods just became ready may lag a moment (at most 10 s).
async fn version_soon(url: &str) -> String {
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match version_at(&client, url).await {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => panic!("{url} does not answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What a load of requests saw: per version the count, the failures, and when each version
/// was first and last seen.
#[derive(Debug, Default)]
struct Seen {
    ok: BTreeMap<String, u64>,
    failures: Vec<String>,
    first: BTreeMap<String, Instant>,
    last: BTreeMap<String, Instant>,
}

/// `workers` clients sending requests one after the other to `url` until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(url: &str, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tasks = (0..workers)
            .map(|_| {
                let (stop, seen, url) = (stop.clone(), seen.clone(), url.to_owned());
                tokio::spawn(async move {
                    // a new connection per request: each is routed by kube-proxy's current rules.
                    // A kept-alive connection stays with its pod across a switch and races that
                    // pod's shutdown (the server closes it while a request is on the way), which
                    // no Service switch can prevent; the app's own SIGTERM drain would.
                    let client = reqwest::Client::builder()
                        .no_proxy()
                        .timeout(Duration::from_secs(5))
                        .pool_max_idle_per_host(0)
                        .build()
                        .unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let result = version_at(&client, &url).await;
                        let now = Instant::now();
                        let mut s = seen.lock().unwrap();
                        match result {
                            Ok(v) => {
                                *s.ok.entry(v.clone()).or_default() += 1;
                                s.first.entry(v.clone()).or_insert(now);
                                s.last.insert(v, now);
                            }
                            Err(e) => s.failures.push(e),
                        }
                    }
                })
            })
            .collect();
        Self { stop, seen, tasks }
    }

    fn snapshot(&self) -> (BTreeMap<String, u64>, usize) {
        let s = self.seen.lock().unwrap();
        (s.ok.clone(), s.failures.len())
    }

    async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.seen).unwrap().into_inner().unwrap()
    }
}

/// The first version of carts: primary and canary start with it; promoted so the canary is
/// scaled to zero, as the delivery sequence leaves it.
async fn first_version(d: &KubeDeployer, t: &StageService) {
    let started = Instant::now();
    deploy(d, t, &format!("{CARTS}:0.11.1")).await.unwrap();
    eprintln!(
        "first rollout (primary + canary 0.11.1): {:?}",
        started.elapsed()
    );
    d.promote(t).await.unwrap();
}

/// The serving image with its ready replicas, and the canary Deployment's desired replicas.
async fn replicas(
    client: &kube::Client,
    d: &KubeDeployer,
    t: &StageService,
) -> (Option<(String, u32)>, Option<i64>) {
    let s = d.status(t).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &t.namespace());
    // read through JSON: `spec` is optional or required depending on k8s-openapi's version
    let canary =
        serde_json::to_value(deployments.get("carts").await.unwrap()).unwrap()["spec"]["replicas"]
            .as_i64();
    (
        s.serving
            .as_ref()
            .map(|p| (p.image.clone(), p.ready_replicas)),
        canary,
    )
}

/// Readiness gates the canary; promotion under load moves the ClusterIP's traffic with no
/// failed request; a rollback leaves the primary serving and the canary at zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blue_green_with_real_pods() {
    let Some(client) = node().await else { return };
    let _node = ONE_AT_A_TIME.lock().await;
    let t = target("kn-bg");
    let d = deployer(&client, Duration::from_secs(120));
    first_version(&d, &t).await;
    let url = service_url(&client, &t, "carts").await;
    assert_eq!(version_soon(&url).await, "0.11.1");

    let load = Load::start(&url, 4);
    // the canary rollout returns only once its pod passed the readiness probe
    let started = Instant::now();
    deploy(&d, &t, &format!("{CARTS}:0.11.3")).await.unwrap();
    eprintln!("canary rollout 0.11.3: {:?}", started.elapsed());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &t.namespace());
    let canary_pods = pods
        .list(&ListParams::default().labels("keptn.sh/deployment=canary"))
        .await
        .unwrap();
    // the pods of the new canary (the first version's canary pod may still be terminating)
    let new_pods: Vec<&Pod> = canary_pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    assert!(!new_pods.is_empty());
    for p in new_pods {
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone());
        assert_eq!(
            ready.as_deref(),
            Some("True"),
            "canary pod not ready after deploy"
        );
    }
    let canary_url = service_url(&client, &t, "carts-canary").await;
    assert_eq!(version_soon(&canary_url).await, "0.11.3");
    let (before, failed) = load.snapshot();
    assert_eq!(failed, 0);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["0.11.1"],
        "the canary took public traffic"
    );

    let promote_started = Instant::now();
    d.promote(&t).await.unwrap();
    let promote_took = promote_started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = load.finish().await;
    let total: u64 = seen.ok.values().sum();
    assert!(
        seen.failures.is_empty(),
        "{} of {} requests failed during the promotion: {:?}",
        seen.failures.len(),
        total + seen.failures.len() as u64,
        &seen.failures[..seen.failures.len().min(5)]
    );
    assert!(total > 50, "too few requests to tell: {total}");
    let switched = seen.first["0.11.3"].duration_since(promote_started);
    assert!(seen.last["0.11.3"] > seen.last["0.11.1"], "{seen:?}");
    eprintln!(
        "promote: {promote_took:?} (first answer of 0.11.3 through the ClusterIP after {switched:?}); \
         {total} requests, 0 failed: {:?}",
        seen.ok
    );
    let (primary, canary) = replicas(&client, &d, &t).await;
    assert_eq!(primary, Some((format!("{CARTS}:0.11.3"), 1)));
    assert_eq!(canary, Some(0));

    // a canary that fails its gate: rollback
    deploy(&d, &t, &format!("{CARTS}:0.11.2")).await.unwrap();
    let load = Load::start(&url, 2);
    let started = Instant::now();
    d.rollback(&t).await.unwrap();
    eprintln!("rollback: {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = load.finish().await;
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    assert_eq!(seen.ok.keys().collect::<Vec<_>>(), ["0.11.3"]);
    let (primary, canary) = replicas(&client, &d, &t).await;
    assert_eq!(primary, Some((format!("{CARTS}:0.11.3"), 1)));
    assert_eq!(canary, Some(0));
    clean_up(&client, &t).await;
}

/// A canary that crash-loops and one that never gets ready: the rollout fails within its
/// timeout, the canary is scaled to zero, and the serving version answers every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_canaries_leave_serving_untouched() {
    let Some(client) = node().await else { return };
    let _node = ONE_AT_A_TIME.lock().await;
    let t = target("kn-fault");
    let timeout = Duration::from_secs(25);
    let d = deployer(&client, timeout);
    first_version(&d, &t).await;
    let url = service_url(&client, &t, "carts").await;
    assert_eq!(version_soon(&url).await, "0.11.1");
    for image in [CRASHING, UNREADY] {
        let load = Load::start(&url, 2);
        let started = Instant::now();
        let err = deploy(&d, &t, image).await.unwrap_err();
        let took = started.elapsed();
        eprintln!("{image}: failed after {took:?}: {err}");
        assert!(took < timeout + Duration::from_secs(10), "{took:?}");
        match &err {
            Error::RolloutTimedOut { rolled_back, .. }
            | Error::RolloutFailed { rolled_back, .. } => {
                assert!(rolled_back, "{err}");
            }
            other => panic!("expected a failed rollout, got {other}"),
        }
        let seen = load.finish().await;
        assert!(seen.failures.is_empty(), "{image}: {:?}", seen.failures);
        assert_eq!(seen.ok.keys().collect::<Vec<_>>(), ["0.11.1"], "{image}");
        let (primary, canary) = replicas(&client, &d, &t).await;
        assert_eq!(primary, Some((format!("{CARTS}:0.11.1"), 1)), "{image}");
        assert_eq!(canary, Some(0), "{image}");
    }
    clean_up(&client, &t).await;
}

/// A canary pod deleted while its rollout runs is replaced by its ReplicaSet; the rollout
/// completes and promotes normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pod_deleted_mid_rollout() {
    let Some(client) = node().await else { return };
    let _node = ONE_AT_A_TIME.lock().await;
    let t = target("kn-del");
    let d = deployer(&client, Duration::from_secs(120));
    first_version(&d, &t).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &t.namespace());
    let rollout = {
        let (d, t) = (d.clone(), t.clone());
        tokio::spawn(async move { deploy(&d, &t, &format!("{CARTS}:0.11.3")).await })
    };
    let mut deleted = None;
    for _ in 0..200 {
        let listed = pods
            .list(&ListParams::default().labels("keptn.sh/deployment=canary"))
            .await
            .unwrap();
        if let Some(name) = listed.items.iter().find_map(|p| p.metadata.name.clone()) {
            pods.delete(&name, &DeleteParams::default()).await.unwrap();
            deleted = Some(name);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deleted = deleted.expect("a canary pod appeared");
    rollout.await.unwrap().unwrap();
    let listed = pods
        .list(&ListParams::default().labels("keptn.sh/deployment=canary"))
        .await
        .unwrap();
    assert!(
        listed
            .items
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some(deleted.as_str())
                || p.metadata.deletion_timestamp.is_some()),
        "the deleted pod {deleted} still serves"
    );
    d.promote(&t).await.unwrap();
    let url = service_url(&client, &t, "carts").await;
    assert_eq!(version_soon(&url).await, "0.11.3");
    clean_up(&client, &t).await;
}
