//! Keptn's full tour on one machine: the seed tutorial's whole story, for real, with nothing
//! but Rust installed.
//!
//! ```text
//! cargo run -p keptn-examples --example full_tour
//! cargo run -p keptn-examples --example full_tour -- --test-duration 30 \
//!     --events events.jsonl --summary summary.json
//! ```
//!
//! What plays out (project `sockshop`, the seed's shipyard, SLO and remediation file):
//! 1. carts-db 4.2.2 and carts 0.11.1 are delivered through dev (direct, functional tests),
//!    staging (blue/green, performance tests, the SLO as quality gate) and production
//!    (blue/green);
//! 2. carts 0.11.2, 1 s slower per request, fails the staging gate on `response_time_p95`, is
//!    rolled back; production keeps 0.11.1;
//! 3. carts 0.11.3 passes and is promoted: production shows `Version: v3`;
//! 4. with users on production, the flag EnablePromotion is turned on; about 30 % of
//!    add-to-cart requests fail; the monitor opens "Failure rate increase"; the remediation
//!    turns EnablePromotion off; the error rate recovers and the problem resolves.
//!
//! The embedded defaults: each service version is a local process (this program, re-run as
//! `full_tour carts-service …`) behind a per-stage reverse proxy that records every request
//! (`keptn_local`); SLIs come from those recordings; flags from an embedded
//! Unleash-compatible store (`keptn_local::flagstore`); problems from
//! `keptn_local::monitor`.
//!
//! Real backends by configuration: `UNLEASH_URL` + `UNLEASH_TOKEN` (admin token) +
//! `UNLEASH_CLIENT_TOKEN` use a real Unleash instead of the embedded store (flags are created
//! in project `default` if missing). `DT_TENANT` + `DT_API_TOKEN`: the staging gate's SLIs
//! come from Dynatrace (`keptn_dynatrace::DynatraceSliProvider`, the tour's `sli.yaml` or
//! `--dt-sli FILE`), the tour configures monitoring for sockshop plus a metric event, sends the
//! proxies' measurements to the tenant (it plays the OneAgent's part for local processes) and
//! takes the production problem from Dynatrace's Problems API (polled; see
//! `keptn_examples::tour_dynatrace`).
//!
//! `--kube` deploys to the current KUBECONFIG context instead (same delivery code path):
//! namespaces `sockshop-dev/-staging/-production`, the seed's images (`keptnexamples/carts`,
//! `mongo`), blue/green by switching the Service `carts` between `carts-primary` and the canary,
//! carts-db direct. The tour reaches the Services through `--kube-url` (default: the in-cluster
//! DNS name, for running the tour in a pod) or per-Service `--kube-url-for NAME.NAMESPACE=URL`
//! (for `kubectl port-forward`); when a Service cannot be reached it stops with status 1 and says
//! which URL failed and what to pass instead. SLIs come from Dynatrace when `DT_TENANT` is set
//! (a real OneAgent monitors the pods; the tour sends no measurements of its own then), else
//! from client-side measurements of the tour's own requests (they include network time). On
//! failure or Ctrl-C a pending canary is rolled back, so the serving version stays as it was.
//! `--carts-image REPOSITORY` and `--carts-db-image IMAGE` choose the images (default: the
//! seed's); on a node of the cluster, `--kube-reach cluster-ip` reaches each Service at its
//! ClusterIP read from the API server (checked to route locally) and `--kube-flags-listen IP`
//! serves the embedded flag store where the pods can read it. `scripts/kube-node.sh images DIR`
//! prints these options for its one-machine node, where the whole story runs on real pods.
//!
//! Exit status: 0 when the story ended as the seed says, 1 when it did not (the deviations
//! are listed), 2 on invalid input, 130 on Ctrl-C (every started process is stopped first).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use keptn_deploy::delivery::{
    AbortHandle, Delivery, DeliveryReport, DeliveryTrigger, GateEvaluator,
};
use keptn_deploy::kubernetes::KubeDeployer;
use keptn_deploy::runner::{HttpCheck, HttpTestRunner, Workload};
use keptn_deploy::{
    Artifact, Deployer, DeploymentStrategy, JsonLinesSink, Progress, StageService, TestProgress,
    TestReport, TestRequest, TestRunner, TestStrategy,
};
use keptn_examples::carts::{CartsConfig, serve, serve_db};
use keptn_examples::tour_dynatrace::{
    self, DtProblemSource, DtSettings, OneAgentStandIn, ProblemSignal, TourProblem,
};
use keptn_examples::tour_kube::{self, ClientSideSli, KubeReach, ServiceUrls};
use keptn_local::flagstore::{FlagStore, FlagStoreServer};
use keptn_local::monitor::{Monitor, MonitorConfig, MonitorEvent, Watch};
use keptn_local::{CommandTemplate, LocalDeployer, LocalSliProvider};
use keptn_remediate::unleash::secrecy::{ExposeSecret, SecretString};
use keptn_remediate::unleash::{FeatureToggleAction, FlagState, UnleashClient};
use keptn_remediate::{
    ActionRegistry, RemediationReport, RemediationStatus, Remediator, ResolvedEventVerifier,
};
use keptn_slo::{InMemoryHistory, QualityGate, SliProvider};
use keptn_spec::event::{EventSink, FanOut, KeptnEvent, MemoryEventSink};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, ProjectName, ServiceName, Slo, StageName};
use serde_json::{Value, json};

const SHIPYARD: &str = include_str!("fixtures/tour/shipyard.yaml");
const SLO: &str = include_str!("fixtures/slo/slo.yaml");
const REMEDIATION: &str = include_str!("fixtures/remediation_feature_toggle.yaml");

