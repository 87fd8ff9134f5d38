//! The full tour with Prometheus (`--monitoring prometheus`): a real Prometheus scrapes the
//! stage proxies, the staging gate takes its SLIs from it with Keptn's default queries, and the
//! production problem comes from an alert rule generated from the production SLO, through a
//! real Alertmanager, as a problem event.
//!
//! [`TourMonitoring::start`] does all the set-up from the tour's [`LocalDeployer`]:
//! one [`ScrapeTarget`] per stage at [`LocalDeployer::metrics_addr`], the rules of
//! [`production_slo`] (error rate above [`ERROR_RATE_THRESHOLD`], the threshold of the
//! Dynatrace mode as a ratio), an embedded [`AlertReceiver`], and the stack itself (binaries
//! from `PROMETHEUS_BIN`/`ALERTMANAGER_BIN` or `PATH`; when missing, the error names the Debian
//! packages). `full_tour --monitoring prometheus` then:
//!
//! ```text
//! let mut monitoring = TourMonitoring::start(&deployer, &project, &carts, &stages, &production).await?;
//! let gate = Arc::new(SettledPrometheus::new(monitoring.sli_provider()?, SCRAPE_SETTLE)); // "prometheus"
//! // control plane: .executor(Lighthouse::new(gate.name())).executor(SliProviderExecutor::new(gate))
//! // self-healing: ProblemSource::Prometheus { problems: monitoring.take_problems()?, sli }
//! //   → AlertProblemSource forwards each problem event into the control plane's EventIngress
//! // … the story; `monitoring` drops at the end (stops Prometheus and Alertmanager).
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use keptn_deploy::StageService;
use keptn_local::LocalDeployer;
use keptn_prometheus::stack::{MonitoringStack, ScrapeTarget};
use keptn_prometheus::{
    AlertReceiver, PrometheusSliProvider, RuleOptions, alert_rules, problem_title,
};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::event::{EventSink, KeptnEvent, ProblemEventData, ProblemState};
use keptn_spec::{ProjectName, ServiceName, SliValue, Slo, StageName};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::tour_dynatrace::{ProblemSignal, TourProblem};
use crate::tour_ui::Ui;

/// The error rate (a ratio, as Prometheus' default `error_rate` query computes it) above which
/// production has a problem: the Dynatrace mode's 10 %.
pub const ERROR_RATE_THRESHOLD: f64 = 0.1;

/// How long [`TourMonitoring::start`] waits for Prometheus' first scrape of every stage proxy.
pub const TARGETS_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// How far back the production alert looks, and how long the error rate must stay high.
pub const ALERT_WINDOW: Duration = Duration::from_secs(10);
/// See [`ALERT_WINDOW`].
pub const ALERT_FOR: Duration = Duration::from_secs(2);

/// The production SLO the alert rule is generated from: `error_rate` at most
/// [`ERROR_RATE_THRESHOLD`]; its alert is titled "Failure rate increase", the seed's problem.
///
/// # Errors
/// None expected: the SLO is fixed text.
pub fn production_slo() -> anyhow::Result<Slo> {
    let yaml = format!(
        "spec_version: '0.1.1'\nobjectives:\n  - sli: error_rate\n    pass:\n      - criteria: ['<={ERROR_RATE_THRESHOLD}']\ntotal_score: {{pass: '90%', warning: '75%'}}\n"
    );
    Ok(Slo::from_yaml_str(&yaml)?)
}

/// The running monitoring of one tour (see the [module docs](self)).
#[derive(Debug)]
pub struct TourMonitoring {
    stack: MonitoringStack,
    receiver: AlertReceiver,
    problems: Option<UnboundedReceiver<KeptnEvent>>,
    rules_yaml: String,
}

