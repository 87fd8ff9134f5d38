//! A monitor playing Dynatrace's role in Keptn's tour: it watches a service's SLIs through any
//! [`SliProvider`], opens a problem when an objective stays breached and resolves it when it
//! recovers.
//!
//! Each check fetches the watched SLIs over the last `window` (ending at the check). A watch is
//! *breached* when its value is beyond its threshold. After `open_after` consecutive breached
//! checks the monitor opens a problem (titled like Dynatrace's: `Failure rate increase`,
//! `Response time degradation`); after `resolve_after` consecutive healthy checks it resolves
//! it. A failed SLI (no traffic, no data) is no evidence either way: it neither counts as a breach
//! nor as a recovery, and it resets neither streak — a problem is never resolved on missing data.
//!
//! Opened and resolved problems go out twice: as [`MonitorEvent`]s (for the remediation workflow;
//! [`DetectedProblem::problem`] is the workflow's [`Problem`]) and as Keptn
//! CloudEvents into an [`EventSink`] — `sh.keptn.event.problem.open` with `State: OPEN` and
//! `sh.keptn.events.problem` with `State: CLOSED` (what Keptn's dynatrace-service sends),
//! both in the context Keptn's API derives from the problem's `PID`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent};
use keptn_spec::{Problem, ProjectName, ServiceName, StageName};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Which side of the threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Values above the threshold breach it (latency, error rate).
    Above,
    /// Values below the threshold breach it (throughput).
    Below,
}

/// One watched SLI: its threshold and the title of the problem it raises.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Watch {
    /// The SLI, such as `error_rate`.
    pub sli: String,
    /// The threshold.
    pub threshold: f64,
    /// Which side of it is bad.
    pub direction: Direction,
    /// The problem title, such as `Failure rate increase`.
    pub problem_title: String,
}

impl Watch {
    /// Breached when `sli` is above `threshold`.
    pub fn above(sli: impl Into<String>, threshold: f64, problem_title: impl Into<String>) -> Self {
        Self {
            sli: sli.into(),
            threshold,
            direction: Direction::Above,
            problem_title: problem_title.into(),
        }
    }

    /// Breached when `sli` is below `threshold`.
    pub fn below(sli: impl Into<String>, threshold: f64, problem_title: impl Into<String>) -> Self {
        Self {
            sli: sli.into(),
            threshold,
            direction: Direction::Below,
            problem_title: problem_title.into(),
        }
    }

    fn breached_by(&self, value: f64) -> bool {
        match self.direction {
            Direction::Above => value > self.threshold,
            Direction::Below => value < self.threshold,
        }
    }
}

/// What and how the [`Monitor`] watches.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MonitorConfig {
    /// The project.
    pub project: ProjectName,
    /// The stage (production in the tour).
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The deployment to watch (`primary` in a blue/green stage); `None` watches all.
    pub deployment: Option<String>,
    /// Time between checks (default 5 s).
    pub interval: Duration,
    /// The window each check measures, ending at the check (default 30 s).
    pub window: Duration,
    /// Consecutive breached checks before a problem opens (default 3).
    pub open_after: u32,
    /// Consecutive healthy checks before it resolves (default 3).
    pub resolve_after: u32,
    /// The watched SLIs.
    pub watches: Vec<Watch>,
}

