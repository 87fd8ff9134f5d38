//! `full_tour`'s self-healing: users on production, the promotion flag on; problems enter
//! the control plane as `problem.open` events and its `remediation` sequence toggles the flag.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use keptn_control::{ControlPlane, EventIngress};
use keptn_dynatrace::DynatraceClient;
use keptn_local::monitor::{Monitor, MonitorConfig, MonitorEvent, Watch};
use keptn_remediate::unleash::{FeatureToggleAction, FlagState};
use keptn_slo::SliProvider;
use keptn_spec::event::EventSink;

use crate::tour_backend::{Flags, Traffic};
use crate::tour_dynatrace::{
    DtProblemSource, ERROR_RATE_THRESHOLD, PROBLEM_TITLE, ProblemSignal, TourProblem,
};
use crate::tour_prometheus::{self, AlertProblemSource};
use crate::tour_report::{ProblemOutcome, RecordedAction, RemediationOutcome};
use crate::tour_ui::Ui;

/// How long the self-healing waits.
#[derive(Debug, Clone, Copy)]
pub struct HealingTiming {
    /// Longest wait for the problem to open and resolve.
    pub remediation_timeout: Duration,
    /// Between two reads of Dynatrace's Problems API.
    pub dt_poll: Duration,
}

/// Self-healing: users on production, EnablePromotion on; problems enter the control plane as
/// `problem.open` events (from the monitor or Dynatrace) and its `remediation` sequence runs
/// the feature toggle; returns the problems with what their remediation did.
///
/// # Errors
/// When the flag cannot be switched on or the control plane's store fails.
pub async fn self_healing(
    timing: HealingTiming,
    ui: &Ui,
    plane: &ControlPlane,
    flags: &Flags,
    toggle: &RecordedAction<FeatureToggleAction>,
    traffic: &Traffic,
    problems_from: ProblemSource,
) -> anyhow::Result<Vec<ProblemOutcome>> {
    let users_bar = ui.bar("  {prefix:>10} {spinner} {msg}");
    users_bar.set_prefix("users");
    users_bar.enable_steady_tick(Duration::from_millis(200));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProblemSignal>();
    let (errors, mut error_rx) = tokio::sync::mpsc::unbounded_channel();
    let ingress: Arc<dyn EventSink> = Arc::new(EventIngress::new(plane));
    let scope = ("sockshop".parse()?, "production".parse()?, "carts".parse()?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from_alerts = matches!(problems_from, ProblemSource::Prometheus { .. });
    let mut alerts = None;
    let (monitor, dt_problems) = match problems_from {
        ProblemSource::Prometheus { problems, sli } => {
            drop(errors);
            ui.say(format!(
                "   problems: Prometheus alert \"{}\" (error_rate of carts primary in production > {} over {} s, for {} s), through Alertmanager",
                tour_prometheus::TourMonitoring::problem_title(),
                tour_prometheus::ERROR_RATE_THRESHOLD,
                tour_prometheus::ALERT_WINDOW.as_secs(),
                tour_prometheus::ALERT_FOR.as_secs(),
            ));
            alerts = Some(AlertProblemSource::spawn(problems, sli, ingress, tx));
            (None, None)
        }
        ProblemSource::Dynatrace(client) => {
            ui.say(format!(
                "   problems: Dynatrace metric event \"{}\" (error rate > {} %), polled every {} s from {}/api/v2/problems",
                PROBLEM_TITLE,
                ERROR_RATE_THRESHOLD,
                timing.dt_poll.as_secs_f64(),
                client.base_url()
            ));
            let interval = timing.dt_poll;
            let source =
                DtProblemSource::spawn(client, scope, Utc::now(), interval, ingress, tx, errors);
            (None, Some(source))
        }
        ProblemSource::Monitor(sli) => {
            drop(errors);
            let (project, stage, service) = scope;
            let config = MonitorConfig::new(project, stage, service)
                .with_deployment("primary")
                .with_timing(Duration::from_secs(1), Duration::from_secs(4))
                .with_streaks(3, 3)
                .with_watches(vec![
                    Watch::above("error_rate", 0.1, "Failure rate increase"),
                    Watch::above("response_time_p95", 1000.0, "Response time degradation"),
                ]);
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
            let monitor = Monitor::new(sli, config).with_event_sink(ingress);
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
    let deadline = tokio::time::Instant::now() + timing.remediation_timeout;
    let mut problems: Vec<TourProblem> = Vec::new();
    loop {
        let (ok, failed) = traffic.counts();
        let open = problems.iter().filter(|p| p.resolved_at.is_none()).count();
        users_bar.set_message(format!(
            "{ok} ok, {failed} failed requests; open problems: {open}"
        ));
        if !problems.is_empty() && open == 0 {
            break;
        }
        let signal = tokio::select! {
            s = rx.recv() => s,
            Some(msg) = error_rx.recv() => {
                ui.say(format!("   warning: Dynatrace problems: {msg}"));
                continue;
            }
            () = tokio::time::sleep_until(deadline) => {
                ui.say("   the problem did not open and resolve in time (--remediation-timeout)");
                break;
            }
            () = tokio::time::sleep(Duration::from_millis(250)) => continue,
        };
        match signal {
            Some(ProblemSignal::Opened(p)) => {
                ui.say(format!(
                    "   {} problem {} \"{}\" opened: {} = {:.3} (threshold {}){}",
                    p.opened_at.format("%H:%M:%S%.3f"),
                    p.problem_id,
                    p.title,
                    p.sli,
                    p.value_at_open,
                    p.threshold,
                    alert_lag(from_alerts, p.opened_at, "fired")
                ));
                problems.push(p);
            }
            Some(ProblemSignal::Resolved(p)) => {
                ui.say(format!(
                    "   {} problem {} \"{}\" resolved: {} = {:.3}{}",
                    p.resolved_at
                        .unwrap_or_else(Utc::now)
                        .format("%H:%M:%S%.3f"),
                    p.problem_id,
                    p.title,
                    p.sli,
                    p.value_at_resolve.unwrap_or(f64::NAN),
                    p.resolved_at
                        .map(|at| alert_lag(from_alerts, at, "resolved"))
                        .unwrap_or_default()
                ));
                if let Some(slot) = problems.iter_mut().find(|o| o.pid == p.pid) {
                    *slot = p;
                }
            }
            None => break,
        }
    }
    if let Some(m) = monitor {
        m.stop();
    }
    if let Some(d) = dt_problems {
        d.stop();
    }
    if let Some(a) = alerts {
        a.stop();
    }
    users_bar.finish_and_clear();
    let mut outcomes = Vec::new();
    for problem in problems {
        // the problem's closing event finishes its remediation sequence
        let remediation =
            RemediationOutcome::read(plane, &problem.pid, toggle, Duration::from_secs(10)).await?;
        outcomes.push(ProblemOutcome {
            problem,
            remediation,
        });
    }
    Ok(outcomes)
}

/// With problems from alerts: how long after the alert `what` (`fired`, `resolved`) at `at`
/// the tour got its problem event, as ` (alert fired at …, problem event +1.2 s)`.
fn alert_lag(from_alerts: bool, at: chrono::DateTime<Utc>, what: &str) -> String {
    if !from_alerts {
        return String::new();
    }
    let lag = (Utc::now() - at).num_milliseconds() as f64 / 1000.0;
    format!(
        " (alert {what} at {}, problem event +{lag:.1} s)",
        at.format("%H:%M:%S%.3f")
    )
}

/// Where production problems come from.
#[derive(Debug)]
pub enum ProblemSource {
    /// The tour's monitor over these SLIs.
    Monitor(Arc<dyn SliProvider>),
    /// Dynatrace's Problems API.
    Dynatrace(DynatraceClient),
    /// Alertmanager's notifications of the tour's Prometheus alert rule
    /// ([`tour_prometheus::TourMonitoring::take_problems`]); `sli` reads the error rate when a
    /// problem opens and resolves.
    Prometheus {
        /// The problem events of the alert receiver.
        problems: tokio::sync::mpsc::UnboundedReceiver<keptn_spec::event::KeptnEvent>,
        /// The Prometheus the alerts come from.
        sli: keptn_prometheus::PrometheusSliProvider,
    },
}
