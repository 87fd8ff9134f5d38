//! Property: **a failed or interrupted deployment never changes the serving version** — the
//! Kubernetes deployer (`keptn-deploy`'s [`KubeDeployer`]) against an API server double built on
//! [`FaultServer`] that keeps objects (server-side apply, merge patch, get, list) and
//! misbehaves on cue: `409 Conflict` and `500` on writes, watches dropped mid-rollout. After
//! each fault the deployment is reported failed and the public Service still selects the
//! primary with the old image. A healthy run switches nothing either (a blue/green deploy only
//! adds the canary) but succeeds, so the tests can fail.
//!
//! The same faults against the real kube-apiserver (`scripts/kube-apiserver.sh`), through
//! [`keptn_testkit::FaultProxy`], are in `kube_proxy_faults.rs`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keptn_deploy::kubernetes::KubeDeployer;
use keptn_deploy::{Artifact, Deployer, DeploymentRequest, DeploymentStrategy, StageService};
use keptn_testkit::{Fault, FaultServer, Reply, Request};
use serde_json::{Value, json};

const NS: &str = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
const SERVICES: &str = "/api/v1/namespaces/sockshop-staging/services";
const OLD: &str = "docker.io/keptnexamples/carts:0.11.1";
const NEW: &str = "docker.io/keptnexamples/carts:0.11.2";
const BOUND: Duration = Duration::from_secs(8);

type Objects = Arc<Mutex<BTreeMap<String, Value>>>;
type Inject = Arc<dyn Fn(&Request) -> Option<Fault> + Send + Sync>;

fn status(code: u16, reason: &str) -> Fault {
    Fault::Reply(Reply::json(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("injected {reason}"), "reason": reason, "code": code})
        .to_string(),
    ))
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// Sets the status of a Deployment as its controller would: ready at once, or never.
fn settle(obj: &mut Value, canary_ready: bool) {
    if obj["kind"] != "Deployment" {
        return;
    }
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let available = if canary_ready || obj["metadata"]["name"] != "carts" {
        replicas
    } else {
        0
    };
    obj["metadata"]["generation"] = json!(1);
    obj["status"] = json!({ "observedGeneration": 1, "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": available, "availableReplicas": available });
}

/// An API server holding a serving primary at [`OLD`] behind the public Service; `inject`
/// picks requests to misbehave on.
fn api_server(server: &FaultServer, canary_ready: bool, inject: Inject) -> Objects {
    let objects: Objects = Arc::default();
    {
        let mut o = objects.lock().unwrap();
        let mut primary = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "carts-primary", "namespace": "sockshop-staging", "resourceVersion": "5",
                          "labels": { "keptn.sh/deployment": "primary" },
                          "annotations": { "keptn.sh/image": OLD, "keptn.sh/deployment-strategy": "blue_green_service" } },
            "spec": { "replicas": 1,
                      "selector": { "matchLabels": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": "primary" } },
                      "template": { "metadata": { "labels": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": "primary" } },
                                    "spec": { "containers": [ { "name": "carts", "image": OLD } ] } } } });
        settle(&mut primary, true);
        o.insert(format!("{NS}/carts-primary"), primary);
        o.insert(
            format!("{SERVICES}/carts"),
            json!({ "apiVersion": "v1", "kind": "Service",
                    "metadata": { "name": "carts", "namespace": "sockshop-staging", "resourceVersion": "5" },
                    "spec": { "selector": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": "primary" },
                              "ports": [ { "port": 8080 } ] } }),
        );
    }
    let store = Arc::clone(&objects);
    server.route_with("/*", move |r: &Request| {
        if let Some(fault) = inject(r) {
            return fault;
        }
        let mut o = store.lock().unwrap();
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let content_type = r.headers.get("content-type").cloned().unwrap_or_default();
        match r.method.as_str() {
            // a watch delivers the Deployment as ready (its controller finished), then the
            // stream ends as an API server's watch timeout would end it
            "GET" if r.query.contains("watch=true") => {
                let name = r.param("fieldSelector").unwrap_or_default();
                let name = name.trim_start_matches("metadata.name=");
                match o.get(&format!("{}/{name}", r.path)) {
                    Some(obj) => {
                        let mut obj = obj.clone();
                        settle(&mut obj, true);
                        obj["metadata"]["resourceVersion"] = json!("12");
                        let line = format!("{}\n", json!({"type": "MODIFIED", "object": obj}));
                        Fault::CutAfter(line.len(), Reply::json(200, line))
                    }
                    None => Fault::HangAfterHeaders,
                }
            }
            "GET" if r.param("fieldSelector").is_some() => {
                let name = r.param("fieldSelector").unwrap_or_default();
                let name = name.trim_start_matches("metadata.name=");
                let items: Vec<Value> = o
                    .get(&format!("{}/{name}", r.path))
                    .cloned()
                    .into_iter()
                    .collect();
                let list = json!({ "apiVersion": "apps/v1", "kind": "DeploymentList",
                                   "metadata": { "resourceVersion": "10" }, "items": items });
                Fault::Reply(Reply::json(200, list.to_string()))
            }
            "GET" => match o.get(&r.path) {
                Some(obj) => Fault::Reply(Reply::json(200, obj.to_string())),
                None => status(404, "NotFound"),
            },
            "PATCH" if content_type.starts_with("application/apply-patch") => {
                let mut obj = body;
                obj["metadata"]["resourceVersion"] = json!("11");
                settle(&mut obj, canary_ready);
                o.insert(r.path.clone(), obj.clone());
                Fault::Reply(Reply::json(200, obj.to_string()))
            }
            "PATCH" => match o.get_mut(&r.path) {
                Some(obj) => {
                    merge(obj, &body);
                    Fault::Reply(Reply::json(200, obj.to_string()))
                }
                None => status(404, "NotFound"),
            },
            _ => status(405, "MethodNotAllowed"),
        }
    });
    objects
}

