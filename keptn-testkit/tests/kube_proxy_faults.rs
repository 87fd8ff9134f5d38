//! Property: **a failed or interrupted deployment never changes the serving version**, now on
//! the real kube-apiserver (`scripts/kube-apiserver.sh`: v1.20, etcd, controller-manager and
//! its fake kubelet) with a [`FaultProxy`] between the deployer's client and the API server
//! that answers `409`/`500` on chosen requests, lets writes happen and then answers `500`, and
//! drops watches mid-rollout. Each test checks: the call ends within its bound, the public
//! Service still selects the primary with the old image after a failure, and a retried write
//! was applied once (the Deployment's `metadata.generation` moved by one).
//!
//! Runs when `KUBECONFIG` is set (CI: `scripts/test-all.sh` starts the API server before
//! the tests); skipped with a message otherwise. Each test works in its own namespace and
//! deletes it at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use keptn_deploy::kubernetes::{KubeDeployer, ServiceTemplate};
use keptn_deploy::{Artifact, Deployer, DeploymentRequest, DeploymentStrategy, StageService};
use keptn_spec::retry::RetryPolicy;
use keptn_testkit::{FaultProxy, ProxyFault, Reply, Request, Upstream};
use kube::api::{Api, DeleteParams};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const OLD: &str = "docker.io/keptnexamples/carts:0.11.1";
const NEW: &str = "docker.io/keptnexamples/carts:0.11.2";
/// Rollout timeout of the deployer under test.
const ROLLOUT: Duration = Duration::from_secs(20);
/// How long any one call may take: a rollout (twice on a failed promote) plus retries.
const BOUND: Duration = Duration::from_secs(50);

struct Env {
    direct: kube::Client,
    upstream: Upstream,
    target: StageService,
}

impl Env {
    async fn start() -> Option<Self> {
        if std::env::var_os("KUBECONFIG").is_none() {
            eprintln!(
                "skipping: KUBECONFIG is not set (scripts/kube-apiserver.sh start DIR, then export KUBECONFIG=DIR/kubeconfig)"
            );
            return None;
        }
        let config = kube::Config::infer()
            .await
            .expect("KUBECONFIG is set but unusable");
        let upstream = Upstream {
            url: config.cluster_url.to_string(),
            root_certs_der: config.root_cert.clone().unwrap_or_default(),
            bearer_token: config
                .auth_info
                .token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        };
        let direct = kube::Client::try_from(config).expect("client from KUBECONFIG");
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let target = StageService::new(
            format!("pf{n}").parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
        );
        Some(Self {
            direct,
            upstream,
            target,
        })
    }

    fn ns(&self) -> String {
        self.target.namespace()
    }

    /// The project's staging stage serving [`OLD`] from `carts-primary` (no faults).
    async fn serving_old(&self) {
        deployer(self.direct.clone())
            .deploy(&request(&self.target, OLD))
            .await
            .expect("baseline deployment");
        assert_eq!(self.selector().await, "primary");
        assert_eq!(self.image("carts-primary").await, OLD);
    }

    /// Also [`NEW`] waiting as the canary.
    async fn canary_new(&self) {
        self.serving_old().await;
        deployer(self.direct.clone())
            .deploy(&request(&self.target, NEW))
            .await
            .expect("canary deployment");
    }

    /// A proxy before the API server; `decide` picks faults by request.
    async fn proxy(
        &self,
        decide: impl Fn(&Request) -> ProxyFault + Send + Sync + 'static,
    ) -> FaultProxy {
        FaultProxy::start(self.upstream.clone(), decide)
            .await
            .expect("proxy starts")
    }

    async fn deployment(&self, name: &str) -> Value {
        let d = Api::<Deployment>::namespaced(self.direct.clone(), &self.ns())
            .get(name)
            .await
            .unwrap();
        serde_json::to_value(&d).unwrap()
    }

