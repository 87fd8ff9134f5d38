//! One workflow run for one problem: select the remediation, run its actions one at a time,
//! verify after each, and emit the workflow's Keptn events.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent, Phase, Task};
use keptn_spec::remediation::ActionSpec;
use keptn_spec::{Problem, StageName};
use serde_json::{Value, json};

use super::{
    Inner, MatchedRemediation, Mode, RemediationReport, RemediationStatus, SEQUENCE, Scope,
};
use crate::action::{ActionContext, ActionOutcome, ActionStatus};
use crate::report::{EVENT_SOURCE, StepReport, VerificationReport};
use crate::verify::{ResolvedSignal, VerifyRequest};

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One workflow run for one problem.
pub(super) struct Run<'a> {
    pub(super) inner: &'a Inner,
    pub(super) events: Events,
    pub(super) problem: &'a Problem,
    pub(super) signal: ResolvedSignal,
}

impl Run<'_> {
    fn select(&self) -> Option<(MatchedRemediation, Vec<ActionSpec>)> {
        let files = self
            .inner
            .files
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let stage_scope = Scope {
            project: self.problem.project.clone(),
            stage: self.problem.stage.clone(),
            service: None,
        };
        let service_scope = self.problem.service.as_ref().map(|svc| Scope {
            service: Some(svc.clone()),
            ..stage_scope.clone()
        });
        let loaded = service_scope
            .and_then(|s| files.get(&s))
            .or_else(|| files.get(&stage_scope))?;
        let selected = loaded
            .file
            .select(&self.problem.title, self.problem.root_cause.as_deref())?;
        Some((
            MatchedRemediation {
                file: loaded.name.clone(),
                problem_type: selected.problem_type,
                matched_by: selected.matched_by.as_str().to_owned(),
                index: selected.index,
                actions: selected.actions.len(),
            },
            selected.actions,
        ))
    }

    fn report(
        &self,
        status: RemediationStatus,
        matched: Option<MatchedRemediation>,
        steps: Vec<StepReport>,
        message: String,
    ) -> RemediationReport {
        RemediationReport {
            pid: self.problem.pid.clone(),
            problem_title: self.problem.title.clone(),
            keptn_context: self.events.context.to_string(),
            status,
            matched,
            steps,
            message,
            elapsed_ms: 0,
        }
    }

    pub(super) async fn execute(self) -> RemediationReport {
        let sequence = self.events.sequence_triggered();
        self.events.answer(
            sequence.as_ref(),
            Phase::Started,
            json!({"status": "succeeded"}),
        );
        let finish = |status: &str, result: &str, message: &str| {
            self.events.answer(
                sequence.as_ref(),
                Phase::Finished,
                json!({"status": status, "result": result, "message": message}),
            );
        };

        let Some((matched, actions)) = self.select() else {
            let message = format!(
                "no remediation configured for problem `{}` in {}/{}{}",
                self.problem.title,
                self.problem.project,
                self.problem.stage,
                self.problem
                    .service
                    .as_ref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            );
            finish("succeeded", "fail", &message);
            return self.report(RemediationStatus::NoMatch, None, Vec::new(), message);
        };

        if self.inner.mode == Mode::DryRun {
            let steps: Vec<StepReport> = actions
                .iter()
                .enumerate()
                .map(|(index, step)| {
                    let ctx = ActionContext::new(self.problem.clone(), step.clone());
                    let plan = match self.inner.registry.get(&step.action) {
                        Some(action) => action.describe(&ctx),
                        None => format!("unknown action `{}`", step.action),
                    };
                    StepReport {
                        index,
                        step: step.clone(),
                        outcome: ActionOutcome::skipped(format!("dry run: would {plan}")),
                        started_at: Utc::now(),
                        action_ms: 0,
                        verification: None,
                    }
                })
                .collect();
            let message = format!(
                "dry run: {} action(s) of `{}` would run; nothing was changed",
                steps.len(),
                matched.problem_type
            );
            finish("succeeded", "pass", &message);
            return self.report(RemediationStatus::DryRun, Some(matched), steps, message);
        }

        let mut steps: Vec<StepReport> = Vec::new();
        for (index, step) in actions.iter().enumerate() {
            if self.signal.is_resolved() {
                let message =
                    "the problem was resolved (RESOLVED notification); remediation stopped"
                        .to_owned();
                finish("succeeded", "pass", &message);
                return self.report(RemediationStatus::Resolved, Some(matched), steps, message);
            }
            let report = self.run_step(index, step).await;
            let failed = report.outcome.status != ActionStatus::Succeeded;
            steps.push(report);
            if failed {
                continue;
            }
            // Wait, ending early when the RESOLVED notification arrives. The evaluation window
            // is the wait (Keptn: `start = now − wait`, `end = now`), measured on tokio's clock.
            let window_start = Utc::now();
            let waited_from = tokio::time::Instant::now();
            self.signal.clone().wait_at_most(self.inner.wait).await;
            let waited = chrono::Duration::from_std(waited_from.elapsed()).unwrap_or_default();
            let verification = self
                .verify(&steps, window_start, window_start + waited)
                .await;
            let resolved = verification.resolved;
            if let Some(last) = steps.last_mut() {
                last.verification = Some(verification);
            }
            if resolved {
                let message = format!(
                    "Remediation successful: the problem is resolved after action {} (`{}`)",
                    index + 1,
                    step.action
                );
                finish("succeeded", "pass", &message);
                return self.report(RemediationStatus::Resolved, Some(matched), steps, message);
            }
        }
        let message = format!(
            "No further remediation action configured for problem type {}: escalating ({} action(s) ran, {} failed)",
            matched.problem_type,
            steps.len(),
            steps
                .iter()
                .filter(|s| s.outcome.status != ActionStatus::Succeeded)
                .count()
        );
        tracing::warn!(pid = %self.problem.pid, "{message}");
        finish("succeeded", "fail", &message);
        self.report(RemediationStatus::Escalated, Some(matched), steps, message)
    }

    async fn run_step(&self, index: usize, step: &ActionSpec) -> StepReport {
        let ctx = ActionContext::new(self.problem.clone(), step.clone());
        let triggered = self.events.task_triggered(
            Task::Action,
            json!({"action": step, "actionIndex": index, "problem": self.events.problem_data.clone()}),
        );
        self.events.answer(
            triggered.as_ref(),
            Phase::Started,
            json!({"status": "succeeded"}),
        );
        let started_at = Utc::now();
        let clock = Instant::now();
        let outcome = match self.inner.registry.get(&step.action) {
            Some(action) => action.execute(&ctx).await,
            // Files are checked when added, so this only happens if the registry changed.
            None => ActionOutcome::failed(format!("unknown action `{}`", step.action), Vec::new()),
        };
        let action_ms = millis(clock.elapsed());
        let (status, result) = match outcome.status {
            ActionStatus::Succeeded => ("succeeded", "pass"),
            _ => ("errored", "fail"),
        };
        if outcome.status == ActionStatus::Failed {
            tracing::warn!(pid = %self.problem.pid, action = %step.action, reason = %outcome.message, "remediation action failed");
        }
        self.events.answer(
            triggered.as_ref(),
            Phase::Finished,
            json!({
                "status": status,
                "result": result,
                "message": outcome.message,
                "action": {"name": step.name, "action": step.action, "changes": outcome.changes, "undo": outcome.undo},
            }),
        );
        StepReport {
            index,
            step: step.clone(),
            outcome,
            started_at,
            action_ms,
            verification: None,
        }
    }

    async fn verify(
        &self,
        steps: &[StepReport],
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
    ) -> VerificationReport {
        let verifier = &self.inner.verifier;
        let triggered = self.events.task_triggered(
            Task::Evaluation,
            json!({"evaluation": {"start": window_start, "end": window_end}, "test": {"start": window_start, "end": window_end}}),
        );
        self.events.answer(
            triggered.as_ref(),
            Phase::Started,
            json!({"status": "succeeded"}),
        );
        let request = VerifyRequest {
            problem: self.problem,
            steps,
            window_start,
            window_end,
            resolved: self.signal.clone(),
        };
        let report = match verifier.verify(&request).await {
            Ok(v) => VerificationReport {
                verifier: verifier.name().to_owned(),
                resolved: v.is_resolved(),
                reason: v.reason().to_owned(),
            },
            Err(e) => VerificationReport {
                verifier: verifier.name().to_owned(),
                resolved: false,
                reason: e.to_string(),
            },
        };
        // Keptn's remediation evaluation was always a quality gate, and tools reading
        // `evaluation.finished` (webhook templates, Bridge) expect `evaluation.score`. A verifier
        // answers resolved or not, so the score is 100 or 0; a gate verifier's own score is in
        // the message.
        let (status, result, score) = if report.resolved {
            ("succeeded", "pass", 100.0)
        } else {
            ("succeeded", "fail", 0.0)
        };
        self.events.answer(
            triggered.as_ref(),
            Phase::Finished,
            json!({
                "status": status,
                "result": result,
                "message": report.reason,
                "evaluation": {"result": result, "score": score, "verifier": report.verifier, "start": window_start, "end": window_end},
            }),
        );
        report
    }
}

