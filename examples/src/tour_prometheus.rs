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
//! packages). The tour then:
//!
//! ```text
//! let mut monitoring = TourMonitoring::start(&deployer, &project, &carts, &stages, &production).await?;
//! let provider = Arc::new(monitoring.sli_provider()?);      // name "prometheus"
//! // control plane: .executor(SliProviderExecutor::new(provider))
//! //                .executor(Lighthouse::new(keptn_prometheus::PROVIDER_NAME))
//! let mut problems = monitoring.take_problems().expect("taken once");
//! tokio::spawn(async move { while let Some(e) = problems.recv().await { plane.send(e).await; } });
//! // … the story; drop `monitoring` at the end (stops Prometheus and Alertmanager).
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use keptn_deploy::StageService;
use keptn_local::LocalDeployer;
use keptn_prometheus::stack::{MonitoringStack, ScrapeTarget};
use keptn_prometheus::{
    AlertReceiver, PrometheusSliProvider, RuleOptions, alert_rules, problem_title,
};
use keptn_spec::event::KeptnEvent;
use keptn_spec::{ProjectName, ServiceName, Slo, StageName};
use tokio::sync::mpsc::UnboundedReceiver;

/// The error rate (a ratio, as Prometheus' default `error_rate` query computes it) above which
/// production has a problem: the Dynatrace mode's 10 %.
pub const ERROR_RATE_THRESHOLD: f64 = 0.1;

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
    /// of [`production_slo`] for `production`.
    ///
    /// # Errors
    /// A binary is missing (naming `PROMETHEUS_BIN`/`ALERTMANAGER_BIN` and the Debian packages
    /// `prometheus`, `prometheus-alertmanager`), a proxy or the receiver cannot bind, or a
    /// process does not become ready.
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
}