    async fn image(&self, name: &str) -> String {
        self.deployment(name).await["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn generation(&self, name: &str) -> i64 {
        self.deployment(name).await["metadata"]["generation"]
            .as_i64()
            .unwrap()
    }

    async fn selector(&self) -> String {
        let s = Api::<Service>::namespaced(self.direct.clone(), &self.ns())
            .get("carts")
            .await
            .unwrap();
        s.spec.unwrap().selector.unwrap()["keptn.sh/deployment"].clone()
    }

    /// The Service still selects the primary, and the primary runs [`OLD`].
    async fn still_serving_old(&self) {
        assert_eq!(
            self.selector().await,
            "primary",
            "the Service selector moved"
        );
        assert_eq!(
            self.image("carts-primary").await,
            OLD,
            "the primary changed"
        );
    }

    async fn cleanup(self) {
        let _ = Api::<Namespace>::all(self.direct.clone())
            .delete(&self.ns(), &DeleteParams::default())
            .await;
    }
}

fn deployer(client: kube::Client) -> KubeDeployer {
    KubeDeployer::new(client)
        .with_rollout_timeout(ROLLOUT)
        .with_retry(RetryPolicy::new(
            4,
            Duration::from_millis(100),
            Duration::from_millis(400),
        ))
        .with_default_template(
            ServiceTemplate::new()
                .service_port(80, 8080)
                .readiness_path("/health"),
        )
}

fn through(proxy: &FaultProxy) -> KubeDeployer {
    let mut config = kube::Config::new(proxy.url().parse().unwrap());
    config.default_namespace = "default".to_owned();
    config.connect_timeout = Some(Duration::from_secs(2));
    config.read_timeout = Some(Duration::from_secs(30));
    deployer(kube::Client::try_from(config).unwrap())
}

fn request(t: &StageService, image: &str) -> DeploymentRequest {
    DeploymentRequest::new(
        t.clone(),
        Artifact::new(image).unwrap(),
        DeploymentStrategy::BlueGreenService,
    )
}

fn status(code: u16, reason: &str) -> Reply {
    Reply::json(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("injected {reason}"), "reason": reason, "code": code})
        .to_string(),
    )
}

fn deployments(ns: &str) -> String {
    format!("/apis/apps/v1/namespaces/{ns}/deployments")
}

fn is_patch_of(r: &Request, path: &str) -> bool {
    r.method == "PATCH" && r.path == path
}

/// A watch or list of Deployment `name` (the deployer's rollout wait).
fn is_wait_for(r: &Request, ns: &str, name: &str) -> bool {
    r.method == "GET"
        && r.path == deployments(ns)
        && r.param("fieldSelector").as_deref() == Some(&format!("metadata.name={name}"))
}

/// Runs `f`, asserting it ends within [`BOUND`].
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(BOUND, f)
        .await
        .expect("the call hung past its bound");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    out
}

