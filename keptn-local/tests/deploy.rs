//! The local deployer over real loopback HTTP and real processes.
//!
//! Service processes are this test binary itself, re-run with `--ignored --exact child_service`
//! and the `KEPTN_TEST_CHILD_*` variables: a tiny HTTP service that answers with its version.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use keptn_deploy::{Artifact, Deployer, DeploymentRequest, DeploymentStrategy, StageService};
use keptn_local::{
    CommandTemplate, LocalDeployer, LocalError, RequestRecorder, StageProxy, Upstream,
    process_is_running,
};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::{ProjectName, ServiceName, StageName};
use tokio::net::TcpListener;

/// Serves `version` on `listener`: `/health` answers 200 (503 for version `sleepy`), `/slow`
/// waits 100 ms, every other path answers `version <v>`.
async fn serve(listener: TcpListener, version: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let version = version.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let version = version.clone();
                async move {
                    let (status, body) = match req.uri().path() {
                        "/health" if version == "sleepy" => {
                            (StatusCode::SERVICE_UNAVAILABLE, String::new())
                        }
                        "/slow" => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            (StatusCode::OK, format!("version {version}"))
                        }
                        _ => (StatusCode::OK, format!("version {version}")),
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Not a test: the body of the child service processes (see the file's docs).
#[test]
#[ignore = "helper: runs as the child service process of the other tests"]
fn child_service() {
    let port: u16 = std::env::var("KEPTN_TEST_CHILD_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let version = std::env::var("KEPTN_TEST_CHILD_VERSION").unwrap();
    if version == "broken" {
        eprintln!("broken build: refusing to start");
        std::process::exit(3);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        serve(listener, version).await;
    });
}

fn template() -> CommandTemplate {
    let exe = std::env::current_exe().unwrap();
    CommandTemplate::new(exe.display().to_string())
        .args([
            "--exact",
            "child_service",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEPTN_TEST_CHILD_PORT", "{port}")
        .env("KEPTN_TEST_CHILD_VERSION", "{version}")
        .readiness_timeout(Duration::from_secs(20))
        .stop_grace(Duration::from_secs(3))
}

fn names() -> (ProjectName, StageName, ServiceName) {
    (
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn assert_gone(pid: u32) {
    for _ in 0..100 {
        if !process_is_running(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} is still running");
}

/// A started process answers on its port; `stop` ends it and leaves nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_starts_ready_and_stops_cleanly() {
    let p = template().spawn("carts", "0.11.1").await.unwrap();
    let pid = p.pid();
    assert!(process_is_running(pid));
    let body = client()
        .get(format!("http://{}/", p.addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "version 0.11.1");
    let status = p.stop().await.unwrap();
    assert!(!status.success(), "terminated by SIGTERM: {status}");
    assert_gone(pid).await;
}

/// Dropping a process handle (as on panic or early return) kills the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_process_is_killed() {
    let p = template().spawn("carts", "0.11.1").await.unwrap();
    let pid = p.pid();
    drop(p);
    assert_gone(pid).await;
}

/// A process that exits early is reported with its stderr; one that never gets ready is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_failures_are_reported_and_leave_nothing_running() {
    let err = template().spawn("carts", "broken").await.unwrap_err();
    assert!(matches!(err, LocalError::Exited { .. }), "{err:?}");
    assert!(
        err.to_string().contains("broken build: refusing to start"),
        "{err}"
    );

    let err = template()
        .readiness_timeout(Duration::from_millis(700))
        .spawn("carts", "sleepy")
        .await
        .unwrap_err();
    assert!(matches!(err, LocalError::NotReady { .. }), "{err:?}");

    let err = CommandTemplate::new("/nonexistent/keptn-test-program")
        .spawn("carts", "1")
        .await
        .unwrap_err();
    assert!(matches!(err, LocalError::Spawn { .. }), "{err:?}");
}

struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Vec<String>>>,
}

/// `clients` tasks sending requests to `url` until stopped; they collect failures.
fn start_load(url: &str, clients: usize) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let tasks = (0..clients)
        .map(|_| {
            let (stop, ok, failed, url) =
                (stop.clone(), ok.clone(), failed.clone(), url.to_owned());
            tokio::spawn(async move {
                let client = client();
                let mut failures = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            failures.push(format!("status {}", r.status()));
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            failures.push(e.to_string());
                        }
                    }
                }
                failures
            })
        })
        .collect();
    Load {
        stop,
        ok,
        failed,
        tasks,
    }
}

impl Load {
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut failures = Vec::new();
        for t in self.tasks {
            failures.extend(t.await.unwrap());
        }
        assert_eq!(self.failed.load(Ordering::SeqCst) as usize, failures.len());
        (self.ok.load(Ordering::SeqCst), failures)
    }
}