/// Keptn's full tour on one machine.
#[derive(Debug, Parser)]
#[command(name = "full_tour")]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
    /// Length of each performance test in staging, in seconds.
    #[arg(long, default_value_t = 8.0)]
    test_duration: f64,
    /// Virtual users of the performance tests.
    #[arg(long, default_value_t = 10)]
    users: u32,
    /// Write every Keptn CloudEvent as JSON lines to this file (replaced if it exists).
    #[arg(long)]
    events: Option<PathBuf>,
    /// Write a JSON summary of the outcome to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Longest wait for the problem to open and resolve, in seconds.
    #[arg(long, default_value_t = 90.0)]
    remediation_timeout: f64,
    /// Deploy to the cluster of the current KUBECONFIG context instead of local processes.
    #[arg(long)]
    kube: bool,
    /// With --kube: how this program reaches a Service of the cluster; placeholders
    /// `{service}` (e.g. `carts-canary`), `{namespace}` (`sockshop-staging`), `{port}`.
    #[arg(long, value_name = "TEMPLATE", default_value = tour_kube::DEFAULT_TEMPLATE)]
    kube_url: String,
    /// With --kube: reach Service NAME in NAMESPACE at URL instead (e.g. a `kubectl
    /// port-forward`), as `NAME.NAMESPACE=URL`; repeatable.
    #[arg(long, value_name = "NAME.NAMESPACE=URL")]
    kube_url_for: Vec<String>,
    /// With --kube: how Services are reached: `url` (--kube-url, --kube-url-for) or
    /// `cluster-ip` (each Service's ClusterIP read from the API server, for a machine that is a
    /// node of the cluster; --kube-url-for still wins).
    #[arg(long, value_enum, default_value_t = KubeReachMode::Url)]
    kube_reach: KubeReachMode,
    /// With --kube and the embedded flag store: serve the store on this address of this
    /// machine (one the pods can reach, such as the node's bridge) and give carts its URL.
    #[arg(long, value_name = "IP")]
    kube_flags_listen: Option<std::net::IpAddr>,
    /// The repository of the carts images; the versions 0.11.1, 0.11.2, 0.11.3 are its tags.
    #[arg(
        long,
        value_name = "REPOSITORY",
        default_value = "docker.io/keptnexamples/carts"
    )]
    carts_image: String,
    /// The carts-db image.
    #[arg(long, value_name = "IMAGE", default_value = "docker.io/mongo:4.2.2")]
    carts_db_image: String,
    /// With --kube: longest wait for a rollout, in seconds (then it is rolled back).
    #[arg(long, default_value_t = 300)]
    kube_rollout_timeout: u64,
    /// No progress bars (event lines and the report are still printed).
    #[arg(long)]
    no_progress: bool,
    /// Send the tour's events to the webhooks of this Keptn `webhook.yaml` (Slack and Teams
    /// messages are sent when `SLACK_WEBHOOK_URL` / `TEAMS_WEBHOOK_URL` are set).
    #[arg(long)]
    notify: Option<PathBuf>,
    /// With DT_TENANT: the Dynatrace sli.yaml of the staging gate (default: the tour's, over
    /// the metrics the tour sends; use the seed's builtin:service.* file for OneAgent-monitored
    /// deployments).
    #[arg(long, value_name = "FILE")]
    dt_sli: Option<PathBuf>,
    /// With DT_TENANT: seconds the gate waits after a test window for Dynatrace to ingest its
    /// data (the tour sends a second's data 5 s after it; a real tenant then needs about a
    /// minute more, the fake tenant none: use 7 with the fake).
    #[arg(long, default_value_t = 90.0)]
    dt_settle: f64,
    /// With DT_TENANT: seconds between two reads of the Problems API (Dynatrace rate-limits
    /// its APIs; the fake tenant does not, use 1 with it).
    #[arg(long, default_value_t = 5.0)]
    dt_poll: f64,
}

/// How `--kube` reaches the cluster's Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KubeReachMode {
    /// `--kube-url` and `--kube-url-for`.
    Url,
    /// Each Service's ClusterIP from the API server.
    ClusterIp,
}

/// The roles the tour runs itself in as a child process.
#[derive(Debug, Subcommand)]
enum Role {
    /// Serve the carts sample service.
    #[command(name = "carts-service", hide = true)]
    CartsService {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        version: String,
    },
    /// Serve the carts-db stand-in.
    #[command(name = "carts-db", hide = true)]
    CartsDb {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        version: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("full_tour: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match args.role {
        Some(Role::CartsService { port, version }) => {
            return exit_of(runtime.block_on(serve(CartsConfig::from_env(port, version))));
        }
        Some(Role::CartsDb { port, version }) => {
            return exit_of(runtime.block_on(serve_db(port, version)));
        }
        None => {}
    }
    if let Err(e) = kube_urls(&args) {
        eprintln!("full_tour: {e}");
        return ExitCode::from(2);
    }
    if args
        .carts_image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
        || args.carts_image.contains('@')
    {
        eprintln!(
            "full_tour: --carts-image `{}` must be a repository without tag (the tags are the versions 0.11.1, 0.11.2, 0.11.3)",
            args.carts_image
        );
        return ExitCode::from(2);
    }
    if !(args.dt_poll.is_finite() && args.dt_poll >= 0.1) {
        eprintln!("full_tour: --dt-poll must be at least 0.1 seconds");
        return ExitCode::from(2);
    }
    if !(args.dt_settle.is_finite() && args.dt_settle >= 0.0) {
        eprintln!("full_tour: --dt-settle must be a number of seconds ≥ 0");
        return ExitCode::from(2);
    }
    let dt =
        match DtSettings::from_env(args.dt_sli.clone(), Duration::from_secs_f64(args.dt_settle))
            .and_then(|dt| {
                if let Some(d) = &dt {
                    d.sli_config()?;
                    d.client()?;
                }
                Ok(dt)
            }) {
            Ok(dt) => dt,
            Err(e) => {
                eprintln!("full_tour: {e:#}");
                return ExitCode::from(2);
            }
        };
    if !(args.test_duration.is_finite() && args.test_duration > 0.0) {
        eprintln!("full_tour: --test-duration must be a positive number of seconds");
        return ExitCode::from(2);
    }
    runtime.block_on(tour_main(args, dt))
}

/// The `--kube-url` template with the `--kube-url-for` overrides.
fn kube_urls(args: &Args) -> Result<ServiceUrls, String> {
    args.kube_url_for
        .iter()
        .try_fold(ServiceUrls::new(&args.kube_url)?, |urls, spec| {
            urls.with_override(spec)
        })
}

fn exit_of(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one line per Keptn event above the progress bars.
#[derive(Debug, Clone)]
struct PrintSink {
    out: MultiProgress,
}

impl EventSink for PrintSink {
    fn emit(&self, event: &KeptnEvent) {
        let d = &event.data;
        let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
        let mut line = format!(
            "  {} {:<46} {:<10} {:<8}",
            event.time.unwrap_or_else(Utc::now).format("%H:%M:%S%.3f"),
            event.ty.to_string(),
            field("stage"),
            field("service"),
        );
        for key in ["result", "State"] {
            if !field(key).is_empty() {
                line.push(' ');
                line.push_str(field(key));
            }
        }
        if let Some(title) = d.get("ProblemTitle").and_then(Value::as_str) {
            line.push_str(&format!(" \"{title}\""));
        }
        let _ = self.out.println(line);
    }
}

struct Ui {
    out: MultiProgress,
}

impl Ui {
    fn new(progress: bool) -> Self {
        let target = if progress && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            out: MultiProgress::with_draw_target(target),
        }
    }

    fn say(&self, line: impl AsRef<str>) {
        if self.out.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            let _ = self.out.println(line.as_ref());
        }
    }

    fn bar(&self, template: &str) -> ProgressBar {
        let bar = self.out.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }
}