impl TourMonitoring {
    /// Starts the receiver and the stack scraping `service` in each of `stages`, with the rules
    /// of [`production_slo`] for `production`, and waits until Prometheus has scraped every
    /// stage's proxy once (at most [`TARGETS_UP_TIMEOUT`]).
    ///
    /// # Errors
    /// A binary is missing (naming `PROMETHEUS_BIN`/`ALERTMANAGER_BIN` and the Debian packages
    /// `prometheus`, `prometheus-alertmanager`), a proxy or the receiver cannot bind, a
    /// process does not become ready, or a proxy is not scraped in time.
    pub async fn start(
        deployer: &LocalDeployer,
        project: &ProjectName,
        service: &ServiceName,
        stages: &[StageName],
        production: &StageName,
    ) -> anyhow::Result<Self> {
        let (receiver, problems) =
            AlertReceiver::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        // Rules need queries only, never a connection: any client will do.
        let offline = PrometheusSliProvider::new(
            keptn_prometheus::PrometheusClient::builder("http://127.0.0.1:9").build()?,
        );
        let (rules, skipped) = alert_rules(
            &offline,
            project,
            service,
            &[(production.clone(), production_slo()?)],
            &RuleOptions::default()
                .with_window(ALERT_WINDOW)
                .with_for(ALERT_FOR),
        );
        anyhow::ensure!(skipped.is_empty(), "no alert rule for {skipped:?}");
        let rules_yaml = rules.to_yaml()?;
        let mut builder = MonitoringStack::builder()
            .rules(project.clone(), service.clone(), rules)
            .webhook(receiver.url());
        for stage in stages {
            let target = StageService::new(project.clone(), stage.clone(), service.clone());
            let addr = deployer
                .metrics_addr(&target)
                .await
                .with_context(|| format!("the {stage} proxy of {service}"))?;
            builder = builder.scrape(ScrapeTarget::new(
                project.clone(),
                stage.clone(),
                service.clone(),
                addr,
            ));
        }
        let stack = builder
            .start()
            .await
            .context("starting Prometheus and Alertmanager")?;
        // A gate right after start-up would find no series: wait for the first scrape of
        // every stage proxy.
        for stage in stages {
            stack
                .wait_for_series(
                    &format!("up{{job='{service}-{project}-{stage}'}} == 1"),
                    TARGETS_UP_TIMEOUT,
                )
                .await
                .with_context(|| {
                    format!("Prometheus did not scrape the {stage} proxy of {service}")
                })?;
        }
        Ok(Self {
            stack,
            receiver,
            problems: Some(problems),
            rules_yaml,
        })
    }

    /// The staging gate's SLI provider (provider name `prometheus`), over this Prometheus.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn sli_provider(&self) -> anyhow::Result<PrometheusSliProvider> {
        Ok(PrometheusSliProvider::new(self.stack.client()?))
    }

    /// The problem events of the alerts (`problem.open` when the rule fires, a closed problem
    /// when it resolves); `None` after the first call.
    pub fn take_problems(&mut self) -> Option<UnboundedReceiver<KeptnEvent>> {
        self.problems.take()
    }

    /// The generated rule file, as Prometheus loaded it.
    pub fn rules_yaml(&self) -> &str {
        &self.rules_yaml
    }

    /// The title of the problems the rule opens.
    pub fn problem_title() -> String {
        problem_title("error_rate")
    }

    /// The running stack (URLs, [`MonitoringStack::wait_for_series`]).
    pub fn stack(&self) -> &MonitoringStack {
        &self.stack
    }

    /// Where Alertmanager posts.
    pub fn webhook_url(&self) -> String {
        self.receiver.url()
    }

    /// [`start`](Self::start) for the tour's `carts`, saying on `ui` where everything runs and
    /// which rules Prometheus loaded; returns the monitoring with the staging gate's SLI
    /// provider (Keptn's default queries, [`SCRAPE_SETTLE`] after each test window).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_for_tour(
        ui: &Ui,
        deployer: &LocalDeployer,
        project: &ProjectName,
        carts: &ServiceName,
        stages: &[StageName],
    ) -> anyhow::Result<(Self, Arc<dyn SliProvider>)> {
        ui.say("monitoring: starting Prometheus and Alertmanager");
        let production = stages.last().context("the tour has no stages")?;
        let up = std::time::Instant::now();
        let monitoring = Self::start(deployer, project, carts, stages, production).await?;
        ui.say(format!(
            "   ready and every stage scraped in {:.1} s: Prometheus {} scrapes each stage's /metrics; Alertmanager {} posts to {}",
            up.elapsed().as_secs_f64(),
            monitoring.stack().prometheus_url(),
            monitoring.stack().alertmanager_url(),
            monitoring.webhook_url()
        ));
        ui.say("   the staging gate's SLIs: Prometheus, Keptn's default queries");
        for line in monitoring.rules_yaml().lines() {
            ui.say(format!("   | {line}"));
        }
        let provider: Arc<dyn SliProvider> = Arc::new(SettledPrometheus::new(
            monitoring.sli_provider()?,
            SCRAPE_SETTLE,
        ));
        Ok((monitoring, provider))
    }

    /// The monitoring as the tour's summary reports it.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({"prometheus": {
            "prometheusUrl": self.stack().prometheus_url(),
            "alertmanagerUrl": self.stack().alertmanager_url(),
            "webhookUrl": self.webhook_url(),
            "rules": self.rules_yaml(),
        }})
    }
}

/// How long after a test window's end the staging gate waits before asking Prometheus: two
/// scrape intervals of the stack (1 s each), so the window's last second has been scraped.
pub const SCRAPE_SETTLE: Duration = Duration::from_secs(2);

/// The staging gate's SLI provider: [`PrometheusSliProvider`] (name `prometheus`, default
/// queries) asked only once the window's end is `settle` in the past, so that Prometheus has
/// scraped the whole window (what Dynatrace's provider does with its ingestion delay).
#[derive(Debug)]
pub struct SettledPrometheus {
    inner: PrometheusSliProvider,
    settle: Duration,
}

