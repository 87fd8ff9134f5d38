//! Keptn's full tour on one machine: the seed tutorial's whole story, for real, with nothing
//! but Rust installed.
//!
//! ```text
//! cargo run -p keptn-examples --example full_tour
//! cargo run -p keptn-examples --example full_tour -- --test-duration 30 \
//!     --events events.jsonl --summary summary.json --state keptn-state.db
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
//! Everything runs through `keptn_control::ControlPlane` (the tour's shipyard, `slo.yaml` and
//! `remediation.yaml` as its resources): each artifact is triggered into dev's `delivery`
//! sequence and `triggeredOn` carries it on; deployment, test, release and rollback are its
//! executors around the backend, the gate is its lighthouse with the backend's SLIs as `get-sli`
//! executor, and problems enter as `problem.open` events that run the `remediation` sequence.
//! The event lines and `--events` are the control plane's events; `--state FILE` keeps its
//! SQLite state (default: a temporary file).
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
//! `--monitoring prometheus` (local deployer only): the tour starts a real Prometheus and
//! Alertmanager (`PROMETHEUS_BIN` / `ALERTMANAGER_BIN`, else on `PATH`; when missing it says
//! which Debian packages to install, `prometheus` and `prometheus-alertmanager`, and exits 2).
//! Prometheus scrapes every stage proxy's `/metrics`; the staging gate's SLIs come from it with
//! Keptn's default PromQL queries; the production problem is an alert rule generated from the
//! production SLO (`error_rate` above 0.1), sent by Alertmanager to the tour's webhook receiver
//! and from there into the control plane; when the alert resolves the problem closes (see
//! `keptn_examples::tour_prometheus`). `--monitoring local` and `--monitoring dynatrace` choose
//! the other two; without `--monitoring` the tour uses Dynatrace when `DT_TENANT` is set.
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

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use keptn_control::executors::{
    ActionExecutor, DeploymentExecutor, GetActionExecutor, Lighthouse, REMEDIATION_URI,
    ReleaseExecutor, RollbackExecutor, SLO_URI, SliProviderExecutor, TestExecutor,
};
use keptn_control::{ControlPlane, ResourceScope, SequenceState, SqliteStore};
use keptn_deploy::{DeploymentStrategy, StageService};
use keptn_examples::carts::{CartsConfig, serve, serve_db};
use keptn_examples::tour_args::{Args, KubeReachMode, Role};
use keptn_examples::tour_backend::{
    Backend, KubeSettings, Traffic, flags, kube_backend, local_backend, test_runner,
};
use keptn_examples::tour_dynatrace::{self, DtSettings};
use keptn_examples::tour_healing::{HealingTiming, ProblemSource, self_healing};
use keptn_examples::tour_prometheus::TourMonitoring;
use keptn_examples::tour_report::{self, ArtifactOutcome, RecordedAction, RunFacts, story_checks};
use keptn_examples::tour_ui::{EventOutputs, Ui};
use keptn_local::LocalSliProvider;
use keptn_remediate::ActionRegistry;
use keptn_remediate::unleash::FeatureToggleAction;
use keptn_slo::SliProvider;
use keptn_spec::event::KeptnContext;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, ProjectName, ServiceName, StageName};
use serde_json::json;

