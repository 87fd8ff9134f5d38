//! The full tour with Dynatrace (`DT_TENANT` + `DT_API_TOKEN`): SLIs from the tenant, problems
//! from its metric events, and a stand-in for the OneAgent that sends the local measurements.
//!
//! - [`DtSettings::from_env`] reads `DT_TENANT`/`DT_API_TOKEN` (plus the `--dt-sli` file and
//!   settle time) and builds the [`DynatraceClient`] and the [`DynatraceSliProvider`] the
//!   staging gate uses — the same provider, and the same code path, as against any tenant.
//! - [`configure_monitoring`] runs [`MonitoringSetup`] for the project like the seed's
//!   `keptn configure monitoring dynatrace` (idempotent) and adds the metric event
//!   [`PROBLEM_TITLE`] (static threshold on the error rate in production).
//! - [`OneAgentStandIn`]: on a laptop no OneAgent watches the local carts processes, so once a
//!   second this task reads what each stage proxy recorded ([`LocalSliProvider`]'s recorders)
//!   for the second before, per deployment, and sends it with the Metrics API v2 ingest
//!   endpoint (metric keys in [`metric_keys`]).
//! - [`DtProblemSource`]: polls the Problems API v2 for open problems of that metric event and
//!   turns them (and their closing) into the same problem events and [`TourProblem`]s the
//!   remediation consumes; a real Dynatrace would push them to a webhook, which a program
//!   without a public URL cannot receive.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use keptn_dynatrace::{
    DynatraceClient, DynatraceSliProvider, MetricEvent, MetricLine, MonitoringSetup, SetupReport,
};
use keptn_local::LocalSliProvider;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::sli::SliConfig;
use keptn_spec::{ProjectName, ServiceName, StageName};
use secrecy::SecretString;
use tokio::task::JoinHandle;

use crate::tour_backend::Backend;
use crate::tour_ui::Ui;

mod problems;

pub use problems::{DtProblemSource, ProblemSignal, TourProblem};

/// The tour's Dynatrace `sli.yaml` (queries over the metrics the [`OneAgentStandIn`] sends).
pub const TOUR_SLI: &str = include_str!("../fixtures/tour/dynatrace-sli.yaml");

/// The title of the problems the tour's metric event opens (the seed's problem).
pub const PROBLEM_TITLE: &str = "Failure rate increase";

/// How long after a second ended the tour sends its data (see [`OneAgentStandIn::spawn`]).
pub const INGEST_LAG: Duration = Duration::from_secs(5);

/// The error-rate threshold (percent) of the tour's metric event.
pub const ERROR_RATE_THRESHOLD: f64 = 10.0;

/// The metric keys the [`OneAgentStandIn`] sends: `(key, meaning)`.
pub fn metric_keys() -> [(&'static str, &'static str); 4] {
    [
        (
            "keptn.tour.response_time.p95",
            "gauge, ms: 95th percentile latency of one second",
        ),
        (
            "keptn.tour.requests.count",
            "count delta: requests of one second",
        ),
        (
            "keptn.tour.errors.count",
            "count delta: 5xx or unanswered requests of one second",
        ),
        (
            "keptn.tour.error_rate",
            "gauge, %: errors / requests of one second",
        ),
    ]
}

/// Dynatrace settings of the tour.
#[derive(Debug, Clone)]
pub struct DtSettings {
    /// The tenant (`DT_TENANT`).
    pub tenant: String,
    /// The API token (`DT_API_TOKEN`; scopes `metrics.read`, `metrics.ingest`,
    /// `problems.read`, `ReadConfig`, `WriteConfig`).
    pub token: SecretString,
    /// The SLI file (`--dt-sli`); `None`: [`TOUR_SLI`].
    pub sli_file: Option<PathBuf>,
    /// How long after a window's end the gate waits for ingestion.
    pub settle: Duration,
}

