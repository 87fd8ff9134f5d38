//! The ports the delivery sequence calls besides [`crate::Deployer`] and [`crate::TestRunner`]:
//! the quality gate, approvals and custom tasks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keptn_spec::event::{Status, Verdict};
use keptn_spec::{ServiceName, Slo, StageName};
use serde_json::Value;

use crate::{Result, StageService};

/// What to evaluate: Keptn's `evaluation.triggered` for one service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EvaluationRequest {
    /// The service.
    pub target: StageService,
    /// Start of the window (the tests' start, or end minus the task's `timeframe`).
    pub start: DateTime<Utc>,
    /// End of the window.
    pub end: DateTime<Utc>,
    /// Which deployment to measure (`canary`, `direct`, …), from the deployment task.
    pub deployment: Option<String>,
    /// The event labels.
    pub labels: BTreeMap<String, String>,
    /// The keptn context, usable as evaluation id.
    pub context: String,
}

/// The outcome of an evaluation: Keptn's `evaluation.finished`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EvaluationOutcome {
    /// `succeeded`, or `errored` when no evaluation could be made.
    pub status: Status,
    /// The verdict.
    pub result: Verdict,
    /// A one-line explanation.
    pub message: String,
    /// The `evaluation` property of the finished event (score, indicator results, …).
    pub details: Value,
}

impl EvaluationOutcome {
    /// An outcome with empty details.
    pub fn new(status: Status, result: Verdict, message: impl Into<String>) -> Self {
        Self {
            status,
            result,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// Sets the details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The quality gate as the delivery sequence sees it (Keptn's lighthouse role).
///
/// Contract: never pass on missing or failed data; a gate that cannot evaluate returns an
/// outcome with `status: errored, result: fail` (or an `Err`, which the sequence reports the
/// same way).
#[async_trait]
pub trait Evaluator: Send + Sync + fmt::Debug {
    /// Evaluates `request`.
    ///
    /// # Errors
    /// The gate could not run at all.
    async fn evaluate(&self, request: &EvaluationRequest) -> Result<EvaluationOutcome>;
}

/// [`Evaluator`] on [`keptn_slo::QualityGate`] with an SLO per stage and service (Keptn's
/// `slo.yaml` resources). Without an SLO for a stage/service the gate passes, as Keptn's
/// lighthouse does when no `slo.yaml` exists.
#[derive(Debug, Clone)]
pub struct GateEvaluator {
    gate: keptn_slo::QualityGate,
    slos: BTreeMap<(StageName, ServiceName), Arc<Slo>>,
}

impl GateEvaluator {
    /// An evaluator with no SLOs.
    pub fn new(gate: keptn_slo::QualityGate) -> Self {
        Self {
            gate,
            slos: BTreeMap::new(),
        }
    }

    /// Uses `slo` for `service` in `stage`.
    #[must_use]
    pub fn with_slo(mut self, stage: StageName, service: ServiceName, slo: Slo) -> Self {
        self.slos.insert((stage, service), Arc::new(slo));
        self
    }
}

#[async_trait]
impl Evaluator for GateEvaluator {
    async fn evaluate(&self, request: &EvaluationRequest) -> Result<EvaluationOutcome> {
        let t = &request.target;
        let slo = self.slos.get(&(t.stage.clone(), t.service.clone()));
        let mut query = keptn_slo::SliQuery::new(
            t.project.clone(),
            t.stage.clone(),
            t.service.clone(),
            request.start,
            request.end,
            Vec::new(),
        )
        .with_labels(request.labels.clone());
        if let Some(d) = &request.deployment {
            query = query.with_deployment(d.clone());
        }
        let mut ctx = keptn_slo::EvaluationContext::new(
            t.project.clone(),
            t.stage.clone(),
            t.service.clone(),
        );
        ctx.labels = request.labels.clone();
        let evaluation = match self
            .gate
            .evaluate(slo.map(|s| &**s), &query, &ctx, request.context.clone())
            .await
        {
            Ok(e) => e,
            // the verdict stands even if the history could not record it; say so
            Err(e) => {
                tracing::warn!(error = %e, "evaluation not recorded in the history");
                *e.evaluation
            }
        };
        let data = serde_json::to_value(&evaluation.data).unwrap_or(Value::Null);
        Ok(EvaluationOutcome {
            status: evaluation.status(),
            result: evaluation.verdict(),
            message: evaluation.data.message.clone(),
            details: data.get("evaluation").cloned().unwrap_or(Value::Null),
        })
    }
}

/// A manual approval request (Keptn's `approval.triggered` that no automatic rule answers).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApprovalRequest {
    /// The service.
    pub target: StageService,
    /// The result so far (`pass` or `warning`).
    pub result: Verdict,
    /// The image waiting for approval.
    pub image: Option<String>,
    /// The keptn context.
    pub context: String,
}

/// Answers manual approvals (Keptn's Bridge button or `keptn send event approval.finished`).
#[async_trait]
pub trait Approver: Send + Sync + fmt::Debug {
    /// `true` approves, `false` rejects (the approval task then fails).
    async fn approve(&self, request: &ApprovalRequest) -> bool;
}

type ApproveFn = dyn Fn(&ApprovalRequest) -> bool + Send + Sync;

/// An [`Approver`] from a closure.
#[derive(Clone)]
pub struct FnApprover(Arc<ApproveFn>);

impl FnApprover {
    /// Approves when `f` returns true.
    pub fn new(f: impl Fn(&ApprovalRequest) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl fmt::Debug for FnApprover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnApprover")
    }
}

#[async_trait]
impl Approver for FnApprover {
    async fn approve(&self, request: &ApprovalRequest) -> bool {
        (self.0)(request)
    }
}

/// What a task produced: the `.finished` event's status, result, message and task property.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskOutcome {
    /// `succeeded` or `errored`.
    pub status: Status,
    /// `pass`, `warning` or `fail`.
    pub result: Verdict,
    /// A one-line message.
    pub message: String,
    /// The data under the task's name in the `.finished` event (may be `null`).
    pub data: Value,
}

impl TaskOutcome {
    /// `succeeded` / `pass` with `data`.
    pub fn pass(data: Value) -> Self {
        Self {
            status: Status::Succeeded,
            result: Verdict::Pass,
            message: String::new(),
            data,
        }
    }

    /// `succeeded` / `fail` with a message.
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            status: Status::Succeeded,
            result: Verdict::Fail,
            message: message.into(),
            data: Value::Null,
        }
    }

    /// `errored` / `fail` with a message.
    pub fn errored(message: impl Into<String>) -> Self {
        Self {
            status: Status::Errored,
            result: Verdict::Fail,
            message: message.into(),
            data: Value::Null,
        }
    }

    /// Sets the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Sets the data.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// Runs a custom task of a shipyard sequence (any task name Keptn gives no meaning to, or a
/// reserved one you want to take over).
#[async_trait]
pub trait TaskHandler: Send + Sync + fmt::Debug {
    /// Runs the task with the merged `.triggered` data (`data[<task name>]` holds its
    /// properties).
    ///
    /// # Errors
    /// The task could not run; the sequence reports it as `errored`.
    async fn run(&self, target: &StageService, data: &Value) -> Result<TaskOutcome>;
}