/// Emits the workflow's Keptn events; emitting never fails the workflow.
pub(super) struct Events {
    sink: Arc<dyn EventSink>,
    context: KeptnContext,
    stage: StageName,
    base: serde_json::Map<String, Value>,
    problem_data: Value,
}

impl Events {
    pub(super) fn new(sink: Arc<dyn EventSink>, context: KeptnContext, problem: &Problem) -> Self {
        let mut base = serde_json::Map::new();
        base.insert("project".into(), json!(problem.project));
        base.insert("stage".into(), json!(problem.stage));
        if let Some(svc) = &problem.service {
            base.insert("service".into(), json!(svc));
        }
        let problem_data = json!({
            "State": "OPEN",
            "PID": problem.pid,
            "ProblemID": problem.problem_id,
            "ProblemTitle": problem.title,
            "problemTitle": problem.title,
            "rootCause": problem.root_cause,
            "ProblemURL": problem.url,
            "ImpactedEntity": problem.impacted_entity,
        });
        Self {
            sink,
            context,
            stage: problem.stage.clone(),
            base,
            problem_data,
        }
    }

    fn data(&self, extra: Value) -> Value {
        let mut data = self.base.clone();
        if let Value::Object(map) = extra {
            data.extend(map);
        }
        Value::Object(data)
    }