impl DtSettings {
    /// Reads `DT_TENANT` and `DT_API_TOKEN`; `Ok(None)` when `DT_TENANT` is not set.
    ///
    /// # Errors
    /// When `DT_TENANT` is set but `DT_API_TOKEN` is not.
    pub fn from_env(sli_file: Option<PathBuf>, settle: Duration) -> anyhow::Result<Option<Self>> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let Some(tenant) = env("DT_TENANT") else {
            if sli_file.is_some() {
                anyhow::bail!("--dt-sli needs DT_TENANT and DT_API_TOKEN");
            }
            return Ok(None);
        };
        let token = env("DT_API_TOKEN")
            .context("DT_TENANT is set but DT_API_TOKEN (an API token of that tenant) is not")?;
        Ok(Some(Self {
            tenant,
            token: SecretString::from(token),
            sli_file,
            settle,
        }))
    }

    /// The client for the tenant.
    ///
    /// # Errors
    /// When the tenant is not a valid URL or host.
    pub fn client(&self) -> anyhow::Result<DynatraceClient> {
        DynatraceClient::builder(&self.tenant)
            .api_token(self.token.clone())
            .timeout(Duration::from_secs(20))
            .total_timeout(Duration::from_secs(60))
            .build()
            .context("invalid DT_TENANT / DT_API_TOKEN")
    }

    /// The SLI configuration: the `--dt-sli` file, or [`TOUR_SLI`].
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid `sli.yaml`.
    pub fn sli_config(&self) -> anyhow::Result<SliConfig> {
        match &self.sli_file {
            Some(path) => read_sli(path),
            None => SliConfig::from_yaml_str(TOUR_SLI).context("the tour's dynatrace-sli.yaml"),
        }
    }

    /// The SLI provider of the staging gate.
    ///
    /// # Errors
    /// As [`DtSettings::sli_config`].
    pub fn sli_provider(&self, client: DynatraceClient) -> anyhow::Result<DynatraceSliProvider> {
        Ok(DynatraceSliProvider::new(client)
            .with_sli_config(self.sli_config()?)
            .with_settle_time(self.settle))
    }
}

fn read_sli(path: &Path) -> anyhow::Result<SliConfig> {
    let src =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    SliConfig::from_yaml_str(&src)
        .with_context(|| format!("{} is not a valid sli.yaml", path.display()))
}

/// The tour's metric event: error rate of `service` in `stage` above
/// [`ERROR_RATE_THRESHOLD`] % in 3 of 5 samples opens [`PROBLEM_TITLE`]; 5 normal samples
/// close it.
pub fn metric_event(
    project: &ProjectName,
    stage: &StageName,
    service: &ServiceName,
) -> MetricEvent {
    MetricEvent::static_threshold(
        PROBLEM_TITLE,
        format!(
            "keptn.tour.error_rate:filter(and(eq(keptn_project,{project}),eq(keptn_stage,{stage}),eq(keptn_service,{service})))"
        ),
        ERROR_RATE_THRESHOLD,
    )
    .with_samples(5, 3, 5)
    .with_severity("ERROR")
}

/// `keptn configure monitoring dynatrace` for `project`, plus the tour's metric event.
pub async fn configure_monitoring(
    client: &DynatraceClient,
    project: &ProjectName,
    stages: Vec<StageName>,
    event: MetricEvent,
) -> SetupReport {
    MonitoringSetup::new(client.clone())
        .with_project(project.clone(), stages)
        .with_metric_event(event)
        .run()
        .await
}

/// What the stand-in sent so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Data points accepted.
    pub lines_ok: u64,
    /// Data points rejected.
    pub lines_invalid: u64,
    /// Ingest calls that failed.
    pub failed_calls: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Plays the OneAgent's part for local processes (see the [module docs](self)).
#[derive(Debug)]
pub struct OneAgentStandIn {
    task: JoinHandle<()>,
    stats: Arc<std::sync::Mutex<IngestStats>>,
}

impl OneAgentStandIn {
    /// Starts sending, once a second, the measurements of every `(project, stage, service)` in
    /// `scopes` that has a recorder, one second at a time, `lag` after that second ended.
    ///
    /// The proxies record a request under the second it *started* in, once it is answered, so
    /// a second is complete only when its slowest request has been answered: requests slower
    /// than `lag` (the tour uses [`INGEST_LAG`]) are left out of their second's data.
    pub fn spawn(
        client: DynatraceClient,
        sli: LocalSliProvider,
        scopes: Vec<(ProjectName, StageName, ServiceName)>,
        lag: Duration,
    ) -> Self {
        let lag = TimeDelta::from_std(lag).unwrap_or(TimeDelta::seconds(5));
        let stats = Arc::new(std::sync::Mutex::new(IngestStats::default()));
        let shared = stats.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_sent: Option<DateTime<Utc>> = None;
            loop {
                tick.tick().await;
                let now = Utc::now();
                let Ok(current) = (now - lag).duration_trunc(TimeDelta::seconds(1)) else {
                    continue;
                };
                // every whole second not sent yet that ended at least `lag` ago
                let mut second = last_sent.map_or(current - TimeDelta::seconds(1), |s| {
                    s + TimeDelta::seconds(1)
                });
                second = second.max(current - TimeDelta::seconds(30));
                let mut lines = Vec::new();
                while second < current {
                    lines.extend(lines_for_second(&sli, &scopes, second));
                    last_sent = Some(second);
                    second += TimeDelta::seconds(1);
                }
                if lines.is_empty() {
                    continue;
                }
                let result = client.ingest_metrics(&lines).await;
                let mut s = shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match result {
                    Ok(r) => {
                        s.lines_ok += r.lines_ok;
                        s.lines_invalid += r.lines_invalid;
                        if let Some(l) = r.invalid_lines.first() {
                            s.last_error = Some(format!("line {}: {}", l.line, l.error));
                        }
                    }
                    Err(e) => {
                        s.failed_calls += 1;
                        s.last_error = Some(e.to_string());
                    }
                }
            }
        });
        Self { task, stats }
    }

    /// What was sent so far.
    pub fn stats(&self) -> IngestStats {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops sending.
    pub fn stop(self) -> IngestStats {
        self.task.abort();
        self.stats()
    }
}

