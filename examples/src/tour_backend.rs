//! The pieces of `full_tour` that depend on where it deploys: the backend (local processes or
//! a cluster) and how the tour reaches what it deployed, the tests of the carts service, and
//! the users on production.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use indicatif::ProgressBar;
use keptn_deploy::kubernetes::KubeDeployer;
use keptn_deploy::runner::{HttpCheck, HttpTestRunner, Workload};
use keptn_deploy::{
    Deployer, Progress, StageService, TestProgress, TestReport, TestRequest, TestRunner,
    TestStrategy,
};
use keptn_local::flagstore::{FlagStore, FlagStoreServer};
use keptn_local::{CommandTemplate, LocalDeployer, LocalSliProvider};
use keptn_remediate::unleash::secrecy::{ExposeSecret, SecretString};
use keptn_remediate::unleash::{FlagState, UnleashClient};
use keptn_spec::ServiceName;
use serde_json::json;

use crate::tour_kube::{self, ClientSideSli, KubeReach, ServiceUrls};
use crate::tour_ui::Ui;

/// Keptn's jmeter-service ran tests only for services that have test files: carts has them
/// (`basiccheck.jmx`, `load.jmx`), carts-db has none, so its tests pass without requests.
///
/// The deployment URIs are resolved through the backend first (the cluster's in-cluster names
/// through `--kube-url`); a URI that cannot be reached stops the tests with an error that is
/// also kept in `unreachable`, so the tour can stop with that message.
#[derive(Debug)]
pub struct ServiceTests {
    tested: ServiceName,
    runner: HttpTestRunner,
    backend: Backend,
    progress: Progress,
    unreachable: Arc<std::sync::Mutex<Option<String>>>,
}

impl ServiceTests {
    /// Tests `tested` with `runner` (reporting to `progress`) through `backend`.
    pub fn new(
        tested: ServiceName,
        runner: HttpTestRunner,
        backend: Backend,
        progress: Progress,
    ) -> Self {
        Self {
            tested,
            runner,
            backend,
            progress,
            unreachable: Arc::default(),
        }
    }

    /// Remembers that `message` says what could not be reached, and makes it the test error.
    fn unreachable(&self, message: String) -> keptn_deploy::Error {
        *self
            .unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message.clone());
        keptn_deploy::Error::Test { message }
    }

    /// The message of the last unreachable URI, taken (so it is reported once).
    pub fn take_unreachable(&self) -> Option<String> {
        self.unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

#[async_trait::async_trait]
impl TestRunner for ServiceTests {
    fn name(&self) -> &str {
        "http"
    }

    async fn run(
        &self,
        request: &TestRequest,
        _progress: &Progress,
    ) -> keptn_deploy::Result<TestReport> {
        if request.target.service == self.tested {
            let mut uris = Vec::with_capacity(request.uris.len());
            for uri in &request.uris {
                match self.backend.test_url(uri).await {
                    Ok(url) => uris.push(url),
                    Err(message) => return Err(self.unreachable(message)),
                }
            }
            let request = TestRequest::new(request.target.clone(), request.strategy.clone(), uris);
            self.runner.run(&request, &self.progress).await
        } else {
            Ok(TestReport::skipped(
                request.strategy.clone(),
                Utc::now(),
                format!("no tests for {}", request.target.service),
            ))
        }
    }
}

/// Where the tour deploys, and how it reaches what it deployed.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Local processes behind per-stage proxies (the embedded default).
    Local(Arc<LocalDeployer>),
    /// The cluster of the current KUBECONFIG context.
    Kube {
        /// The deployer.
        deployer: Arc<KubeDeployer>,
        /// How the tour reaches the cluster's Services.
        reach: Arc<KubeReach>,
    },
}