/// The image the public Service serves: the Deployment its selector picks.
fn serving_image(objects: &Objects) -> String {
    let o = objects.lock().unwrap();
    let role = o[&format!("{SERVICES}/carts")]["spec"]["selector"]["keptn.sh/deployment"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = if role == "primary" {
        "carts-primary"
    } else {
        "carts"
    };
    o[&format!("{NS}/{name}")]["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deployer(server: &FaultServer) -> KubeDeployer {
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_namespace = "default".to_owned();
    config.read_timeout = Some(Duration::from_secs(2));
    config.connect_timeout = Some(Duration::from_secs(1));
    let client = kube::Client::try_from(config).unwrap();
    KubeDeployer::new(client).with_rollout_timeout(Duration::from_millis(1500))
}

fn target() -> StageService {
    StageService::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

/// Deploys [`NEW`] blue/green: `Ok` or the error text, and how long it took.
async fn deploy(server: &FaultServer) -> (Result<(), String>, Duration) {
    let request = DeploymentRequest::new(
        target(),
        Artifact::new(NEW).unwrap(),
        DeploymentStrategy::BlueGreenService,
    );
    let started = Instant::now();
    let result = deployer(server)
        .await
        .deploy(&request)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    (result, started.elapsed())
}

async fn fails_and_keeps_serving(canary_ready: bool, inject: Inject) {
    let server = FaultServer::start().await;
    let objects = api_server(&server, canary_ready, inject);
    assert_eq!(serving_image(&objects), OLD);
    let (result, took) = deploy(&server).await;
    assert!(result.is_err(), "the deployment reports its failure");
    assert_eq!(serving_image(&objects), OLD, "{result:?}");
    assert!(took < BOUND, "took {took:?}");
}

#[tokio::test]
async fn healthy_blue_green_deploy_succeeds_and_leaves_the_primary_serving() {
    let server = FaultServer::start().await;
    let objects = api_server(&server, true, Arc::new(|_| None));
    let (result, _) = deploy(&server).await;
    result.unwrap();
    assert_eq!(serving_image(&objects), OLD);
    let status = deployer(&server).await.status(&target()).await.unwrap();
    assert_eq!(status.serving_image(), Some(OLD));
    assert_eq!(status.canary_image(), Some(NEW));
}

/// The canary becomes ready only through the watch: the control for the watch faults.
#[tokio::test]
async fn healthy_blue_green_deploy_succeeds_through_the_watch() {
    let server = FaultServer::start().await;
    let objects = api_server(&server, false, Arc::new(|_| None));
    let (result, _) = deploy(&server).await;
    result.unwrap();
    assert_eq!(serving_image(&objects), OLD);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.query.contains("watch=true"))
    );
}

#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_answers_409_conflicts() {
    fails_and_keeps_serving(
        true,
        Arc::new(|r| {
            (r.method == "PATCH" && r.path.contains("/carts")).then(|| status(409, "Conflict"))
        }),
    )
    .await;
}

/// Promote after a good deploy: the primary cannot be updated (409), so the public Service
/// must end up on the old primary again.
#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_answers_409_during_promote() {
    let server = FaultServer::start().await;
    let conflict = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let armed = Arc::clone(&conflict);
    let objects = api_server(
        &server,
        true,
        Arc::new(move |r| {
            (armed.load(std::sync::atomic::Ordering::SeqCst)
                && r.method == "PATCH"
                && r.path == format!("{NS}/carts-primary"))
            .then(|| status(409, "Conflict"))
        }),
    );
    deploy(&server).await.0.unwrap();
    conflict.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let result = deployer(&server).await.promote(&target()).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(serving_image(&objects), OLD);
    assert!(started.elapsed() < BOUND);
}

