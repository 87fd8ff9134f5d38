//! Production problems from Dynatrace: the tour's problem model, and the poller of the
//! Problems API v2 that turns the metric event's problems (and their closing) into problem
//! events for the control plane and [`TourProblem`]s for the report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keptn_dynatrace::{DynatraceClient, DynatraceProblem, DynatraceSliProvider};
use keptn_local::monitor::DetectedProblem;
use keptn_spec::event::EventSink;
use keptn_spec::sli::SliConfig;
use keptn_spec::{ProjectName, ServiceName, StageName};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ERROR_RATE_THRESHOLD, PROBLEM_TITLE};

/// A problem as the tour reports it, whichever source opened it.
#[derive(Debug, Clone, PartialEq)]
pub struct TourProblem {
    /// The problem's id (`PID`).
    pub pid: String,
    /// The display id.
    pub problem_id: String,
    /// The title.
    pub title: String,
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The SLI (or metric) that breached.
    pub sli: String,
    /// Its threshold (for `error_rate` a ratio, 0..1, whatever unit the source uses).
    pub threshold: f64,
    /// Its value when the problem opened (`NaN` when unknown; same unit as the threshold).
    pub value_at_open: f64,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// Its value when it resolved.
    pub value_at_resolve: Option<f64>,
    /// When it resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// A link to the problem at the monitoring tool.
    pub url: Option<String>,
}

impl From<DetectedProblem> for TourProblem {
    fn from(p: DetectedProblem) -> Self {
        let problem = p.problem;
        Self {
            pid: problem.pid,
            problem_id: problem.problem_id.unwrap_or_default(),
            title: problem.title,
            project: problem.project,
            stage: problem.stage,
            service: problem
                .service
                .expect("the monitor always names the service it watches"),
            sli: p.sli,
            threshold: p.threshold,
            value_at_open: p.value_at_open,
            opened_at: p.opened_at,
            value_at_resolve: p.value_at_resolve,
            resolved_at: p.resolved_at,
            url: None,
        }
    }
}

/// A problem opening or resolving.
#[derive(Debug, Clone, PartialEq)]
pub enum ProblemSignal {
    /// It opened.
    Opened(TourProblem),
    /// It resolved.
    Resolved(TourProblem),
}

/// Polls Dynatrace's Problems API v2 for the tour's metric-event problems.
#[derive(Debug)]
pub struct DtProblemSource {
    task: JoinHandle<()>,
}