#[tokio::test]
async fn real_apiserver_deploy_under_409_conflicts_keeps_serving() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.serving_old().await;
    let canary = format!("{}/carts", deployments(&env.ns()));
    let proxy = env
        .proxy(move |r| {
            if is_patch_of(r, &canary) {
                ProxyFault::Reply(status(409, "Conflict"))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    let result = bounded(through(&proxy).deploy(&request(&env.target, NEW))).await;
    assert!(result.is_err(), "{result:?}");
    env.still_serving_old().await;
    // the conflict was retried under the policy (4 attempts), not given up on at once
    assert_eq!(
        proxy
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with("/deployments/carts"))
            .count(),
        4
    );
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_deploy_retries_a_lost_500_answer_without_applying_twice() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.serving_old().await;
    let before = env.generation("carts").await;
    let canary = format!("{}/carts", deployments(&env.ns()));
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    let proxy = env
        .proxy(move |r| {
            if is_patch_of(r, &canary) && count.fetch_add(1, Ordering::SeqCst) == 0 {
                ProxyFault::ForwardThenReply(status(500, "InternalError"))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    bounded(through(&proxy).deploy(&request(&env.target, NEW)))
        .await
        .expect("the retried deployment succeeds");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "one retry of the canary apply"
    );
    assert_eq!(env.image("carts").await, NEW);
    assert_eq!(
        env.generation("carts").await,
        before + 1,
        "the canary spec changed once"
    );
    env.still_serving_old().await;
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_deploy_survives_watches_dropped_mid_rollout() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.serving_old().await;
    let ns = env.ns();
    let proxy = env
        .proxy(move |r| {
            if is_wait_for(r, &ns, "carts") && r.query.contains("watch=true") {
                ProxyFault::DropAfter(Duration::from_millis(300))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    bounded(through(&proxy).deploy(&request(&env.target, NEW)))
        .await
        .expect("the watcher re-lists after each drop");
    env.still_serving_old().await;
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_deploy_with_every_wait_failing_times_out_and_keeps_serving() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.serving_old().await;
    let ns = env.ns();
    let proxy = env
        .proxy(move |r| {
            if is_wait_for(r, &ns, "carts") {
                if r.query.contains("watch=true") {
                    ProxyFault::CutAfter(1)
                } else {
                    ProxyFault::Reply(status(500, "InternalError"))
                }
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    let result = bounded(through(&proxy).deploy(&request(&env.target, NEW))).await;
    let err = result.expect_err("an unobservable rollout is not a success");
    assert!(err.is_rollout_failure(), "{err}");
    env.still_serving_old().await;
    // the canary was discarded
    assert_eq!(env.deployment("carts").await["spec"]["replicas"], 0);
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_promote_under_409_on_the_primary_keeps_serving() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.canary_new().await;
    let primary = format!("{}/carts-primary", deployments(&env.ns()));
    let proxy = env
        .proxy(move |r| {
            if is_patch_of(r, &primary) {
                ProxyFault::Reply(status(409, "Conflict"))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    let result = bounded(through(&proxy).promote(&env.target)).await;
    assert!(result.is_err(), "{result:?}");
    env.still_serving_old().await;
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_promote_retries_a_lost_500_answer_without_applying_twice() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.canary_new().await;
    let before = env.generation("carts-primary").await;
    let primary = format!("{}/carts-primary", deployments(&env.ns()));
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    let proxy = env
        .proxy(move |r| {
            if is_patch_of(r, &primary) && count.fetch_add(1, Ordering::SeqCst) == 0 {
                ProxyFault::ForwardThenReply(status(500, "InternalError"))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    bounded(through(&proxy).promote(&env.target))
        .await
        .expect("the retried promotion succeeds");
    assert_eq!(env.selector().await, "primary");
    assert_eq!(env.image("carts-primary").await, NEW);
    assert_eq!(env.generation("carts-primary").await, before + 1);
    assert_eq!(env.deployment("carts").await["spec"]["replicas"], 0);
    env.cleanup().await;
}

/// The primary's rollout cannot be observed (every wait fails) and re-applying its previous
/// spec is refused too: the Service must be back on the primary anyway, and the error says
/// what is left. (Before the fix the re-apply came first and its error left the Service on
/// the canary.)
#[tokio::test]
async fn real_apiserver_failed_promote_puts_traffic_back_even_when_the_restore_fails() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.canary_new().await;
    let ns = env.ns();
    let primary = format!("{}/carts-primary", deployments(&ns));
    let applies = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&applies);
    let proxy = env
        .proxy(move |r| {
            if is_wait_for(r, &ns, "carts-primary") {
                if r.query.contains("watch=true") {
                    ProxyFault::CutAfter(1)
                } else {
                    ProxyFault::Reply(status(500, "InternalError"))
                }
            } else if is_patch_of(r, &primary) && count.fetch_add(1, Ordering::SeqCst) > 0 {
                // the first apply (the canary's spec) goes through; the restore is refused
                ProxyFault::Reply(status(409, "Conflict"))
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    let deployer = through(&proxy).with_rollout_timeout(Duration::from_secs(3));
    let err = bounded(deployer.promote(&env.target))
        .await
        .expect_err("the promotion failed");
    assert_eq!(env.selector().await, "primary", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("state left: Service") && text.contains("keeps the failed spec"),
        "{text}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_failed_promote_with_dropped_watches_restores_the_old_primary() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.canary_new().await;
    let ns = env.ns();
    let armed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&armed);
    let proxy = env
        .proxy(move |r| {
            // the first wait for the primary (after it took the canary's spec) never sees
            // the rollout: watches dropped at once, lists failing
            if is_wait_for(r, &ns, "carts-primary") && count.load(Ordering::SeqCst) == 0 {
                if r.query.contains("watch=true") {
                    ProxyFault::CutAfter(1)
                } else {
                    ProxyFault::Reply(status(500, "InternalError"))
                }
            } else {
                if r.method == "PATCH" && r.path.ends_with("/services/carts") {
                    // the switch back ends the first wait
                    if r.body.windows(7).any(|w| w == b"primary") {
                        count.store(1, Ordering::SeqCst);
                    }
                }
                ProxyFault::Forward
            }
        })
        .await;
    let deployer = through(&proxy).with_rollout_timeout(Duration::from_secs(3));
    let err = bounded(deployer.promote(&env.target))
        .await
        .expect_err("an unobservable rollout is not a success");
    assert!(err.is_rollout_failure(), "{err}");
    env.still_serving_old().await;
    env.cleanup().await;
}

#[tokio::test]
async fn real_apiserver_rollback_under_500_and_409_ends_on_the_primary() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.canary_new().await;
    let ns = env.ns();
    let hits = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&hits);
    let proxy = env
        .proxy(move |r| {
            let service = r.method == "PATCH" && r.path.ends_with("/services/carts");
            let scale = is_patch_of(r, &format!("{}/carts", deployments(&ns)));
            if service || scale {
                match count.fetch_add(1, Ordering::SeqCst) {
                    0 => ProxyFault::Reply(status(500, "InternalError")),
                    1 => ProxyFault::ForwardThenReply(status(409, "Conflict")),
                    _ => ProxyFault::Forward,
                }
            } else {
                ProxyFault::Forward
            }
        })
        .await;
    let status = bounded(through(&proxy).rollback(&env.target))
        .await
        .expect("rollback retries through the faults");
    assert_eq!(status.serving_image(), Some(OLD));
    env.still_serving_old().await;
    assert_eq!(env.deployment("carts").await["spec"]["replicas"], 0);
    env.cleanup().await;
}