impl SettledPrometheus {
    /// Asks `inner` once a window's end is `settle` in the past.
    pub fn new(inner: PrometheusSliProvider, settle: Duration) -> Self {
        Self { inner, settle }
    }
}

#[async_trait]
impl SliProvider for SettledPrometheus {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        let ready = query.end + TimeDelta::from_std(self.settle).unwrap_or(TimeDelta::zero());
        if let Ok(wait) = (ready - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        self.inner.fetch_slis(query).await
    }
}

/// Turns the problem events of the tour's alerts into control-plane events and
/// [`ProblemSignal`]s for the self-healing.
#[derive(Debug)]
pub struct AlertProblemSource {
    task: JoinHandle<()>,
}

impl AlertProblemSource {
    /// Forwards every event of `problems` (from [`TourMonitoring::take_problems`]) into `sink`
    /// (the control plane's ingress) and sends a [`ProblemSignal`] for each: `Opened` for
    /// `problem.open`, `Resolved` for a closed problem. The problem's times are the alert's
    /// (`startsAt` when it fired, `endsAt` when it resolved); its values are the error rate
    /// over [`ALERT_WINDOW`] that `sli` reads at that moment (`NaN` when it cannot say).
    /// Events that are not problems, or not of the tour's alert, are forwarded only.
    pub fn spawn(
        mut problems: UnboundedReceiver<KeptnEvent>,
        sli: PrometheusSliProvider,
        sink: Arc<dyn EventSink>,
        tx: UnboundedSender<ProblemSignal>,
    ) -> Self {
        let task = tokio::spawn(async move {
            let mut open: Vec<TourProblem> = Vec::new();
            while let Some(event) = problems.recv().await {
                sink.emit(&event);
                let Ok(data) = event.data_as::<ProblemEventData>() else {
                    continue;
                };
                let (Some(project), Some(stage), Some(service)) = (
                    data.common.project.clone(),
                    data.common.stage.clone(),
                    data.common.service.clone(),
                ) else {
                    continue;
                };
                let p = &data.problem;
                let Some(pid) = p.pid.clone() else { continue };
                let at = |field: &str| alert_time(p.problem_details.as_ref(), field);
                match p.state {
                    Some(ProblemState::Open) => {
                        if open.iter().any(|o| o.pid == pid) {
                            continue; // a repeated notification of the same group
                        }
                        let opened_at = at("startsAt").unwrap_or_else(Utc::now);
                        let value =
                            error_rate(&sli, (&project, &stage, &service), Utc::now()).await;
                        let problem = TourProblem {
                            pid,
                            problem_id: p.problem_id.clone().unwrap_or_default(),
                            title: p.problem_title.clone().unwrap_or_default(),
                            project,
                            stage,
                            service,
                            sli: "error_rate".to_owned(),
                            threshold: ERROR_RATE_THRESHOLD,
                            value_at_open: value,
                            opened_at,
                            value_at_resolve: None,
                            resolved_at: None,
                            url: p.problem_url.clone(),
                        };
                        open.push(problem.clone());
                        if tx.send(ProblemSignal::Opened(problem)).is_err() {
                            return;
                        }
                    }
                    Some(ProblemState::Closed) => {
                        let Some(i) = open.iter().position(|o| o.pid == pid) else {
                            continue;
                        };
                        let mut problem = open.remove(i);
                        problem.resolved_at = Some(at("endsAt").unwrap_or_else(Utc::now));
                        problem.value_at_resolve =
                            Some(error_rate(&sli, (&project, &stage, &service), Utc::now()).await);
                        if tx.send(ProblemSignal::Resolved(problem)).is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        });
        Self { task }
    }

    /// Stops forwarding.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for AlertProblemSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The earliest `field` (`startsAt`, `endsAt`) of the notification's alerts.
fn alert_time(details: Option<&serde_json::Value>, field: &str) -> Option<DateTime<Utc>> {
    details?
        .get("alerts")?
        .as_array()?
        .iter()
        .filter_map(|a| a.get(field)?.as_str()?.parse::<DateTime<Utc>>().ok())
        .min()
}

/// The error rate of the primary deployment over the [`ALERT_WINDOW`] before `at`, as the
/// alert rule sees it (`NaN` when Prometheus cannot say).
async fn error_rate(
    sli: &PrometheusSliProvider,
    (project, stage, service): (&ProjectName, &StageName, &ServiceName),
    at: DateTime<Utc>,
) -> f64 {
    let window = TimeDelta::from_std(ALERT_WINDOW).unwrap_or(TimeDelta::seconds(10));
    let query = SliQuery::new(
        project.clone(),
        stage.clone(),
        service.clone(),
        at - window,
        at,
        vec!["error_rate".to_owned()],
    )
    .with_deployment("primary");
    match sli.fetch_slis(&query).await {
        Ok(values) => values
            .iter()
            .find(|v| v.metric == "error_rate" && v.success)
            .map_or(f64::NAN, |v| v.value),
        Err(_) => f64::NAN,
    }
}