impl DtProblemSource {
    /// Polls every `interval` for open problems titled [`PROBLEM_TITLE`] that started after
    /// `since` (and, for known ones, whether they closed); sends a [`ProblemSignal`] for each
    /// change, and emits the Keptn problem events a Dynatrace webhook notification would
    /// have caused into `sink` (through [`keptn_dynatrace::ProblemNotification`]).
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        client: DynatraceClient,
        scope: (ProjectName, StageName, ServiceName),
        since: DateTime<Utc>,
        interval: Duration,
        sink: Arc<dyn EventSink>,
        tx: mpsc::UnboundedSender<ProblemSignal>,
        errors: mpsc::UnboundedSender<String>,
    ) -> Self {
        let task = tokio::spawn(async move {
            let (project, stage, service) = scope;
            let tags =
                format!("keptn_project:{project}, keptn_stage:{stage}, keptn_service:{service}");
            let mut open: BTreeMap<String, TourProblem> = BTreeMap::new();
            loop {
                let listed = client.problems(Some("status(\"open\")"), Some(since)).await;
                match listed {
                    Ok(list) => {
                        let new: Vec<DynatraceProblem> = list
                            .into_iter()
                            .filter(|p| {
                                p.title == PROBLEM_TITLE
                                    && p.started_at().is_some_and(|t| t >= since)
                                    && !open.contains_key(&p.problem_id)
                            })
                            .collect();
                        for p in new {
                            let at = p.started_at().unwrap_or_else(Utc::now);
                            let value = error_rate_before(
                                &client,
                                (&project, &stage, &service),
                                at,
                                "max",
                                10,
                            )
                            .await;
                            let tp = tour_problem(&p, &client, (&project, &stage, &service), value);
                            emit(&*sink, &p, &client, &tags, &errors);
                            open.insert(p.problem_id.clone(), tp.clone());
                            let _ = tx.send(ProblemSignal::Opened(tp));
                        }
                    }
                    Err(e) => {
                        let _ = errors.send(format!("listing problems: {e}"));
                    }
                }
                let ids: Vec<String> = open.keys().cloned().collect();
                for id in ids {
                    match client.problem(&id).await {
                        Ok(p) if !p.is_open() => {
                            let Some(mut tp) = open.remove(&id) else {
                                continue;
                            };
                            tp.resolved_at = Some(p.ended_at().unwrap_or_else(Utc::now));
                            let at = p.ended_at().unwrap_or_else(Utc::now);
                            tp.value_at_resolve = Some(
                                error_rate_before(
                                    &client,
                                    (&project, &stage, &service),
                                    at,
                                    "avg",
                                    4,
                                )
                                .await
                                    / 100.0,
                            );
                            emit(&*sink, &p, &client, &tags, &errors);
                            let _ = tx.send(ProblemSignal::Resolved(tp));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = errors.send(format!("reading problem {id}: {e}"));
                        }
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        Self { task }
    }

    /// Stops polling.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn tour_problem(
    p: &DynatraceProblem,
    client: &DynatraceClient,
    (project, stage, service): (&ProjectName, &StageName, &ServiceName),
    value: f64,
) -> TourProblem {
    TourProblem {
        pid: p.problem_id.clone(),
        problem_id: p.display_id.clone(),
        title: p.title.clone(),
        project: project.clone(),
        stage: stage.clone(),
        service: service.clone(),
        sli: "error_rate".to_owned(),
        // Dynatrace's failure rate is in percent; tour problems carry ratios
        threshold: ERROR_RATE_THRESHOLD / 100.0,
        value_at_open: value / 100.0,
        opened_at: p.started_at().unwrap_or_else(Utc::now),
        value_at_resolve: None,
        resolved_at: None,
        url: Some(format!(
            "{}/#problems/problemdetails;pid={}",
            client.base_url(),
            p.problem_id
        )),
    }
}

fn emit(
    sink: &dyn EventSink,
    p: &DynatraceProblem,
    client: &DynatraceClient,
    tags: &str,
    errors: &mpsc::UnboundedSender<String>,
) {
    match p
        .to_notification(&client.base_url(), Some(tags))
        .to_keptn_event()
    {
        Ok(e) => sink.emit(&e),
        Err(e) => {
            let _ = errors.send(format!("problem {}: {e}", p.problem_id));
        }
    }
}

/// The error rate (`agg`: `max` or `avg`) of the `secs` seconds before `at` as Dynatrace has
/// it (`NaN` when it cannot say): the peak that opened a problem, the calm that closed it.
async fn error_rate_before(
    client: &DynatraceClient,
    (project, stage, service): (&ProjectName, &StageName, &ServiceName),
    at: DateTime<Utc>,
    agg: &str,
    secs: i64,
) -> f64 {
    let config = SliConfig::from_yaml_str(&format!(
        "spec_version: '1.0'\nindicators:\n  error_rate: \"metricSelector=keptn.tour.error_rate:filter(and(eq(keptn_project,$PROJECT),eq(keptn_stage,$STAGE),eq(keptn_service,$SERVICE))):merge(keptn_deployment):{agg}\"\n"
    ));
    let Ok(config) = config else { return f64::NAN };
    let provider = DynatraceSliProvider::new(client.clone()).with_sli_config(config);
    let q = keptn_slo::SliQuery::new(
        project.clone(),
        stage.clone(),
        service.clone(),
        at - TimeDelta::seconds(secs),
        at,
        vec!["error_rate".to_owned()],
    );
    provider
        .fetch_one("error_rate", &q)
        .await
        .unwrap_or(f64::NAN)
}