/// The data points of one second (`[second, second + 1 s)`) of every scope and deployment.
pub fn lines_for_second(
    sli: &LocalSliProvider,
    scopes: &[(ProjectName, StageName, ServiceName)],
    second: DateTime<Utc>,
) -> Vec<MetricLine> {
    let mut lines = Vec::new();
    let end = second + TimeDelta::milliseconds(999);
    for (project, stage, service) in scopes {
        let Some(recorder) = sli.recorder(project, stage, service) else {
            continue;
        };
        for deployment in recorder.deployments() {
            let stats = recorder.summarize(Some(&deployment), second, end);
            if stats.requests == 0 {
                continue;
            }
            let dims = |l: keptn_dynatrace::Result<MetricLine>| -> Option<MetricLine> {
                Some(
                    l.ok()?
                        .with_dimension("keptn_project", project.as_str())
                        .ok()?
                        .with_dimension("keptn_stage", stage.as_str())
                        .ok()?
                        .with_dimension("keptn_service", service.as_str())
                        .ok()?
                        .with_dimension("keptn_deployment", &deployment)
                        .ok()?
                        .at(second + TimeDelta::milliseconds(500)),
                )
            };
            #[allow(clippy::cast_precision_loss)]
            let (requests, errors) = (stats.requests as f64, stats.errors as f64);
            lines.extend(dims(MetricLine::count_delta(
                "keptn.tour.requests.count",
                requests,
            )));
            lines.extend(dims(MetricLine::count_delta(
                "keptn.tour.errors.count",
                errors,
            )));
            if let Some(rate) = stats.error_rate_percent() {
                lines.extend(dims(MetricLine::gauge("keptn.tour.error_rate", rate)));
            }
            if let Some(p95) = stats.p95_ms {
                lines.extend(dims(MetricLine::gauge("keptn.tour.response_time.p95", p95)));
            }
        }
    }
    lines
}

/// Dynatrace: monitoring configured for sockshop, the OneAgent stand-in for local processes,
/// and the gate's SLI provider over the tenant.
///
/// # Errors
/// When monitoring cannot be configured or the SLI file is invalid.
pub async fn set_up(
    settings: &DtSettings,
    ui: &Ui,
    shipyard: &Shipyard,
    backend: &Backend,
    local_sli: &LocalSliProvider,
) -> anyhow::Result<(
    DynatraceClient,
    Option<OneAgentStandIn>,
    Arc<dyn keptn_slo::SliProvider>,
)> {
    let (project, production, carts): (ProjectName, StageName, ServiceName) =
        ("sockshop".parse()?, "production".parse()?, "carts".parse()?);
    let client = settings.client()?;
    ui.say(format!(
        "monitoring: Dynatrace at {} (SLIs of the staging gate, problems of production)",
        client.base_url()
    ));
    let event = metric_event(&project, &production, &carts);
    let stages: Vec<StageName> = shipyard.stages().iter().map(|s| s.name.clone()).collect();
    let report = configure_monitoring(&client, &project, stages.clone(), event).await;
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
    let mut stand_in = None;
    if let Backend::Local(_) = backend {
        let carts_db: ServiceName = "carts-db".parse()?;
        let scopes = stages
            .iter()
            .flat_map(|st| [&carts, &carts_db].map(|sv| (project.clone(), st.clone(), sv.clone())))
            .collect();
        stand_in = Some(OneAgentStandIn::spawn(
            client.clone(),
            local_sli.clone(),
            scopes,
            INGEST_LAG,
        ));
        ui.say(format!(
            "   the tour sends the proxies' measurements to {}/api/v2/metrics/ingest once a second, {} s behind ({})",
            client.base_url(),
            INGEST_LAG.as_secs(),
            metric_keys().map(|(k, _)| k).join(", ")
        ));
    } else {
        ui.say("   in the cluster, Dynatrace's OneAgent measures the pods; the tour sends nothing");
    }
    let provider = settings.sli_provider(client.clone())?;
    Ok((client, stand_in, Arc::new(provider)))
}