const SHIPYARD: &str = include_str!("fixtures/tour/shipyard.yaml");
const SLO: &str = include_str!("fixtures/slo/slo.yaml");
const REMEDIATION: &str = include_str!("fixtures/remediation_feature_toggle.yaml");

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
    let (dt, prometheus) = match args.check() {
        Ok(checked) => checked,
        Err(e) => {
            eprintln!("full_tour: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(tour_main(args, dt, prometheus))
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

/// What Ctrl-C and errors must reach: the backend to clean up, the control plane and the
/// context of the running delivery to abort.
#[derive(Default)]
struct Running {
    backend: tokio::sync::OnceCell<Backend>,
    plane: tokio::sync::OnceCell<ControlPlane>,
    context: std::sync::Mutex<Option<KeptnContext>>,
}

async fn tour_main(args: Args, dt: Option<DtSettings>, prometheus: bool) -> ExitCode {
    let ui = Arc::new(Ui::new(!args.no_progress));
    let running = Arc::new(Running::default());
    let run = tour(&args, dt, prometheus, ui.clone(), running.clone());
    tokio::pin!(run);
    let result = tokio::select! {
        r = &mut run => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    if result.is_none() {
        // The running delivery is aborted: no further task of it starts.
        ui.say("interrupted: stopping the running delivery");
        let abort = abort_running(&ui, &running);
        let _ = tokio::join!(
            abort,
            tokio::time::timeout(Duration::from_secs(30), &mut run)
        );
    } else if !matches!(result, Some(Ok(_))) {
        abort_running(&ui, &running).await;
    }
    if let Some(backend) = running.backend.get() {
        for line in backend.clean_up().await {
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

/// Aborts the running delivery, if any is unfinished, and waits for what the abort left running
/// (a deployment, the rollback of its pending canary).
async fn abort_running(ui: &Ui, running: &Running) {
    let context = *running
        .context
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let (Some(plane), Some(context)) = (running.plane.get(), context)
        && let Err(e) = plane
            .abort_and_settle(context, Duration::from_secs(120))
            .await
    {
        ui.say(format!("warning: the aborted delivery did not settle: {e}"));
    }
}

/// The control plane's state: `--state FILE`, or a temporary file removed at the end.
fn state_store(args: &Args) -> anyhow::Result<(SqliteStore, String, Option<tempfile::TempDir>)> {
    let (path, dir) = match &args.state {
        Some(path) => (path.clone(), None),
        None => {
            let dir = tempfile::tempdir().context("cannot create a temporary state directory")?;
            (dir.path().join("keptn-state.db"), Some(dir))
        }
    };
    let store = SqliteStore::open(&path)
        .with_context(|| format!("cannot open the state file {}", path.display()))?;
    Ok((store, path.display().to_string(), dir))
}

#[allow(clippy::too_many_lines)]
async fn tour(
    args: &Args,
    dt: Option<DtSettings>,
    prometheus: bool,
    ui: Arc<Ui>,
    running: Arc<Running>,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let started_at = Utc::now();
    let project: ProjectName = "sockshop".parse()?;
    let (carts, carts_db): (ServiceName, ServiceName) = ("carts".parse()?, "carts-db".parse()?);
    let (dev, staging, production): (StageName, StageName, StageName) =
        ("dev".parse()?, "staging".parse()?, "production".parse()?);
    let shipyard = Shipyard::parse(SHIPYARD, &ParseOptions::new().file("shipyard.yaml"))
        .context("the tour's shipyard")?
        .value;

    // Events: memory (for the count), one line each on the terminal, JSON lines on request.
    let (outputs, fan) = EventOutputs::open(&ui, args.events.as_deref(), args.notify.as_deref())?;

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
        let settings = KubeSettings {
            urls: args.kube_urls().map_err(anyhow::Error::msg)?,
            url_template: args.kube_url.clone(),
            cluster_ip: args.kube_reach == KubeReachMode::ClusterIp,
            rollout_timeout: Duration::from_secs(args.kube_rollout_timeout),
            flags_for_pods: args.kube_flags_listen.is_some(),
        };
        kube_backend(&ui, &flags, settings).await?
    } else {
        local_backend(&flags, &local_sli)?
    };
    let _ = running.backend.set(backend.clone());
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
    let (dt_client, stand_in, gate_sli) = match &dt {
        Some(settings) => {
            let (client, stand_in, provider) =
                tour_dynatrace::set_up(settings, &ui, &shipyard, &backend, &local_sli).await?;
            (Some(client), stand_in, provider)
        }
        None => (None, None, sli.clone()),
    };
    // Prometheus: the stack scrapes every stage proxy, the gate's SLIs and the production
    // alert come from it.
    let mut prom = None;
    let gate_sli = match (&backend, prometheus) {
        (Backend::Local(local), true) => {
            let stages = [dev.clone(), staging.clone(), production.clone()];
            let (monitoring, provider) =
                TourMonitoring::start_for_tour(&ui, local, &project, &carts, &stages).await?;
            prom = Some(monitoring);
            provider
        }
        (Backend::Kube { .. }, true) => {
            anyhow::bail!("--monitoring prometheus runs with the local deployer only")
        }
        _ => gate_sli,
    };

    // The control plane: the shipyard, the gate's SLO, the remediation file, the executors.
    let load_bar = ui.bar("  {prefix:>10} [{bar:30}] {msg}");
    load_bar.set_prefix("tests");
    let tests = Arc::new(test_runner(
        args.users,
        Duration::from_secs_f64(args.test_duration),
        &backend,
        load_bar.clone(),
    ));
    let toggle = RecordedAction::new(FeatureToggleAction::new(flags.client.clone()));
    let (store, state, _state_dir) = state_store(args)?;
    let plane = ControlPlane::builder()
        .store(Arc::new(store))
        .project(project.clone(), SHIPYARD)
        .sink(Arc::new(fan))
        .executor(
            DeploymentExecutor::new(deployer.clone())
                .with_strategy_override(carts_db.clone(), DeploymentStrategy::Direct),
        )
        .executor(TestExecutor::new(tests.clone()))
        .executor(ReleaseExecutor::new(deployer.clone()))
        .executor(RollbackExecutor::new(deployer.clone()))
        .executor(Lighthouse::new(gate_sli.name()))
        .executor(SliProviderExecutor::new(gate_sli))
        .executor(GetActionExecutor::new())
        .executor(ActionExecutor::new(
            ActionRegistry::new().with(toggle.clone()),
        ))
        .build()
        .await
        .with_context(|| format!("cannot start the control plane on {state}"))?;
    let _ = running.plane.set(plane.clone());
    let staging_carts = ResourceScope::service(project.clone(), staging, carts.clone());
    plane.put_resource(&staging_carts, SLO_URI, SLO).await?;
    let production_carts =
        ResourceScope::service(project.clone(), production.clone(), carts.clone());
    plane
        .put_resource(&production_carts, REMEDIATION_URI, REMEDIATION)
        .await?;

    // --- deliveries: `keptn trigger delivery` into dev; triggeredOn carries them on ---------
    let mut artifacts = Vec::new();
    let carts_images: Vec<String> = ["0.11.1", "0.11.2", "0.11.3"]
        .iter()
        .map(|v| format!("{}:{v}", args.carts_image))
        .collect();
    // every stage: a rollout, tests and (with Dynatrace) the ingest wait, with room to spare
    let per_stage = args.kube_rollout_timeout as f64 + args.test_duration + args.dt_settle + 120.0;
    let delivery_wait = Duration::from_secs_f64(3.0 * per_stage);
    for (service, image) in [
        (&carts_db, args.carts_db_image.as_str()),
        (&carts, carts_images[0].as_str()),
        (&carts, carts_images[1].as_str()),
        (&carts, carts_images[2].as_str()),
    ] {
        ui.say(format!("\n== keptn send event new-artifact --project=sockshop --service={service} --image={image}"));
        let context = plane
            .trigger_delivery(&project, &dev, "delivery", service, image)
            .await?;
        *running
            .context
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(context);
        let sequences = plane
            .wait(context, delivery_wait)
            .await
            .with_context(|| format!("delivery of {image}"))?;
        let outcome =
            ArtifactOutcome::read(service, image, &shipyard, &sequences, deployer.as_ref()).await;
        for s in &outcome.stages {
            ui.say(format!(
                "   {:<10} {:<8} serving {}",
                s.stage.as_str(),
                s.result,
                s.serving.as_ref().map_or("-", |v| v.as_str())
            ));
        }
        artifacts.push(outcome);
        if sequences.iter().any(|s| s.state == SequenceState::Aborted) {
            anyhow::bail!("interrupted during the delivery of {image}");
        }
        if let Some(message) = tests.take_unreachable() {
            load_bar.finish_and_clear();
            anyhow::bail!("the tour cannot test what it deployed: {message}");
        }
    }
    load_bar.finish_and_clear();

    let prod_carts = StageService::new(project.clone(), production.clone(), carts.clone());
    let (prod_url, version_line) = backend.front_page(&prod_carts).await?;
    let shows_v3 = version_line.contains("Version: v3");
    ui.say(format!(
        "\n== carts in production ({prod_url}) shows: {version_line}"
    ));

    // --- self-healing through the shipyard's remediation sequence ---------------------------
    let remediation_enabled = shipyard
        .stage(production.as_str())
        .is_some_and(|s| s.sequence("remediation").is_some());
    let mut problems = Vec::new();
    let mut traffic_counts = (0, 0);
    let mut flag_after = None;
    if remediation_enabled {
        ui.say(
            "\n== self-healing with feature flags: users on production, then EnablePromotion on",
        );
        let recorder = backend.production_recorder(&prod_carts);
        let traffic = Traffic::start(&prod_url, 4, recorder.as_ref());
        let timing = HealingTiming {
            remediation_timeout: Duration::from_secs_f64(args.remediation_timeout),
            dt_poll: Duration::from_secs_f64(args.dt_poll),
        };
        let source = match (&dt_client, &mut prom) {
            (Some(client), _) => ProblemSource::Dynatrace(client.clone()),
            (None, Some(monitoring)) => ProblemSource::Prometheus {
                problems: monitoring
                    .take_problems()
                    .context("the alerts' problems were taken already")?,
                sli: monitoring.sli_provider()?,
            },
            (None, None) => ProblemSource::Monitor(sli.clone()),
        };
        let healed = self_healing(timing, &ui, &plane, &flags, &toggle, &traffic, source).await;
        traffic_counts = traffic.stop().await;
        problems = healed?;
        flag_after = flags.client.flag_state("EnablePromotion").await.ok();
    }

    let mut monitoring = prom
        .as_ref()
        .map_or_else(|| json!(sli.name()), TourMonitoring::summary_json);
    if let Some(s) = stand_in {
        monitoring = tour_dynatrace::finish_ingest(s, dt_client.as_ref(), &ui);
    }

    // --- report ------------------------------------------------------------------------------
    let checks = story_checks(
        &artifacts,
        shows_v3,
        &problems,
        flag_after,
        remediation_enabled,
    );
    let ok = checks.iter().all(|(_, pass, _)| *pass);
    for line in tour_report::report(&shipyard, &artifacts, &problems, &checks) {
        ui.say(line);
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
        outputs.memory.len(),
        args.events
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    ));
    outputs.finish(&ui).await;
    if let Some(path) = &args.summary {
        let facts = RunFacts {
            started_at,
            wall,
            traffic: traffic_counts,
            flags: if flags.store.is_some() {
                "embedded"
            } else {
                "unleash"
            },
            deployer: backend.name(),
            monitoring,
            state,
        };
        let summary = tour_report::summary_json(&facts, &artifacts, &problems, &checks);
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    drop(flags);
    Ok(ok)
}