/// 100 switches between two upstreams under concurrent load lose no request, and every request
/// is recorded under the deployment that served it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_switches_under_load_lose_no_request() {
    let mut upstreams = Vec::new();
    for (label, version) in [("primary", "v1"), ("canary", "v2")] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, version.to_owned()));
        upstreams.push(Arc::new(Upstream::new(label, version, addr)));
    }
    let recorder = Arc::new(RequestRecorder::default());
    let proxy = StageProxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), recorder.clone())
        .await
        .unwrap();
    proxy.route_to(Some(upstreams[0].clone()));
    let start = Utc::now();
    let load = start_load(&format!("{}/slow", proxy.url()), 8);
    for i in 0..100 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        proxy.route_to(Some(upstreams[(i + 1) % 2].clone()));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (ok, failures) = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok > 100, "only {ok} requests");
    let end = Utc::now() + chrono::TimeDelta::seconds(1);
    let primary = recorder.summarize(Some("primary"), start, end);
    let canary = recorder.summarize(Some("canary"), start, end);
    assert!(primary.requests > 0 && canary.requests > 0);
    assert_eq!(primary.requests + canary.requests, ok);
    assert_eq!(primary.errors + canary.errors, 0);
    let p95 = primary.p95_ms.unwrap();
    assert!((100.0..400.0).contains(&p95), "p95 {p95} ms");
}

fn request(
    target: &StageService,
    version: &str,
    strategy: DeploymentStrategy,
) -> DeploymentRequest {
    let image = Artifact::new(format!("docker.io/keptnexamples/carts:{version}")).unwrap();
    DeploymentRequest::new(target.clone(), image, strategy)
}

async fn body(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The deployer's story, as the tour plays it: blue/green with a canary beside the primary, a
/// rollback, a broken build, a promotion, a direct deployment — with load on the public port all
/// along, not one failed request, and no process left at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployer_switches_versions_without_losing_requests() {
    let (project, stage, service) = names();
    let target = StageService::new(project.clone(), stage.clone(), service.clone());
    let deployer = LocalDeployer::new().with_service(&service, template());
    let bg = DeploymentStrategy::BlueGreenService;

    // The first blue/green deployment starts primary and canary.
    let first = deployer
        .deploy(&request(&target, "0.11.1", bg))
        .await
        .unwrap();
    assert_eq!(first.deployment_names, ["canary"]);
    let mut seen_pids = deployer.pids().await;
    assert_eq!(seen_pids.len(), 2, "primary and canary");
    let public = first.uris_public[0].clone();
    let canary_url = first.uris_local[0].clone();
    assert_ne!(public, canary_url);
    assert_eq!(body(&public).await, "version 0.11.1");
    assert_eq!(body(&canary_url).await, "version 0.11.1");
    let status = deployer.promote(&target).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(status.serving.unwrap().name, "carts-primary");
    assert_eq!(status.canary, None);
    assert_eq!(
        deployer.pids().await.len(),
        1,
        "the promoted canary replaced the first primary"
    );

    let start = Utc::now();
    let load = start_load(&format!("{public}/"), 4);

    // A slow build goes to canary beside the primary; the public port keeps the primary.
    deployer
        .deploy(&request(&target, "0.11.2", bg))
        .await
        .unwrap();
    seen_pids.extend(deployer.pids().await);
    assert_eq!(body(&public).await, "version 0.11.1");
    assert_eq!(body(&canary_url).await, "version 0.11.2");
    let status = deployer.rollback(&target).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(status.canary, None);
    let resp = client().get(&canary_url).send().await.unwrap();
    assert_eq!(resp.status(), 503, "no canary after rollback");

    // A broken build never serves: the primary is untouched.
    let err = deployer
        .deploy(&request(&target, "broken", bg))
        .await
        .unwrap_err();
    assert!(err.is_rollout_failure(), "{err:?}");
    assert!(
        err.to_string().contains("broken build: refusing to start"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("rolled back; the serving version is untouched"),
        "{err}"
    );
    let status = deployer.status(&target).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );

    // A good build is tested on the canary and promoted: the public port switches under load.
    deployer
        .deploy(&request(&target, "0.11.3", bg))
        .await
        .unwrap();
    seen_pids.extend(deployer.pids().await);
    let canary_load = start_load(&format!("{canary_url}/"), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (canary_ok, canary_failures) = canary_load.finish().await;
    assert!(canary_failures.is_empty(), "{canary_failures:?}");
    let status = deployer.promote(&target).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.3")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(body(&public).await, "version 0.11.3");

    let (ok, failures) = load.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok > 20, "only {ok} requests");

    // SLIs per deployment from the same traffic.
    let provider = deployer.sli_provider();
    let measure = |d: &'static str| {
        let query = SliQuery::new(
            project.clone(),
            stage.clone(),
            service.clone(),
            start,
            Utc::now(),
            vec!["throughput".into(), "error_rate".into()],
        )
        .with_deployment(d);
        async move { provider.fetch_slis(&query).await.unwrap() }
    };
    let primary = measure("primary").await;
    assert!(
        primary[0].success && primary[0].value >= ok as f64,
        "{primary:?}"
    );
    assert_eq!(primary[1].value, 0.0);
    let canary = measure("canary").await;
    assert!(
        canary[0].success && canary[0].value >= canary_ok as f64,
        "{canary:?}"
    );
    let direct = measure("direct").await;
    assert!(!direct[0].success, "no direct traffic yet: {direct:?}");

    // Switching strategy is refused; scaling beyond one process is refused.
    let err = deployer
        .deploy(&request(&target, "0.11.4", DeploymentStrategy::Direct))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot switch it to `direct`"),
        "{err}"
    );
    assert!(deployer.scale(&target, 3).await.is_err());
    assert!(deployer.scale(&target, 1).await.is_ok());

    // Direct deployments replace the serving version (another service).
    let db = StageService::new(project.clone(), stage.clone(), "carts-db".parse().unwrap());
    let deployer = deployer.with_service(&db.service, template());
    let r = deployer
        .deploy(&request(&db, "4.2.2", DeploymentStrategy::Direct))
        .await
        .unwrap();
    assert_eq!(r.deployment_names, ["direct"]);
    seen_pids.extend(deployer.pids().await);
    deployer
        .deploy(&request(&db, "4.2.3", DeploymentStrategy::Direct))
        .await
        .unwrap();
    assert_eq!(body(&r.uris_public[0]).await, "version 4.2.3");
    seen_pids.extend(deployer.pids().await);

    assert!(deployer.shutdown().await.is_empty());
    seen_pids.sort_unstable();
    seen_pids.dedup();
    assert_eq!(seen_pids.len(), 6, "{seen_pids:?}");
    for pid in seen_pids {
        assert_gone(pid).await;
    }
    assert!(deployer.pids().await.is_empty());
}