#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_answers_500_on_the_canary() {
    fails_and_keeps_serving(
        true,
        Arc::new(|r| {
            (r.method == "PATCH" && r.path == format!("{NS}/carts"))
                .then(|| status(500, "InternalError"))
        }),
    )
    .await;
}

#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_answers_500_on_services() {
    fails_and_keeps_serving(
        true,
        Arc::new(|r| {
            (r.method == "PATCH" && r.path.starts_with(SERVICES))
                .then(|| status(500, "InternalError"))
        }),
    )
    .await;
}

#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_drops_watches_mid_rollout() {
    let event = json!({"type": "MODIFIED", "object": {"kind": "Deployment"}}).to_string();
    fails_and_keeps_serving(
        false,
        Arc::new(move |r| {
            r.query
                .contains("watch=true")
                .then(|| Fault::CutAfter(event.len() / 2, Reply::json(200, event.clone())))
        }),
    )
    .await;
}

#[tokio::test]
async fn serving_version_unchanged_when_kubernetes_answers_500_on_watches() {
    fails_and_keeps_serving(
        false,
        Arc::new(|r| {
            r.query
                .contains("watch=true")
                .then(|| status(500, "InternalError"))
        }),
    )
    .await;
}

/// Promote: the primary takes the canary's spec but its rollout is never seen (every wait
/// fails), and re-applying its previous spec is refused. The Service must be back on the
/// primary anyway (it is switched back first), and the error names the state left.
#[tokio::test]
async fn traffic_back_on_the_primary_when_the_restore_after_a_failed_promote_fails() {
    let server = FaultServer::start().await;
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let primary_applies = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (on, count) = (Arc::clone(&armed), Arc::clone(&primary_applies));
    let objects = api_server(
        &server,
        true,
        Arc::new(move |r| {
            if !on.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            let waits_for_primary = r.method == "GET"
                && r.path == NS
                && r.param("fieldSelector").as_deref() == Some("metadata.name=carts-primary");
            if waits_for_primary {
                return Some(status(500, "InternalError"));
            }
            let applies_primary = r.method == "PATCH" && r.path == format!("{NS}/carts-primary");
            (applies_primary && count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0)
                .then(|| status(409, "Conflict"))
        }),
    );
    deploy(&server).await.0.unwrap();
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let err = deployer(&server)
        .await
        .promote(&target())
        .await
        .expect_err("the promotion failed");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    let o = objects.lock().unwrap();
    assert_eq!(
        o[&format!("{SERVICES}/carts")]["spec"]["selector"]["keptn.sh/deployment"],
        "primary",
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("state left: Service sockshop-staging/carts selects the primary again")
            && text.contains("keeps the failed spec"),
        "{text}"
    );
}

/// `deployed` recognises a finished blue/green deployment — the answer `deploy` gave, and no
/// write to the API server — and nothing less: before it, for another image, or with a canary
/// that is not available, it answers `None`, so a caller that lost the result deploys again.
#[tokio::test]
async fn deployed_recognises_a_finished_blue_green_deploy_and_nothing_less() {
    let server = FaultServer::start().await;
    let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&writes);
    let objects = api_server(
        &server,
        true,
        Arc::new(move |r: &Request| {
            if r.method != "GET" {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            None
        }),
    );
    let d = deployer(&server).await;
    let request = DeploymentRequest::new(
        target(),
        Artifact::new(NEW).unwrap(),
        DeploymentStrategy::BlueGreenService,
    );
    assert_eq!(
        d.deployed(&request).await.unwrap(),
        None,
        "nothing deployed"
    );
    let result = d.deploy(&request).await.unwrap();
    let before = writes.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(d.deployed(&request).await.unwrap(), Some(result));
    assert_eq!(
        writes.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "deployed only reads"
    );
    let other = DeploymentRequest::new(
        target(),
        Artifact::new(OLD).unwrap(),
        DeploymentStrategy::BlueGreenService,
    );
    assert_eq!(d.deployed(&other).await.unwrap(), None, "another image");
    objects
        .lock()
        .unwrap()
        .get_mut(&format!("{NS}/carts"))
        .unwrap()["status"]["availableReplicas"] = json!(0);
    assert_eq!(
        d.deployed(&request).await.unwrap(),
        None,
        "a canary that is not available"
    );
}