impl MonitorConfig {
    /// Watches `service` with Dynatrace-like defaults: `error_rate` above 0.1 (a ratio: 10 % of
    /// the requests failed, keptn-local's and Prometheus' unit) raises
    /// `Failure rate increase`, `response_time_p95` above 1000 ms raises
    /// `Response time degradation`.
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project,
            stage,
            service,
            deployment: None,
            interval: Duration::from_secs(5),
            window: Duration::from_secs(30),
            open_after: 3,
            resolve_after: 3,
            watches: vec![
                Watch::above("error_rate", 0.1, "Failure rate increase"),
                Watch::above("response_time_p95", 1000.0, "Response time degradation"),
            ],
        }
    }

    /// Watches only this deployment.
    #[must_use]
    pub fn with_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// Sets the interval between checks and the window of each check.
    #[must_use]
    pub fn with_timing(mut self, interval: Duration, window: Duration) -> Self {
        self.interval = interval;
        self.window = window;
        self
    }

    /// Sets how many consecutive checks open and resolve a problem (at least 1 each).
    #[must_use]
    pub fn with_streaks(mut self, open_after: u32, resolve_after: u32) -> Self {
        self.open_after = open_after.max(1);
        self.resolve_after = resolve_after.max(1);
        self
    }

    /// Replaces the watched SLIs.
    #[must_use]
    pub fn with_watches(mut self, watches: Vec<Watch>) -> Self {
        self.watches = watches;
        self
    }
}

/// The impacted entity of the monitored service, such as `carts (primary) in sockshop-production`.
fn impacted_entity(config: &MonitorConfig) -> String {
    format!(
        "{}{} in {}",
        config.service,
        config
            .deployment
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        keptn_spec::names::namespace(&config.project, &config.stage)
    )
}

/// A problem the monitor opened: the [`Problem`] itself and what the monitor measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DetectedProblem {
    /// The problem: a unique `pid` (Dynatrace's `PID`), the display id (`P-1`, `P-2`, … per
    /// monitor), the title, project, stage and service, and the impacted entity.
    #[serde(flatten)]
    pub problem: Problem,
    /// The watched deployment, if any.
    pub deployment: Option<String>,
    /// The SLI that breached.
    pub sli: String,
    /// Its threshold.
    pub threshold: f64,
    /// Its value at the check that opened the problem.
    pub value_at_open: f64,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// Its value at the check that resolved it.
    pub value_at_resolve: Option<f64>,
    /// When it resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl DetectedProblem {
    /// Dynatrace-style tags: `keptn_project:…, keptn_stage:…, keptn_service:…[, keptn_deployment:…]`.
    pub fn tags(&self) -> String {
        let p = &self.problem;
        let mut tags = format!("keptn_project:{}, keptn_stage:{}", p.project, p.stage);
        if let Some(s) = &p.service {
            tags.push_str(&format!(", keptn_service:{s}"));
        }
        if let Some(d) = &self.deployment {
            tags.push_str(&format!(", keptn_deployment:{d}"));
        }
        tags
    }

    /// The Keptn context of this problem's events (derived from the `PID` as Keptn's API does).
    pub fn keptn_context(&self) -> KeptnContext {
        KeptnContext::from_ingress(&self.problem.pid)
    }

    fn event_data(&self, state: &str) -> serde_json::Value {
        json!({
            "State": state,
            "ProblemID": self.problem.problem_id,
            "PID": self.problem.pid,
            "ProblemTitle": self.problem.title,
            "ProblemDetails": {
                "id": self.problem.pid,
                "displayName": self.problem.problem_id,
                "status": if state == "OPEN" { "OPEN" } else { "CLOSED" },
                "severityLevel": if self.sli == "error_rate" { "ERROR" } else { "PERFORMANCE" },
                "impactLevel": "SERVICE",
                "hasRootCause": false,
                "startTime": self.opened_at.timestamp_millis(),
                "endTime": self.resolved_at.map_or(-1, |t| t.timestamp_millis()),
                "sli": self.sli,
                "threshold": self.threshold,
                "valueAtOpen": self.value_at_open,
                "valueAtResolve": self.value_at_resolve,
            },
            "ImpactedEntity": self.problem.impacted_entity,
            "Tags": self.tags(),
            "project": self.problem.project,
            "stage": self.problem.stage,
            "service": self.problem.service,
        })
    }

    /// The `sh.keptn.event.problem.open` event (`State: OPEN`).
    pub fn open_event(&self, source: &str) -> KeptnEvent {
        KeptnEvent::new(
            EventType::ProblemOpen,
            source,
            self.keptn_context(),
            &self.event_data("OPEN"),
        )
    }

    /// The `sh.keptn.events.problem` event with `State: CLOSED`.
    pub fn closed_event(&self, source: &str) -> KeptnEvent {
        KeptnEvent::new(
            EventType::Problem,
            source,
            self.keptn_context(),
            &self.event_data("CLOSED"),
        )
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "problem")]
#[non_exhaustive]
pub enum MonitorEvent {
    /// A problem opened.
    Opened(DetectedProblem),
    /// A problem resolved.
    Resolved(DetectedProblem),
}