/// Stops the OneAgent stand-in, says what it sent to the tenant, and returns the summary's
/// `monitoring` value.
pub fn finish_ingest(
    stand_in: OneAgentStandIn,
    client: Option<&DynatraceClient>,
    ui: &Ui,
) -> serde_json::Value {
    let st = stand_in.stop();
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
    serde_json::json!({"dynatrace": {
        "tenant": client.map(DynatraceClient::base_url),
        "linesOk": st.lines_ok,
        "linesInvalid": st.lines_invalid,
        "failedIngestCalls": st.failed_calls,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_local::RequestRecorder;

    /// The embedded sli.yaml defines the tour's SLIs over the stand-in's metric keys.
    #[test]
    fn tour_sli_uses_the_sent_metrics() {
        let c = SliConfig::from_yaml_str(TOUR_SLI).unwrap();
        for (sli, key) in [
            ("response_time_p95", "keptn.tour.response_time.p95"),
            ("throughput", "keptn.tour.requests.count"),
            ("error_rate", "keptn.tour.error_rate"),
        ] {
            let q = c.query(sli).unwrap();
            assert!(q.contains(key), "{sli}: {q}");
            assert!(metric_keys().iter().any(|(k, _)| *k == key));
        }
    }

    /// One second of recorded requests becomes four data points per deployment, with the
    /// Keptn dimensions.
    #[test]
    fn recorded_second_becomes_lines() {
        let sli = LocalSliProvider::new();
        let rec = Arc::new(RequestRecorder::default());
        let (p, s, v): (ProjectName, StageName, ServiceName) = (
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
        );
        sli.register(p.clone(), s.clone(), v.clone(), rec.clone());
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for i in 0..10 {
            let status = if i < 3 { 500 } else { 200 };
            rec.record(
                "canary",
                t + TimeDelta::milliseconds(i * 50),
                Duration::from_millis(100),
                Some(status),
            );
        }
        rec.record(
            "canary",
            t + TimeDelta::seconds(1),
            Duration::from_millis(900),
            Some(200),
        );
        let lines = lines_for_second(&sli, &[(p, s, v)], t);
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{text:?}");
        assert!(
            text.iter()
                .any(|l| l.starts_with("keptn.tour.requests.count,")
                    && l.contains("count,delta=10 ")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.starts_with("keptn.tour.error_rate,") && l.contains("gauge,30 ")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .all(|l| l.contains("keptn_deployment=\"canary\"")
                    && l.contains("keptn_stage=\"staging\""))
        );
        let p95 = lines
            .iter()
            .find(|l| l.key() == "keptn.tour.response_time.p95")
            .unwrap();
        assert!(
            matches!(p95.value(), keptn_dynatrace::MetricValue::Gauge(v) if (v - 100.0).abs() < 2.0),
            "{p95}"
        );
    }

    /// Debug output of the settings and of the client never shows the token.
    #[test]
    fn settings_debug_redacts_token() {
        let s = DtSettings {
            tenant: "http://127.0.0.1:9".to_owned(),
            token: SecretString::from("dt0c01.TOUR-SECRET-X"),
            sli_file: None,
            settle: Duration::ZERO,
        };
        let shown = format!("{s:?} {:?}", s.client().unwrap());
        assert!(!shown.contains("TOUR-SECRET-X"), "{shown}");
    }

    /// `--dt-sli` replaces the tour's queries; a missing or invalid file is an error naming it.
    #[test]
    fn dt_sli_file_is_read() {
        let dir = std::env::temp_dir().join(format!("tour-dt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("sli.yaml");
        std::fs::write(
            &good,
            "spec_version: '1.0'\nindicators:\n  response_time_p95: \"metricSelector=builtin:service.response.time:merge(\\\"dt.entity.service\\\"):percentile(95)&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT)\"\n",
        )
        .unwrap();
        let mut s = DtSettings {
            tenant: "http://127.0.0.1:9".to_owned(),
            token: SecretString::from("t"),
            sli_file: Some(good),
            settle: Duration::ZERO,
        };
        let c = s.sli_config().unwrap();
        assert!(
            c.query("response_time_p95")
                .unwrap()
                .contains("builtin:service.response.time")
        );
        assert!(c.query("throughput").is_none());
        s.sli_file = Some(dir.join("missing.yaml"));
        let e = format!("{:#}", s.sli_config().unwrap_err());
        assert!(e.contains("missing.yaml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `DT_TENANT` without a token is an error that says what is missing.
    #[test]
    fn settings_need_a_token() {
        // only reads the variables; the test does not set them (other tests run in parallel)
        if std::env::var_os("DT_TENANT").is_none() {
            assert!(
                DtSettings::from_env(None, Duration::ZERO)
                    .unwrap()
                    .is_none()
            );
            assert!(DtSettings::from_env(Some("x.yaml".into()), Duration::ZERO).is_err());
        }
    }
}