/// Promotion without a deployment and deployments of unknown services are errors.
#[tokio::test]
async fn promote_without_deployment_is_an_error() {
    let (project, stage, service) = names();
    let target = StageService::new(project.clone(), stage.clone(), service.clone());
    let deployer = LocalDeployer::new().with_service(&service, template());
    let err = deployer.promote(&target).await.unwrap_err();
    assert_eq!(err.to_string(), "sockshop/staging/carts is not deployed");
    let db = StageService::new(project, stage, "carts-db".parse().unwrap());
    let err = deployer
        .deploy(&request(&db, "4.2.2", DeploymentStrategy::Direct))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid service: service `carts-db` has no command template in the local deployer"
    );
}

/// `deployed` recognises what `deploy` left — the canary of a blue/green deployment, the new
/// version of a direct one — and answers what `deploy` answered, without starting anything; a
/// version that does not run so (another image, a promoted canary) is not recognised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_recognises_what_deploy_left() {
    let (project, stage, service) = names();
    let target = StageService::new(project.clone(), stage.clone(), service.clone());
    let deployer = LocalDeployer::new().with_service(&service, template());
    let bg = DeploymentStrategy::BlueGreenService;
    assert_eq!(
        deployer
            .deployed(&request(&target, "0.11.1", bg))
            .await
            .unwrap(),
        None,
        "nothing deployed yet"
    );

    let first = deployer
        .deploy(&request(&target, "0.11.1", bg))
        .await
        .unwrap();
    let pids = deployer.pids().await;
    let again = deployer
        .deployed(&request(&target, "0.11.1", bg))
        .await
        .unwrap();
    assert_eq!(again.as_ref(), Some(&first));
    assert_eq!(deployer.pids().await, pids, "nothing was started");
    for other in [
        request(&target, "0.11.2", bg),
        request(&target, "0.11.1", DeploymentStrategy::Direct),
    ] {
        assert_eq!(deployer.deployed(&other).await.unwrap(), None, "{other:?}");
    }
    deployer.promote(&target).await.unwrap();
    assert_eq!(
        deployer
            .deployed(&request(&target, "0.11.1", bg))
            .await
            .unwrap(),
        None,
        "a promoted canary is no longer what deploy left"
    );

    let db = StageService::new(project, stage, "carts-db".parse().unwrap());
    let deployer = deployer.with_service(&db.service, template());
    let direct = request(&db, "4.2.2", DeploymentStrategy::Direct);
    let r = deployer.deploy(&direct).await.unwrap();
    assert_eq!(deployer.deployed(&direct).await.unwrap(), Some(r));

    let pids = deployer.pids().await;
    assert!(deployer.shutdown().await.is_empty());
    for pid in pids {
        assert_gone(pid).await;
    }
}