#[derive(Debug, Clone, Default)]
struct WatchState {
    breaches: u32,
    recoveries: u32,
    open: Option<DetectedProblem>,
}

/// The event source the monitor writes into its Keptn events.
pub const MONITOR_SOURCE: &str = "keptn-rs-monitor";

/// Watches SLIs and opens and resolves problems (see the [module docs](self)).
///
/// ```
/// use std::sync::Arc;
/// use keptn_local::monitor::{Monitor, MonitorConfig, MonitorEvent, Watch};
/// # use async_trait::async_trait;
/// # use keptn_slo::{ProviderError, SliProvider, SliQuery};
/// # use keptn_spec::SliValue;
/// # #[derive(Debug)] struct Failing;
/// # #[async_trait] impl SliProvider for Failing {
/// #     fn name(&self) -> &str { "fake" }
/// #     async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
/// #         Ok(vec![SliValue::ok("error_rate", 0.3)])
/// #     }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let config = MonitorConfig::new("sockshop".parse()?, "production".parse()?, "carts".parse()?)
///     .with_watches(vec![Watch::above("error_rate", 0.1, "Failure rate increase")])
///     .with_streaks(2, 2);
/// let mut monitor = Monitor::new(Arc::new(Failing), config);
/// assert!(monitor.check(chrono::Utc::now()).await?.is_empty());
/// let events = monitor.check(chrono::Utc::now()).await?;
/// assert!(matches!(&events[0], MonitorEvent::Opened(p) if p.problem.title == "Failure rate increase"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Monitor {
    provider: Arc<dyn SliProvider>,
    config: MonitorConfig,
    sink: Option<Arc<dyn EventSink>>,
    states: Vec<WatchState>,
    opened: u32,
    run_id: String,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("provider", &self.provider.name())
            .field("config", &self.config)
            .field("open", &self.open_problems())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// A monitor reading SLIs from `provider`.
    pub fn new(provider: Arc<dyn SliProvider>, config: MonitorConfig) -> Self {
        let states = vec![WatchState::default(); config.watches.len()];
        Self {
            provider,
            config,
            sink: None,
            states,
            opened: 0,
            run_id: format!("{:08x}", fastrand::u32(..)),
        }
    }

    /// Also emits Keptn problem events into `sink`.
    #[must_use]
    pub fn with_event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The problems open right now.
    pub fn open_problems(&self) -> Vec<DetectedProblem> {
        self.states.iter().filter_map(|s| s.open.clone()).collect()
    }

    /// Runs one check over the window ending at `now` and returns the problems it opened or
    /// resolved.
    ///
    /// # Errors
    /// The provider could not answer at all (the streaks are left as they were).
    pub async fn check(&mut self, now: DateTime<Utc>) -> Result<Vec<MonitorEvent>, ProviderError> {
        let window = TimeDelta::from_std(self.config.window).unwrap_or(TimeDelta::seconds(30));
        let mut query = SliQuery::new(
            self.config.project.clone(),
            self.config.stage.clone(),
            self.config.service.clone(),
            now - window,
            now,
            self.config.watches.iter().map(|w| w.sli.clone()).collect(),
        );
        if let Some(d) = &self.config.deployment {
            query = query.with_deployment(d.clone());
        }
        let values = self.provider.fetch_slis(&query).await?;
        let mut events = Vec::new();
        for (i, watch) in self.config.watches.iter().enumerate() {
            let Some(value) = values
                .iter()
                .find(|v| v.metric == watch.sli && v.success)
                .map(|v| v.value)
            else {
                continue; // no evidence either way
            };
            let state = &mut self.states[i];
            if watch.breached_by(value) {
                state.breaches += 1;
                state.recoveries = 0;
                if state.open.is_none() && state.breaches >= self.config.open_after {
                    self.opened += 1;
                    let mut detected = Problem::new(
                        format!("{}-{}-{}", self.run_id, self.opened, watch.sli),
                        watch.problem_title.clone(),
                        self.config.project.clone(),
                        self.config.stage.clone(),
                    )
                    .with_service(self.config.service.clone())
                    .with_problem_id(format!("P-{}", self.opened));
                    detected.impacted_entity = Some(impacted_entity(&self.config));
                    let problem = DetectedProblem {
                        problem: detected,
                        deployment: self.config.deployment.clone(),
                        sli: watch.sli.clone(),
                        threshold: watch.threshold,
                        value_at_open: value,
                        opened_at: now,
                        value_at_resolve: None,
                        resolved_at: None,
                    };
                    if let Some(sink) = &self.sink {
                        sink.emit(&problem.open_event(MONITOR_SOURCE));
                    }
                    state.open = Some(problem.clone());
                    events.push(MonitorEvent::Opened(problem));
                }
            } else {
                state.recoveries += 1;
                state.breaches = 0;
                if state.recoveries >= self.config.resolve_after
                    && let Some(mut problem) = state.open.take()
                {
                    problem.value_at_resolve = Some(value);
                    problem.resolved_at = Some(now);
                    if let Some(sink) = &self.sink {
                        sink.emit(&problem.closed_event(MONITOR_SOURCE));
                    }
                    events.push(MonitorEvent::Resolved(problem));
                }
            }
        }
        Ok(events)
    }

    /// Runs checks every `interval` on a task and sends what they find to `tx`, until the
    /// returned handle is dropped or `tx`'s receiver is gone. Provider errors are logged and
    /// the next check runs as planned.
    pub fn spawn(mut self, tx: mpsc::UnboundedSender<MonitorEvent>) -> MonitorHandle {
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.config.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match self.check(Utc::now()).await {
                    Ok(events) => {
                        for e in events {
                            if tx.send(e).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "monitor check failed"),
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        MonitorHandle { task }
    }
}

/// A running monitor task; dropping it stops the monitor.
#[derive(Debug)]
pub struct MonitorHandle {
    task: JoinHandle<()>,
}

impl MonitorHandle {
    /// Stops the monitor.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use keptn_spec::SliValue;
    use keptn_spec::event::MemoryEventSink;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers scripted error rates, one per check (`None` = no data).
    #[derive(Debug)]
    struct Scripted(Mutex<VecDeque<Option<f64>>>);

    #[async_trait]
    impl SliProvider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
            assert_eq!(q.deployment.as_deref(), Some("primary"));
            assert_eq!(q.end - q.start, TimeDelta::seconds(30));
            match self.0.lock().unwrap().pop_front() {
                Some(Some(v)) => Ok(vec![SliValue::ok("error_rate", v)]),
                Some(None) => Ok(vec![SliValue::failed("error_rate", "no requests")]),
                None => Err(ProviderError::new("scripted", "script ended", false)),
            }
        }
    }

    fn monitor(script: &[Option<f64>]) -> (Monitor, MemoryEventSink) {
        let sink = MemoryEventSink::new();
        let config = MonitorConfig::new(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            "carts".parse().unwrap(),
        )
        .with_deployment("primary")
        .with_watches(vec![Watch::above(
            "error_rate",
            0.1,
            "Failure rate increase",
        )])
        .with_streaks(3, 2);
        let provider = Scripted(Mutex::new(script.iter().copied().collect()));
        let m = Monitor::new(Arc::new(provider), config).with_event_sink(Arc::new(sink.clone()));
        (m, sink)
    }

    async fn run(m: &mut Monitor, checks: usize) -> Vec<(usize, MonitorEvent)> {
        let mut out = Vec::new();
        for i in 0..checks {
            for e in m.check(Utc::now()).await.unwrap() {
                out.push((i, e));
            }
        }
        out
    }

    /// A problem opens after `open_after` consecutive breaches and resolves after
    /// `resolve_after` healthy checks, with Keptn events in one context.
    #[tokio::test]
    async fn opens_after_streak_and_resolves_after_recovery() {
        let (mut m, sink) = monitor(&[
            Some(0.01),
            Some(0.30),
            Some(0.31),
            Some(0.02), // breaks the streak
            Some(0.30),
            Some(0.30),
            Some(0.29), // opens here (index 6)
            Some(0.35),
            Some(0.0),
            Some(0.0), // resolves here (index 9)
        ]);
        let events = run(&mut m, 10).await;
        assert_eq!(events.len(), 2, "{events:?}");
        let (i, MonitorEvent::Opened(p)) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(*i, 6);
        assert_eq!(p.problem.title, "Failure rate increase");
        assert_eq!(p.value_at_open, 0.29);
        assert_eq!(p.problem.problem_id.as_deref(), Some("P-1"));
        assert_eq!(
            p.problem.impacted_entity.as_deref(),
            Some("carts (primary) in sockshop-production")
        );
        let (i, MonitorEvent::Resolved(r)) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(*i, 9);
        assert_eq!(r.problem.pid, p.problem.pid);
        assert!(m.open_problems().is_empty());

        let emitted = sink.events();
        assert_eq!(emitted.len(), 2);
        assert_eq!(emitted[0].ty.to_string(), "sh.keptn.event.problem.open");
        assert_eq!(emitted[0].data["State"], "OPEN");
        assert_eq!(emitted[0].data["ProblemTitle"], "Failure rate increase");
        assert_eq!(
            emitted[0].data["Tags"],
            "keptn_project:sockshop, keptn_stage:production, keptn_service:carts, keptn_deployment:primary"
        );
        assert_eq!(emitted[1].ty.to_string(), "sh.keptn.events.problem");
        assert_eq!(emitted[1].data["State"], "CLOSED");
        assert_eq!(emitted[0].shkeptncontext, emitted[1].shkeptncontext);
    }

    /// Missing data neither opens, resolves, nor resets a streak.
    #[tokio::test]
    async fn missing_data_is_no_evidence() {
        let (mut m, _) = monitor(&[
            Some(0.30),
            None,
            Some(0.30),
            None,
            Some(0.30), // third breach: opens (index 4)
            None,
            None,
            None,
            Some(0.0),
            None,
            Some(0.0), // second recovery: resolves (index 10)
        ]);
        let events = run(&mut m, 11).await;
        let at: Vec<usize> = events.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [4, 10], "{events:?}");
    }

    /// A provider error fails the check and leaves the state alone.
    #[tokio::test]
    async fn provider_errors_are_reported() {
        let (mut m, _) = monitor(&[Some(0.30)]);
        assert!(m.check(Utc::now()).await.unwrap().is_empty());
        let err = m.check(Utc::now()).await.unwrap_err();
        assert_eq!(err.message, "script ended");
    }

    /// The spawned monitor delivers events on its channel and stops when dropped.
    #[tokio::test]
    async fn spawned_monitor_sends_events() {
        let (m, _) = monitor(&[Some(0.30), Some(0.30), Some(0.30)]);
        let mut m = m;
        m.config.interval = Duration::from_millis(10);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = m.spawn(tx);
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(first, MonitorEvent::Opened(_)));
        handle.stop();
    }
}