/// The flag backend: the embedded store, or a real Unleash from the environment.
struct Flags {
    client: UnleashClient,
    url: String,
    client_token: SecretString,
    store: Option<FlagStoreServer>,
}

async fn flags(ui: &Ui, listen: std::net::IpAddr) -> anyhow::Result<Flags> {
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

/// What one delivery did in one stage.
#[derive(Debug, Clone)]
struct StageOutcome {
    stage: String,
    tasks: Vec<(String, String)>,
    result: String,
    evaluation: Option<Value>,
    rollback: bool,
    serving: Option<String>,
}

#[derive(Debug, Clone)]
struct ArtifactOutcome {
    service: String,
    version: String,
    image: String,
    context: String,
    stages: Vec<StageOutcome>,
}

fn tag(image: &str) -> String {
    image.rsplit(':').next().unwrap_or(image).to_owned()
}

fn p95_of(evaluation: &Value) -> Option<f64> {
    evaluation["indicatorResults"]
        .as_array()?
        .iter()
        .find(|r| r["value"]["metric"] == "response_time_p95")
        .and_then(|r| {
            r["value"]["success"]
                .as_bool()
                .filter(|s| *s)
                .and(r["value"]["value"].as_f64())
        })
}

async fn outcome_of(
    deployer: &dyn Deployer,
    shipyard: &Shipyard,
    project: &ProjectName,
    service: &ServiceName,
    image: &str,
    report: &DeliveryReport,
) -> ArtifactOutcome {
    let mut stages = Vec::new();
    for stage in shipyard.stages() {
        let name = stage.name.as_str();
        let target = StageService::new(project.clone(), stage.name.clone(), service.clone());
        let serving = deployer
            .status(&target)
            .await
            .ok()
            .and_then(|s| s.serving_image().map(tag));
        let Some(seq) = report.sequence(name, "delivery") else {
            stages.push(StageOutcome {
                stage: name.to_owned(),
                tasks: Vec::new(),
                result: "not run".to_owned(),
                evaluation: None,
                rollback: false,
                serving,
            });
            continue;
        };
        let evaluation = seq
            .task("evaluation")
            .map(|t| t.data.clone())
            .filter(|d| d.get("result").is_some() || d.get("score").is_some());
        stages.push(StageOutcome {
            stage: name.to_owned(),
            tasks: seq
                .tasks
                .iter()
                .map(|t| (t.name.clone(), t.result.to_string()))
                .collect(),
            result: seq.result.to_string(),
            evaluation,
            rollback: report.sequence(name, "rollback").is_some(),
            serving,
        });
    }
    ArtifactOutcome {
        service: service.to_string(),
        version: tag(image),
        image: image.to_owned(),
        context: report.context.to_string(),
        stages,
    }
}

/// Keptn's jmeter-service ran tests only for services that have test files: carts has them
/// (`basiccheck.jmx`, `load.jmx`), carts-db has none, so its tests pass without requests.
///
/// The deployment URIs are resolved through the backend first (the cluster's in-cluster names
/// through `--kube-url`); a URI that cannot be reached stops the tests with an error that is
/// also kept in `unreachable`, so the tour can stop with that message.
#[derive(Debug)]
struct ServiceTests {
    tested: ServiceName,
    runner: HttpTestRunner,
    backend: Backend,
    unreachable: Arc<std::sync::Mutex<Option<String>>>,
}

#[async_trait::async_trait]
impl TestRunner for ServiceTests {
    fn name(&self) -> &str {
        "http"
    }

    async fn run(
        &self,
        request: &TestRequest,
        progress: &Progress,
    ) -> keptn_deploy::Result<TestReport> {
        if request.target.service == self.tested {
            let mut uris = Vec::with_capacity(request.uris.len());
            for uri in &request.uris {
                match self.backend.test_url(uri).await {
                    Ok(url) => uris.push(url),
                    Err(message) => {
                        *self
                            .unreachable
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(message.clone());
                        return Err(keptn_deploy::Error::Test { message });
                    }
                }
            }
            let request = TestRequest::new(request.target.clone(), request.strategy.clone(), uris);
            self.runner.run(&request, progress).await
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
enum Backend {
    /// Local processes behind per-stage proxies (the embedded default).
    Local(Arc<LocalDeployer>),
    /// The cluster of the current KUBECONFIG context.
    Kube {
        deployer: Arc<KubeDeployer>,
        reach: Arc<KubeReach>,
    },
}

impl Backend {
    /// `local` or `kubernetes`.
    fn name(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Kube { .. } => "kubernetes",
        }
    }

    fn deployer(&self) -> Arc<dyn Deployer> {
        match self {
            Self::Local(d) => d.clone(),
            Self::Kube { deployer, .. } => deployer.clone(),
        }
    }

    /// The URL of the serving version of `target`, checked to answer for the cluster.
    async fn public_url(&self, target: &StageService) -> anyhow::Result<String> {
        match self {
            Self::Local(d) => Ok(d.public_url(target).await?),
            Self::Kube { reach, .. } => {
                reach.check_public(target).await.map_err(anyhow::Error::msg)
            }
        }
    }

    /// The URL tests use for a deployment URI (`Err` with what to do when unreachable).
    async fn test_url(&self, uri: &str) -> Result<String, String> {
        match self {
            Self::Local(_) => Ok(uri.to_owned()),
            Self::Kube { reach, .. } => {
                reach.check_uri(uri).await?;
                Ok(reach.test_url(uri))
            }
        }
    }

    /// Where the tour's production users record their requests (client side), if it must.
    fn production_recorder(&self, target: &StageService) -> Option<(ClientSideSli, StageService)> {
        match self {
            Self::Local(_) => None,
            Self::Kube { reach, .. } => Some((reach.sli().clone(), target.clone())),
        }
    }

    /// Stops what must not outlive the tour: local processes; in the cluster, a pending canary
    /// (rolled back, so the serving version stays as it was). Returns what it did or failed.
    async fn clean_up(&self, targets: &[StageService]) -> Vec<String> {
        match self {
            Self::Local(d) => d
                .shutdown()
                .await
                .into_iter()
                .map(|e| format!("warning: {e}"))
                .collect(),
            Self::Kube { deployer, .. } => {
                let mut said = Vec::new();
                for t in targets {
                    match deployer.status(t).await {
                        Ok(status) if status.canary.is_some() => match deployer.rollback(t).await {
                            Ok(after) => said.push(format!(
                                "rolled back the pending canary of {t}; serving {}",
                                after.serving_image().unwrap_or("nothing")
                            )),
                            Err(e) => said.push(format!(
                                "warning: cannot roll back the pending canary of {t}: {e}"
                            )),
                        },
                        Ok(_) => {}
                        Err(e) => said.push(format!("warning: cannot read the state of {t}: {e}")),
                    }
                }
                said
            }
        }
    }
}

struct ProblemOutcome {
    problem: TourProblem,
    report: Option<RemediationReport>,
}

/// Users on production: 3 add-to-cart requests and one cart view per round, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Traffic {
    fn start(url: &str, users: u32, recorder: Option<&(ClientSideSli, StageService)>) -> Self {
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

    async fn stop(self) -> (u64, u64) {
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

async fn tour_main(args: Args, dt: Option<DtSettings>) -> ExitCode {
    let ui = Arc::new(Ui::new(!args.no_progress));
    // Created here so that Ctrl-C and errors can stop what the tour started.
    let backend_slot: Arc<tokio::sync::OnceCell<Backend>> = Arc::default();
    let abort = AbortHandle::new();
    let run = tour(&args, dt, ui.clone(), backend_slot.clone(), abort.clone());
    tokio::pin!(run);
    let result = tokio::select! {
        r = &mut run => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    if result.is_none() {
        // A running delivery stops at its next step and rolls back its pending canary.
        abort.abort();
        ui.say("interrupted: stopping the running delivery");
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut run).await;
    }
    if let Some(backend) = backend_slot.get() {
        let targets = if matches!(result, Some(Ok(_))) {
            Vec::new()
        } else {
            tour_targets()
        };
        for line in backend.clean_up(&targets).await {
            ui.say(line);
        }
    }
    match result {
        None => {
            ui.say(if args.kube {
                "interrupted: no canary is left pending; the serving versions are as they were"
            } else {
                "interrupted: every started process was stopped"
            });
            ExitCode::from(130)
        }
        Some(Ok(true)) => ExitCode::SUCCESS,
        Some(Ok(false)) => ExitCode::FAILURE,
        Some(Err(e)) => {
            ui.say(format!("full_tour failed: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Every service of the tour in every stage (what a clean-up looks at).
fn tour_targets() -> Vec<StageService> {
    let (Ok(project), Ok(shipyard)) = (
        "sockshop".parse::<ProjectName>(),
        Shipyard::parse(SHIPYARD, &ParseOptions::new()),
    ) else {
        return Vec::new();
    };
    let mut targets = Vec::new();
    for stage in shipyard.value.stages() {
        for service in ["carts", "carts-db"] {
            if let Ok(service) = service.parse() {
                targets.push(StageService::new(
                    project.clone(),
                    stage.name.clone(),
                    service,
                ));
            }
        }
    }
    targets
}

/// The cluster of the current KUBECONFIG context, with the seed's service shapes.
async fn kube_backend(args: &Args, ui: &Ui, flags: &Flags) -> anyhow::Result<Backend> {
    let urls = kube_urls(args).map_err(anyhow::Error::msg)?;
    let client = keptn_deploy::kube::Client::try_default()
        .await
        // kube's message already names every cause; chaining them would repeat them.
        .map_err(|e| {
            anyhow::anyhow!(
                "--kube: cannot connect to the cluster of the current KUBECONFIG context: {e}"
            )
        })?;
    let mut deployer = KubeDeployer::new(client.clone())
        .with_rollout_timeout(Duration::from_secs(args.kube_rollout_timeout))
        .with_switch_drain(Duration::from_secs(10), Duration::from_secs(1));
    let mut ports = BTreeMap::new();
    for (service, mut template) in tour_kube::carts_templates() {
        if service.as_str() == "carts"
            && (flags.store.is_none() || args.kube_flags_listen.is_some())
        {
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
    if args.kube_reach == KubeReachMode::ClusterIp {
        ui.say("deployer: Kubernetes (current KUBECONFIG context); Services reached at their ClusterIPs");
        reach = reach.with_cluster_ips(client.clone());
    } else {
        ui.say(format!(
            "deployer: Kubernetes (current KUBECONFIG context); Services reached at {}",
            args.kube_url
        ));
    }
    Ok(Backend::Kube {
        deployer: Arc::new(deployer),
        reach: Arc::new(reach),
    })
}

/// Local processes (this program in its service roles) behind per-stage proxies.
fn local_backend(flags: &Flags, sli: &LocalSliProvider) -> anyhow::Result<Backend> {
    let exe = std::env::current_exe().context("cannot find this program to start services")?;
    let exe = exe.display().to_string();
    let carts_template = keptn_examples::carts::service_template(&exe)
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

#[allow(clippy::too_many_lines)]
async fn tour(
    args: &Args,
    dt: Option<DtSettings>,
    ui: Arc<Ui>,
    backend_slot: Arc<tokio::sync::OnceCell<Backend>>,
    abort: AbortHandle,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let started_at = Utc::now();
    let project: ProjectName = "sockshop".parse()?;
    let carts: ServiceName = "carts".parse()?;
    let carts_db: ServiceName = "carts-db".parse()?;
    let production: StageName = "production".parse()?;
    let staging: StageName = "staging".parse()?;

    let shipyard = Shipyard::parse(SHIPYARD, &ParseOptions::new().file("shipyard.yaml"))
        .context("the tour's shipyard")?
        .value;
    let slo = Slo::from_yaml_str(SLO).context("the tour's slo.yaml")?;

    // Events: memory (for the report), one line each on the terminal, JSON lines on request.
    let memory = MemoryEventSink::new();
    let mut fan = FanOut::new().with(memory.clone()).with(PrintSink {
        out: ui.out.clone(),
    });
    let mut jsonl = None;
    if let Some(path) = &args.events {
        if path.exists() {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot replace {}", path.display()))?;
        }
        let sink = Arc::new(JsonLinesSink::append(path)?);
        fan.push(sink.clone());
        jsonl = Some(sink);
    }
    let notifier = keptn_notify::from_env_and_file(args.notify.as_deref())
        .context("cannot set up notifications")?;
    if let Some(n) = &notifier {
        fan.push(Arc::new(n.clone()));
    }
    let sink: Arc<dyn EventSink> = Arc::new(fan);

    ui.say("== keptn-rs full tour: project sockshop (dev → staging → production)");
    let listen = args
        .kube_flags_listen
        .filter(|_| args.kube)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let flags = flags(&ui, listen).await?;

    let local_sli = LocalSliProvider::new();
    let backend = if args.kube {
        if flags.store.is_some() && args.kube_flags_listen.is_none() {
            ui.say(
                "warning: the embedded flag store listens on this machine only; carts in the \
                 cluster cannot read its flags (set UNLEASH_URL and the tokens to an Unleash \
                 both reach)",
            );
        }
        kube_backend(args, &ui, &flags).await?
    } else {
        local_backend(&flags, &local_sli)?
    };
    let _ = backend_slot.set(backend.clone());
    let deployer = backend.deployer();
    // SLIs: the local proxies' recordings, or client-side measurements in the cluster.
    let sli: Arc<dyn SliProvider> = match &backend {
        Backend::Local(_) => Arc::new(local_sli.clone()),
        Backend::Kube { reach, .. } => {
            if dt.is_none() {
                ui.say("SLIs: client-side measurements of the tour's own requests (they include network time)");
            }
            Arc::new(reach.sli().clone())
        }
    };

    // Dynatrace: monitoring set-up, the OneAgent stand-in, and the gate's SLIs from the tenant.
    let mut dt_client = None;
    let mut stand_in = None;
    let gate_sli: Arc<dyn keptn_slo::SliProvider> = match &dt {
        Some(settings) => {
            let client = settings.client()?;
            ui.say(format!(
                "monitoring: Dynatrace at {} (SLIs of the staging gate, problems of production)",
                client.base_url()
            ));
            let event = tour_dynatrace::metric_event(&project, &production, &carts);
            let stages: Vec<StageName> = shipyard.stages().iter().map(|s| s.name.clone()).collect();
            let report =
                tour_dynatrace::configure_monitoring(&client, &project, stages.clone(), event)
                    .await;
            for item in &report.items {
                ui.say(format!(
                    "   {} \"{}\": {}",
                    item.kind, item.name, item.action
                ));
            }
            anyhow::ensure!(
                report.is_success(),
                "keptn configure monitoring dynatrace failed (see above)"
            );
            let scopes = stages
                .iter()
                .flat_map(|st| {
                    [&carts, &carts_db].map(|sv| (project.clone(), st.clone(), sv.clone()))
                })
                .collect();
            if let Backend::Local(_) = &backend {
                stand_in = Some(OneAgentStandIn::spawn(
                    client.clone(),
                    local_sli.clone(),
                    scopes,
                    tour_dynatrace::INGEST_LAG,
                ));
                ui.say(format!(
                    "   the tour sends the proxies' measurements to {}/api/v2/metrics/ingest once a second, {} s behind ({})",
                    client.base_url(),
                    tour_dynatrace::INGEST_LAG.as_secs(),
                    tour_dynatrace::metric_keys().map(|(k, _)| k).join(", ")
                ));
            } else {
                drop(scopes);
                ui.say("   in the cluster, Dynatrace's OneAgent measures the pods; the tour sends nothing");
            }
            let provider = settings.sli_provider(client.clone())?;
            dt_client = Some(client);
            Arc::new(provider)
        }
        None => sli.clone(),
    };
    let gate = QualityGate::new(gate_sli, Arc::new(InMemoryHistory::new()));
    let evaluator = GateEvaluator::new(gate).with_slo(staging.clone(), carts.clone(), slo);
    let test_duration = Duration::from_secs_f64(args.test_duration);
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
            .users(args.users)
            .duration(test_duration)
            .think_time(Duration::from_millis(50)),
        );
    let runner = match &backend {
        Backend::Kube { reach, .. } => {
            let reach = reach.clone();
            runner.observer(move |sample| reach.observe(sample))
        }
        Backend::Local(_) => runner,
    };
    let unreachable: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let load_bar = ui.bar("  {prefix:>10} [{bar:30}] {msg}");
    load_bar.set_prefix("tests");
    let bar = load_bar.clone();
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
    let delivery = Delivery::new(shipyard.clone(), deployer.clone(), sink.clone())
        .with_test_runner(Arc::new(ServiceTests {
            tested: carts.clone(),
            runner,
            backend: backend.clone(),
            unreachable: unreachable.clone(),
        }))
        .with_evaluator(Arc::new(evaluator))
        .with_strategy_override(carts_db.clone(), DeploymentStrategy::Direct)
        .with_test_progress(progress);

    // --- deliveries -------------------------------------------------------------------------
    let mut artifacts = Vec::new();
    let carts_images: Vec<String> = ["0.11.1", "0.11.2", "0.11.3"]
        .iter()
        .map(|v| format!("{}:{v}", args.carts_image))
        .collect();
    for (service, image) in [
        (&carts_db, args.carts_db_image.as_str()),
        (&carts, carts_images[0].as_str()),
        (&carts, carts_images[1].as_str()),
        (&carts, carts_images[2].as_str()),
    ] {
        ui.say(format!("\n== keptn send event new-artifact --project=sockshop --service={service} --image={image}"));
        let trigger = DeliveryTrigger::new(project.clone(), service.clone(), Artifact::new(image)?);
        let report = delivery
            .deliver_with_abort(trigger, &abort)
            .await
            .with_context(|| format!("delivery of {image}"))?;
        let outcome = outcome_of(
            deployer.as_ref(),
            &shipyard,
            &project,
            service,
            image,
            &report,
        )
        .await;
        for s in &outcome.stages {
            ui.say(format!(
                "   {:<10} {:<8} serving {}",
                s.stage,
                s.result,
                s.serving.as_deref().unwrap_or("-")
            ));
        }
        artifacts.push(outcome);
        if report.aborted() || abort.is_aborted() {
            anyhow::bail!("interrupted during the delivery of {image}");
        }
        let unreachable = unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(message) = unreachable {
            load_bar.finish_and_clear();
            anyhow::bail!("the tour cannot test what it deployed: {message}");
        }
    }
    load_bar.finish_and_clear();

    let prod_carts = StageService::new(project.clone(), production.clone(), carts.clone());
    let prod_url = backend.public_url(&prod_carts).await?;
    let page = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{prod_url}/"))
        .send()
        .await
        .context("cannot open carts in production")?
        .text()
        .await?;
    let shows_v3 = page.contains("Version: v3");
    ui.say(format!(
        "\n== carts in production ({prod_url}) shows: {}",
        page.lines()
            .find(|l| l.contains("Version:"))
            .map(|l| l.replace("<p>", "").replace("</p>", ""))
            .unwrap_or_default()
    ));

    // --- self-healing ----------------------------------------------------------------------
    let remediation_enabled = shipyard
        .stage(production.as_str())
        .is_some_and(|s| s.sequence("remediation").is_some());
    let mut problems: Vec<ProblemOutcome> = Vec::new();
    let mut traffic_counts = (0, 0);
    let mut flag_after = None;
    if remediation_enabled {
        ui.say(
            "\n== self-healing with feature flags: users on production, then EnablePromotion on",
        );
        let remediator = Remediator::builder(
            ActionRegistry::new().with(FeatureToggleAction::new(flags.client.clone())),
        )
        .verifier(ResolvedEventVerifier::new(Duration::from_secs_f64(
            args.remediation_timeout,
        )))
        .event_sink(sink.clone())
        .wait(Duration::ZERO)
        .build();
        remediator
            .add_remediation_yaml(
                project.clone(),
                production.clone(),
                Some(carts.clone()),
                REMEDIATION,
                Some("remediation.yaml"),
            )
            .context("the tour's remediation.yaml")?;

        let traffic = Traffic::start(
            &prod_url,
            4,
            backend.production_recorder(&prod_carts).as_ref(),
        );
        let users_bar = ui.bar("  {prefix:>10} {spinner} {msg}");
        users_bar.set_prefix("users");
        users_bar.enable_steady_tick(Duration::from_millis(200));
        let monitor = Monitor::new(
            sli.clone(),
            MonitorConfig::new(project.clone(), production.clone(), carts.clone())
                .with_deployment("primary")
                .with_timing(Duration::from_secs(1), Duration::from_secs(4))
                .with_streaks(3, 3)
                .with_watches(vec![
                    Watch::above("error_rate", 10.0, "Failure rate increase"),
                    Watch::above("response_time_p95", 1000.0, "Response time degradation"),
                ]),
        )
        .with_event_sink(sink.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProblemSignal>();
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Problems come from Dynatrace's metric event in Dynatrace mode, else from the monitor.
        let (problem_errors, mut problem_error_rx) = tokio::sync::mpsc::unbounded_channel();
        let (monitor, dt_problems) = match &dt_client {
            Some(client) => {
                ui.say(format!(
                    "   problems: Dynatrace metric event \"{}\" (error rate > {} %), polled every {} s from {}/api/v2/problems",
                    tour_dynatrace::PROBLEM_TITLE,
                    tour_dynatrace::ERROR_RATE_THRESHOLD,
                    args.dt_poll,
                    client.base_url()
                ));
                let source = DtProblemSource::spawn(
                    client.clone(),
                    (project.clone(), production.clone(), carts.clone()),
                    Utc::now(),
                    Duration::from_secs_f64(args.dt_poll),
                    sink.clone(),
                    tx,
                    problem_errors,
                );
                (None, Some(source))
            }
            None => {
                drop(problem_errors);
                let (mtx, mut mrx) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(async move {
                    while let Some(e) = mrx.recv().await {
                        let signal = match e {
                            MonitorEvent::Opened(p) => ProblemSignal::Opened(p.into()),
                            MonitorEvent::Resolved(p) => ProblemSignal::Resolved(p.into()),
                            _ => continue,
                        };
                        if tx.send(signal).is_err() {
                            break;
                        }
                    }
                });
                (Some(monitor.spawn(mtx)), None)
            }
        };
        flags
            .client
            .set_flag("EnablePromotion", FlagState::On)
            .await
            .context("cannot turn EnablePromotion on")?;
        ui.say(format!(
            "   {} EnablePromotion turned on in production (the promotional campaign starts)",
            Utc::now().format("%H:%M:%S%.3f")
        ));
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs_f64(args.remediation_timeout);
        let mut running: Vec<(String, tokio::task::JoinHandle<RemediationReport>)> = Vec::new();
        loop {
            users_bar.set_message(format!(
                "{} ok, {} failed requests; open problems: {}",
                traffic.ok.load(Ordering::Relaxed),
                traffic.failed.load(Ordering::Relaxed),
                problems
                    .iter()
                    .filter(|p| p.problem.resolved_at.is_none())
                    .count()
            ));
            let all_resolved =
                !problems.is_empty() && problems.iter().all(|p| p.problem.resolved_at.is_some());
            if all_resolved {
                break;
            }
            let event = tokio::select! {
                e = rx.recv() => e,
                Some(msg) = problem_error_rx.recv() => {
                    ui.say(format!("   warning: Dynatrace problems: {msg}"));
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => {
                    ui.say("   the problem did not open and resolve in time (--remediation-timeout)");
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(250)) => continue,
                () = abort.aborted() => break,
            };
            match event {
                Some(ProblemSignal::Opened(p)) => {
                    ui.say(format!(
                        "   {} problem {} \"{}\" opened: {} = {:.1} (threshold {})",
                        p.opened_at.format("%H:%M:%S%.3f"),
                        p.problem_id,
                        p.title,
                        p.sli,
                        p.value_at_open,
                        p.threshold
                    ));
                    let r = remediator.clone();
                    let problem = p.to_problem();
                    running.push((
                        p.pid.clone(),
                        tokio::spawn(async move { r.on_problem_open(problem).await }),
                    ));
                    problems.push(ProblemOutcome {
                        problem: p,
                        report: None,
                    });
                }
                Some(ProblemSignal::Resolved(p)) => {
                    ui.say(format!(
                        "   {} problem {} \"{}\" resolved: {} = {:.1}",
                        p.resolved_at
                            .unwrap_or_else(Utc::now)
                            .format("%H:%M:%S%.3f"),
                        p.problem_id,
                        p.title,
                        p.sli,
                        p.value_at_resolve.unwrap_or(f64::NAN)
                    ));
                    remediator.on_problem_resolved(&p.pid);
                    if let Some(slot) = problems.iter_mut().find(|o| o.problem.pid == p.pid) {
                        slot.problem = p;
                    }
                }
                None => break,
            }
        }
        for (pid, task) in running {
            let report = match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(r)) => Some(r),
                _ => None,
            };
            if let Some(slot) = problems.iter_mut().find(|o| o.problem.pid == pid) {
                slot.report = report;
            }
        }
        if let Some(m) = monitor {
            m.stop();
        }
        if let Some(d) = dt_problems {
            d.stop();
        }
        traffic_counts = traffic.stop().await;
        users_bar.finish_and_clear();
        flag_after = flags.client.flag_state("EnablePromotion").await.ok();
    }

    let mut dt_summary = Value::Null;
    if let Some(s) = stand_in.take() {
        let st = s.stop();
        ui.say(format!(
            "\n== sent to Dynatrace: {} data points accepted, {} rejected, {} failed ingest calls{}",
            st.lines_ok,
            st.lines_invalid,
            st.failed_calls,
            st.last_error
                .as_ref()
                .map(|e| format!(" (last: {e})"))
                .unwrap_or_default()
        ));
        dt_summary = json!({
            "tenant": dt_client.as_ref().map(keptn_dynatrace::DynatraceClient::base_url),
            "linesOk": st.lines_ok,
            "linesInvalid": st.lines_invalid,
            "failedIngestCalls": st.failed_calls,
        });
    }

    // --- report ------------------------------------------------------------------------------
    print_timeline(&ui, &shipyard, &artifacts, &problems);
    print_gate_reports(&ui, &artifacts);

    let checks = story_checks(
        &artifacts,
        shows_v3,
        &problems,
        flag_after,
        remediation_enabled,
    );
    let ok = checks.iter().all(|(_, pass, _)| *pass);
    ui.say("\n== did the story end as the seed says?");
    for (name, pass, detail) in &checks {
        ui.say(format!(
            "   [{}] {name}: {detail}",
            if *pass { "ok" } else { "FAILED" }
        ));
    }
    let wall = started.elapsed();
    ui.say(format!(
        "\n{} in {:.1}s ({} events{})",
        if ok {
            "tour completed as the seed says"
        } else {
            "tour did NOT end as the seed says"
        },
        wall.as_secs_f64(),
        memory.len(),
        args.events
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    ));
    if let Some(n) = &notifier {
        if let Err(e) = n.shutdown(Duration::from_secs(30)).await {
            ui.say(format!(
                "warning: notifications were not all delivered: {e}"
            ));
        }
        ui.say(format!("notifications: {}", n.stats()));
    }
    if let Some(sink) = &jsonl
        && let Some(e) = sink.error()
    {
        ui.say(format!("warning: the events file is incomplete: {e}"));
    }
    if let Some(path) = &args.summary {
        let mut summary = summary_json(
            started_at,
            wall,
            &artifacts,
            &problems,
            &checks,
            ok,
            traffic_counts,
            flags.store.is_some(),
            backend.name(),
        );
        summary["monitoring"] = if dt_summary.is_null() {
            json!(sli.name())
        } else {
            json!({"dynatrace": dt_summary})
        };
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    drop(flags);
    Ok(ok)
}

fn mark(result: &str) -> &'static str {
    match result {
        "pass" => "✓",
        "warning" => "!",
        "fail" => "✗",
        _ => "?",
    }
}

fn print_timeline(
    ui: &Ui,
    shipyard: &Shipyard,
    artifacts: &[ArtifactOutcome],
    problems: &[ProblemOutcome],
) {
    ui.say("\n== timeline per stage (like Keptn's Bridge)");
    for stage in shipyard.stages() {
        ui.say(format!("  {}", stage.name));
        for a in artifacts {
            let Some(s) = a.stages.iter().find(|s| s.stage == stage.name.as_str()) else {
                continue;
            };
            if s.tasks.is_empty() {
                ui.say(format!(
                    "    {:<9} {:<7} not delivered",
                    a.service, a.version
                ));
                continue;
            }
            let mut line = format!("    {:<9} {:<7}", a.service, a.version);
            for (task, result) in &s.tasks {
                line.push_str(&format!(" {task} {}", mark(result)));
                if task == "evaluation"
                    && let Some(e) = &s.evaluation
                    && e["indicatorResults"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty())
                {
                    let score = e["score"].as_f64().unwrap_or(0.0);
                    match p95_of(e) {
                        Some(p95) => line.push_str(&format!(" ({score:.0}, p95 {p95:.0} ms)")),
                        None => line.push_str(&format!(" ({score:.0})")),
                    }
                }
            }
            if s.rollback {
                line.push_str(" → rollback ✓");
            }
            line.push_str(&format!(
                "   serving {}",
                s.serving.as_deref().unwrap_or("-")
            ));
            ui.say(line);
        }
        if stage.sequence("remediation").is_some() {
            for p in problems {
                let actions: Vec<String> = p
                    .report
                    .iter()
                    .flat_map(|r| &r.steps)
                    .map(|s| {
                        format!(
                            "{} {} {}",
                            s.step.action,
                            s.step
                                .value
                                .as_ref()
                                .and_then(|v| serde_json::to_value(v).ok())
                                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                                .unwrap_or_default(),
                            if s.outcome.status.as_str() == "succeeded" {
                                "✓"
                            } else {
                                "✗"
                            }
                        )
                    })
                    .collect();
                ui.say(format!(
                    "    problem {} \"{}\" opened {} → {} → {}",
                    p.problem.problem_id,
                    p.problem.title,
                    p.problem.opened_at.format("%H:%M:%S"),
                    if actions.is_empty() {
                        "no action".to_owned()
                    } else {
                        actions.join(", ")
                    },
                    match (&p.problem.resolved_at, &p.report) {
                        (Some(t), Some(r)) => format!("{} at {}", r.status, t.format("%H:%M:%S")),
                        (Some(t), None) => format!("resolved at {}", t.format("%H:%M:%S")),
                        (None, _) => "still open".to_owned(),
                    }
                ));
            }
        }
    }
}

fn print_gate_reports(ui: &Ui, artifacts: &[ArtifactOutcome]) {
    ui.say("\n== quality gate reports");
    for a in artifacts {
        for s in &a.stages {
            let Some(e) = &s.evaluation else { continue };
            let Some(results) = e["indicatorResults"].as_array().filter(|r| !r.is_empty()) else {
                continue;
            };
            ui.say(format!(
                "  {} {} in {}: {} (score {:.0}/100)",
                a.service,
                a.version,
                s.stage,
                e["result"].as_str().unwrap_or("?"),
                e["score"].as_f64().unwrap_or(0.0)
            ));
            for r in results {
                let targets = |key: &str| {
                    r[key]
                        .as_array()
                        .map(|ts| {
                            ts.iter()
                                .map(|t| {
                                    format!(
                                        "{} {}",
                                        t["criteria"].as_str().unwrap_or("?"),
                                        if t["violated"].as_bool().unwrap_or(true) {
                                            "✗"
                                        } else {
                                            "✓"
                                        }
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_else(|| "-".to_owned())
                };
                let value = &r["value"];
                let shown = if value["success"].as_bool().unwrap_or(false) {
                    format!("{:.1}", value["value"].as_f64().unwrap_or(f64::NAN))
                } else {
                    format!("no value ({})", value["message"].as_str().unwrap_or(""))
                };
                ui.say(format!(
                    "    {:<18} = {:<10} pass: {:<22} warning: {:<12} → {}",
                    value["metric"].as_str().unwrap_or("?"),
                    shown,
                    targets("passTargets"),
                    targets("warningTargets"),
                    r["status"].as_str().unwrap_or("?")
                ));
            }
        }
    }
}

fn stage<'a>(a: &'a ArtifactOutcome, name: &str) -> Option<&'a StageOutcome> {
    a.stages.iter().find(|s| s.stage == name)
}

fn artifact<'a>(
    artifacts: &'a [ArtifactOutcome],
    service: &str,
    version: &str,
) -> Option<&'a ArtifactOutcome> {
    artifacts
        .iter()
        .find(|a| a.service == service && a.version == version)
}

fn story_checks(
    artifacts: &[ArtifactOutcome],
    shows_v3: bool,
    problems: &[ProblemOutcome],
    flag_after: Option<FlagState>,
    remediation_enabled: bool,
) -> Vec<(String, bool, String)> {
    let mut checks = Vec::new();
    let mut check =
        |name: &str, pass: bool, detail: String| checks.push((name.to_owned(), pass, detail));
    let results = |a: Option<&ArtifactOutcome>| {
        a.map(|a| {
            a.stages
                .iter()
                .map(|s| format!("{} {}", s.stage, s.result))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "not delivered".into())
    };
    // one carts-db delivery: the seed's 4.2.2, or the tag of --carts-db-image
    let db = artifacts.iter().find(|a| a.service == "carts-db");
    let db_version = db.map_or("4.2.2", |a| a.version.as_str());
    check(
        &format!("carts-db {db_version} runs in every stage"),
        db.is_some_and(|a| {
            a.stages
                .iter()
                .all(|s| s.result == "pass" && s.serving.as_deref() == Some(db_version))
        }),
        results(db),
    );
    let v1 = artifact(artifacts, "carts", "0.11.1");
    check(
        "carts 0.11.1 is delivered to all stages",
        v1.is_some_and(|a| a.stages.iter().all(|s| s.result == "pass")),
        results(v1),
    );
    let v2 = artifact(artifacts, "carts", "0.11.2");
    let v2_staging = v2.and_then(|a| stage(a, "staging"));
    let v2_eval = v2_staging.and_then(|s| s.evaluation.as_ref());
    let v2_p95 = v2_eval.and_then(p95_of);
    check(
        "carts 0.11.2 fails the staging gate on response_time_p95",
        v2_eval.is_some_and(|e| e["result"] == "fail") && v2_p95.is_some_and(|p| p >= 600.0),
        format!(
            "evaluation {}, p95 {}",
            v2_eval
                .and_then(|e| e["result"].as_str())
                .unwrap_or("missing"),
            v2_p95.map_or("missing".to_owned(), |p| format!(
                "{p:.0} ms (SLO < 600 ms)"
            ))
        ),
    );
    check(
        "carts 0.11.2 is rolled back in staging and never reaches production",
        v2_staging.is_some_and(|s| s.rollback && s.serving.as_deref() == Some("0.11.1"))
            && v2
                .and_then(|a| stage(a, "production"))
                .is_some_and(|s| s.tasks.is_empty() && s.serving.as_deref() == Some("0.11.1")),
        format!(
            "staging serving {}, production serving {}",
            v2_staging
                .and_then(|s| s.serving.clone())
                .unwrap_or_else(|| "-".into()),
            v2.and_then(|a| stage(a, "production"))
                .and_then(|s| s.serving.clone())
                .unwrap_or_else(|| "-".into())
        ),
    );
    let v3 = artifact(artifacts, "carts", "0.11.3");
    check(
        "carts 0.11.3 is promoted to production and shows Version: v3",
        v3.is_some_and(|a| a.stages.iter().all(|s| s.result == "pass"))
            && v3
                .and_then(|a| stage(a, "production"))
                .and_then(|s| s.serving.as_deref())
                == Some("0.11.3")
            && shows_v3,
        format!("{}; page shows v3: {shows_v3}", results(v3)),
    );
    if remediation_enabled {
        let promo = problems
            .iter()
            .find(|p| p.problem.title == "Failure rate increase");
        let toggled = promo.and_then(|p| p.report.as_ref()).is_some_and(|r| {
            r.status == RemediationStatus::Resolved
                && r.steps.iter().any(|s| {
                    s.outcome.status.as_str() == "succeeded"
                        && s.outcome
                            .changes
                            .iter()
                            .any(|c| c.target.ends_with("EnablePromotion") && c.after == "off")
                })
        });
        check(
            "EnablePromotion raises \"Failure rate increase\", remediation turns it off, the problem resolves",
            promo.is_some_and(|p| p.problem.resolved_at.is_some())
                && toggled
                && flag_after == Some(FlagState::Off),
            match promo {
                Some(p) => format!(
                    "{} opened at {:.1} % errors, remediation {}, flag now {}",
                    p.problem.problem_id,
                    p.problem.value_at_open,
                    p.report
                        .as_ref()
                        .map_or("did not finish".to_owned(), |r| r.status.to_string()),
                    flag_after.map_or("unknown", FlagState::as_str)
                ),
                None => "no problem opened".to_owned(),
            },
        );
    }
    checks
}

#[allow(clippy::too_many_arguments)]
fn summary_json(
    started_at: DateTime<Utc>,
    wall: Duration,
    artifacts: &[ArtifactOutcome],
    problems: &[ProblemOutcome],
    checks: &[(String, bool, String)],
    ok: bool,
    traffic: (u64, u64),
    embedded_flags: bool,
    deployer: &str,
) -> Value {
    let artifacts: Vec<Value> = artifacts
        .iter()
        .map(|a| {
            let stages: BTreeMap<&str, Value> = a
                .stages
                .iter()
                .map(|s| {
                    let evaluation = s.evaluation.as_ref().map(|e| {
                        json!({
                            "result": e["result"],
                            "score": e["score"],
                            "response_time_p95": p95_of(e),
                        })
                    });
                    (
                        s.stage.as_str(),
                        json!({
                            "result": s.result,
                            "tasks": s.tasks.iter().map(|(t, r)| json!({"task": t, "result": r})).collect::<Vec<_>>(),
                            "evaluation": evaluation,
                            "rolledBack": s.rollback,
                            "servingAfter": s.serving,
                        }),
                    )
                })
                .collect();
            json!({
                "service": a.service,
                "version": a.version,
                "image": a.image,
                "keptnContext": a.context,
                "stages": stages,
            })
        })
        .collect();
    let problems: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "problemId": p.problem.problem_id,
                "pid": p.problem.pid,
                "title": p.problem.title,
                "stage": p.problem.stage,
                "service": p.problem.service,
                "sli": p.problem.sli,
                "threshold": p.problem.threshold,
                "valueAtOpen": p.problem.value_at_open,
                "openedAt": p.problem.opened_at,
                "valueAtResolve": p.problem.value_at_resolve,
                "resolvedAt": p.problem.resolved_at,
                "outcome": p.report.as_ref().map_or("unfinished".to_owned(), |r| r.status.to_string()),
                "actions": p.report.as_ref().map(|r| r.steps.iter().map(|s| json!({
                    "action": s.step.action,
                    "value": s.step.value,
                    "status": s.outcome.status.as_str(),
                    "message": s.outcome.message,
                    "changes": s.outcome.changes,
                })).collect::<Vec<_>>()).unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "project": "sockshop",
        "startedAt": started_at,
        "wallSeconds": wall.as_secs_f64(),
        "ok": ok,
        "flags": if embedded_flags { "embedded" } else { "unleash" },
        "deployer": deployer,
        "artifacts": artifacts,
        "problems": problems,
        "productionTraffic": {"ok": traffic.0, "failed": traffic.1},
        "checks": checks.iter().map(|(n, p, d)| json!({"check": n, "ok": p, "detail": d})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image tags are the versions the tour reports.
    #[test]
    fn tags() {
        assert_eq!(tag("docker.io/keptnexamples/carts:0.11.2"), "0.11.2");
        assert_eq!(tag("docker.io/mongo:4.2.2"), "4.2.2");
    }
}