impl Backend {
    /// `local` or `kubernetes`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Kube { .. } => "kubernetes",
        }
    }

    /// The deployer.
    pub fn deployer(&self) -> Arc<dyn Deployer> {
        match self {
            Self::Local(d) => d.clone(),
            Self::Kube { deployer, .. } => deployer.clone(),
        }
    }

    /// The URL of the serving version of `target`, checked to answer for the cluster.
    pub async fn public_url(&self, target: &StageService) -> anyhow::Result<String> {
        match self {
            Self::Local(d) => Ok(d.public_url(target).await?),
            Self::Kube { reach, .. } => {
                reach.check_public(target).await.map_err(anyhow::Error::msg)
            }
        }
    }

    /// The URL of `target`'s serving version and its front page (the line with `Version:`,
    /// without markup, or an empty line when the page has none).
    ///
    /// # Errors
    /// When the service cannot be reached or does not answer.
    pub async fn front_page(&self, target: &StageService) -> anyhow::Result<(String, String)> {
        let url = self.public_url(target).await?;
        let page = reqwest::Client::builder()
            .no_proxy()
            .build()?
            .get(format!("{url}/"))
            .send()
            .await
            .with_context(|| format!("cannot open {} in {}", target.service, target.stage))?
            .text()
            .await?;
        let version = page
            .lines()
            .find(|l| l.contains("Version:"))
            .map(|l| l.replace("<p>", "").replace("</p>", ""))
            .unwrap_or_default();
        Ok((url, version))
    }

    /// The URL tests use for a deployment URI (`Err` with what to do when unreachable).
    pub async fn test_url(&self, uri: &str) -> Result<String, String> {
        match self {
            Self::Local(_) => Ok(uri.to_owned()),
            Self::Kube { reach, .. } => {
                reach.check_uri(uri).await?;
                Ok(reach.test_url(uri))
            }
        }
    }

    /// Where the tour's production users record their requests (client side), if it must.
    pub fn production_recorder(
        &self,
        target: &StageService,
    ) -> Option<(ClientSideSli, StageService)> {
        match self {
            Self::Local(_) => None,
            Self::Kube { reach, .. } => Some((reach.sli().clone(), target.clone())),
        }
    }

    /// Stops what must not outlive the tour: local processes (a cluster keeps its serving
    /// versions; the control plane rolls back the canary of an aborted delivery). Returns
    /// what failed.
    pub async fn clean_up(&self) -> Vec<String> {
        match self {
            Self::Local(d) => d
                .shutdown()
                .await
                .into_iter()
                .map(|e| format!("warning: {e}"))
                .collect(),
            Self::Kube { .. } => Vec::new(),
        }
    }
}