    fn emit(&self, event: KeptnEvent) -> KeptnEvent {
        self.sink.emit(&event);
        event
    }

    fn sequence_triggered(&self) -> Option<KeptnEvent> {
        let ty = EventType::sequence(self.stage.clone(), SEQUENCE, Phase::Triggered).ok()?;
        let data = self.data(json!({"problem": self.problem_data.clone()}));
        Some(self.emit(KeptnEvent::new(ty, EVENT_SOURCE, self.context, &data)))
    }

    fn task_triggered(&self, task: Task, extra: Value) -> Option<KeptnEvent> {
        let ty = EventType::task(task, Phase::Triggered);
        let data = self.data(extra);
        Some(self.emit(KeptnEvent::new(ty, EVENT_SOURCE, self.context, &data)))
    }

    fn answer(&self, triggered: Option<&KeptnEvent>, phase: Phase, extra: Value) {
        let Some(triggered) = triggered else { return };
        let data = self.data(extra);
        let answer = match phase {
            Phase::Started => triggered.started(EVENT_SOURCE, &data),
            _ => triggered.finished(EVENT_SOURCE, &data),
        };
        match answer {
            Ok(event) => {
                self.emit(event);
            }
            Err(e) => tracing::warn!(error = %e, "cannot build remediation event"),
        }
    }
}