/// Users on production: 3 add-to-cart requests and one cart view per round, until stopped.
#[derive(Debug)]
pub struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Traffic {
    /// Starts `users` users on `url`; each request is also recorded in `recorder`.
    pub fn start(url: &str, users: u32, recorder: Option<&(ClientSideSli, StageService)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let tasks = (0..users)
            .map(|user| {
                let (stop, ok, failed, client, recorder) = (
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    client.clone(),
                    recorder.cloned(),
                );
                let url = url.to_owned();
                tokio::spawn(async move {
                    let mut round = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        round += 1;
                        let add = format!("{url}/carts/user{user}/items");
                        for i in 0..4 {
                            let at = Utc::now();
                            let sent = Instant::now();
                            let resp = if i < 3 {
                                client
                                    .post(&add)
                                    .json(&json!({"itemId": format!("sock-{round}-{i}"), "quantity": 1, "unitPrice": 12.5}))
                                    .send()
                                    .await
                            } else {
                                client.get(format!("{url}/carts/user{user}")).send().await
                            };
                            let success = matches!(&resp, Ok(r) if r.status().is_success());
                            if let Some((sli, target)) = &recorder {
                                sli.record(target, "primary", at, sent.elapsed(), success);
                            }
                            let counter = if success { &ok } else { &failed };
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    /// Requests so far: (succeeded, failed).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Stops the users; returns (succeeded, failed).
    pub async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// The flag backend: the embedded store, or a real Unleash from the environment.
#[derive(Debug)]
pub struct Flags {
    /// The admin client (project `default`, environment `production`).
    pub client: UnleashClient,
    /// The URL services read flags from.
    pub url: String,
    /// The client token services read flags with.
    pub client_token: SecretString,
    /// The embedded store, when no Unleash is configured.
    pub store: Option<FlagStoreServer>,
}

/// `UNLEASH_URL` + `UNLEASH_TOKEN` + `UNLEASH_CLIENT_TOKEN`, else the embedded store on
/// `listen`; the tour's flags are created when missing and switched off.
///
/// # Errors
/// Incomplete Unleash settings; a store that does not start; flags that cannot be set.
pub async fn flags(ui: &Ui, listen: std::net::IpAddr) -> anyhow::Result<Flags> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (url, admin, client_token, store) = match env("UNLEASH_URL") {
        Some(url) => {
            let admin = env("UNLEASH_TOKEN")
                .context("UNLEASH_URL is set but UNLEASH_TOKEN (an admin API token) is not")?;
            let client = env("UNLEASH_CLIENT_TOKEN").context(
                "UNLEASH_URL is set but UNLEASH_CLIENT_TOKEN (a client token of environment production) is not",
            )?;
            ui.say(format!("flags: Unleash at {url}"));
            (
                url,
                SecretString::from(admin),
                SecretString::from(client),
                None,
            )
        }
        None => {
            let store = FlagStore::builder().build();
            let server = store
                .serve((listen, 0).into())
                .await
                .context("cannot start the embedded flag store")?;
            let client_token = store
                .client_token("production")
                .context("the flag store has no production environment")?;
            ui.say(format!(
                "flags: embedded Unleash-compatible store at {}",
                server.url()
            ));
            (
                server.url(),
                store.admin_token(),
                client_token,
                Some(server),
            )
        }
    };
    let client = UnleashClient::builder(&url)
        .api_token(admin)
        .project("default")
        .environment("production")
        .build()
        .context("invalid Unleash settings")?;
    for flag in ["EnableItemCache", "EnablePromotion"] {
        if client.flag_state(flag).await.is_err() {
            client
                .create_flag(flag)
                .await
                .with_context(|| format!("cannot create flag {flag}"))?;
        }
        client
            .set_flag(flag, FlagState::Off)
            .await
            .with_context(|| format!("cannot switch flag {flag} off"))?;
    }
    Ok(Flags {
        client,
        url,
        client_token,
        store,
    })
}
/// How `--kube` deploys and reaches the cluster's Services.
#[derive(Debug)]
pub struct KubeSettings {
    /// The `--kube-url` template with its overrides.
    pub urls: ServiceUrls,
    /// The `--kube-url` template as given (for the terminal).
    pub url_template: String,
    /// Reach Services at their ClusterIPs (on a node of the cluster).
    pub cluster_ip: bool,
    /// Longest wait for a rollout.
    pub rollout_timeout: Duration,
    /// The embedded flag store listens where the pods can reach it.
    pub flags_for_pods: bool,
}

/// The cluster of the current KUBECONFIG context, with the seed's service shapes.
///
/// # Errors
/// When the cluster cannot be reached.
pub async fn kube_backend(ui: &Ui, flags: &Flags, kube: KubeSettings) -> anyhow::Result<Backend> {
    let urls = kube.urls;
    let client = keptn_deploy::kube::Client::try_default()
        .await
        // kube's message already names every cause; chaining them would repeat them.
        .map_err(|e| {
            anyhow::anyhow!(
                "--kube: cannot connect to the cluster of the current KUBECONFIG context: {e}"
            )
        })?;
    let mut deployer = KubeDeployer::new(client.clone())
        .with_rollout_timeout(kube.rollout_timeout)
        .with_switch_drain(Duration::from_secs(10), Duration::from_secs(1));
    let mut ports = BTreeMap::new();
    for (service, mut template) in tour_kube::carts_templates() {
        if service.as_str() == "carts" && (flags.store.is_none() || kube.flags_for_pods) {
            template = template
                .env("UNLEASH_URL", &flags.url)
                .env("UNLEASH_CLIENT_TOKEN", flags.client_token.expose_secret())
                .env("UNLEASH_REFRESH_MS", "500");
        }
        if let Some(port) = template.primary_port() {
            ports.insert(service.clone(), port);
        }
        deployer = deployer.with_template(service, template);
    }
    let mut reach = KubeReach::new(urls, ports);
    if kube.cluster_ip {
        ui.say("deployer: Kubernetes (current KUBECONFIG context); Services reached at their ClusterIPs");
        reach = reach.with_cluster_ips(client.clone());
    } else {
        ui.say(format!(
            "deployer: Kubernetes (current KUBECONFIG context); Services reached at {}",
            kube.url_template
        ));
    }
    Ok(Backend::Kube {
        deployer: Arc::new(deployer),
        reach: Arc::new(reach),
    })
}

/// Local processes (this program in its service roles) behind per-stage proxies.
///
/// # Errors
/// When this program cannot be found.
pub fn local_backend(flags: &Flags, sli: &LocalSliProvider) -> anyhow::Result<Backend> {
    let exe = std::env::current_exe().context("cannot find this program to start services")?;
    let exe = exe.display().to_string();
    let carts_template = crate::carts::service_template(&exe)
        .env("UNLEASH_URL", &flags.url)
        .env("UNLEASH_CLIENT_TOKEN", flags.client_token.expose_secret());
    let db_template = CommandTemplate::new(&exe)
        .args(["carts-db", "--port", "{port}", "--version", "{version}"])
        .ready_path("/health");
    Ok(Backend::Local(Arc::new(
        LocalDeployer::new()
            .with_sli_provider(sli.clone())
            .with_service(&"carts".parse()?, carts_template)
            .with_service(&"carts-db".parse()?, db_template)
            .with_drain_timeout(Duration::from_secs(15)),
    )))
}

/// The tests of dev (functional) and staging (performance), with a progress bar.
pub fn test_runner(
    users: u32,
    duration: Duration,
    backend: &Backend,
    bar: ProgressBar,
) -> ServiceTests {
    let runner = HttpTestRunner::new()
        .health_check(vec![HttpCheck::get("/health").expect_status(200)])
        .workload(
            TestStrategy::Functional,
            Workload::functional(vec![
                HttpCheck::get("/").expect_body("Version: v"),
                HttpCheck::post_json(
                    "/carts/1/items",
                    r#"{"itemId":"03fef6ac-1896-4ce8-bd69-b798f85c6e0b","quantity":1,"unitPrice":99.9}"#,
                )
                .expect_status(201),
                HttpCheck::get("/carts/1").expect_body("items"),
            ]),
        )
        .workload(
            TestStrategy::Performance,
            Workload::performance(vec![
                HttpCheck::post_json(
                    "/carts/1/items",
                    r#"{"itemId":"a0a4f044-b040-410d-8ead-4de0446aec7e","quantity":1,"unitPrice":7.99}"#,
                ),
                HttpCheck::get("/carts/1"),
            ])
            .users(users)
            .duration(duration)
            .think_time(Duration::from_millis(50)),
        );
    let runner = match backend {
        Backend::Kube { reach, .. } => {
            let reach = reach.clone();
            runner.observer(move |sample| reach.observe(sample))
        }
        Backend::Local(_) => runner,
    };
    let progress = Progress::new(move |p: &TestProgress| {
        let (done, total) = match (p.planned, p.total) {
            (Some(planned), _) => (p.elapsed.as_millis() as u64, planned.as_millis() as u64),
            (None, Some(total)) => (p.done, total),
            (None, None) => (p.done, p.done.max(1)),
        };
        bar.set_length(total.max(1));
        bar.set_position(done.min(total));
        bar.set_message(format!(
            "{} requests, {} errors, {:.1}s",
            p.done,
            p.errors,
            p.elapsed.as_secs_f64()
        ));
    });
    ServiceTests::new(
        "carts".parse().expect("a valid name"),
        runner,
        backend.clone(),
        progress,
    )
}
