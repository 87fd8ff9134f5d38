//! Verification: after an action, is the problem resolved?

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keptn_spec::Problem;
use serde::Serialize;
use tokio::sync::watch;

use crate::report::StepReport;

/// The answer of a [`Verifier`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verification {
    /// The problem is resolved; the reason says how this was established.
    Resolved(String),
    /// The problem is not (yet) resolved; the reason says why.
    Unresolved(String),
}

impl Verification {
    /// Whether the problem is resolved.
    pub fn is_resolved(&self) -> bool {
        matches!(self, Self::Resolved(_))
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        match self {
            Self::Resolved(r) | Self::Unresolved(r) => r,
        }
    }
}

/// Why a verification could not be made (the workflow treats it as unresolved: a problem is
/// never declared resolved on missing or failed data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("verification by {verifier} failed: {message}")]
#[non_exhaustive]
pub struct VerifyError {
    /// The verifier's name.
    pub verifier: String,
    /// What went wrong.
    pub message: String,
}

impl VerifyError {
    /// A verification failure.
    pub fn new(verifier: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            verifier: verifier.into(),
            message: message.into(),
        }
    }
}

/// Tells whether the monitoring tool reported the problem as resolved (its RESOLVED/CLOSED
/// notification arrived). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ResolvedSignal {
    rx: watch::Receiver<bool>,
}

impl ResolvedSignal {
    /// A signal and the sender that sets it.
    pub fn channel() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self { rx })
    }

    pub(crate) fn from_sender(tx: &watch::Sender<bool>) -> Self {
        Self { rx: tx.subscribe() }
    }

    /// Whether the RESOLVED notification has arrived.
    pub fn is_resolved(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until the RESOLVED notification arrives (forever if it never does, or if the
    /// sender is gone without sending it).
    pub async fn wait(&mut self) {
        if self.rx.wait_for(|resolved| *resolved).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Waits at most `limit` for the RESOLVED notification and tells whether it arrived. A
    /// zero limit answers at once (a zero tokio timer would still wait for its next 1 ms tick).
    pub async fn wait_at_most(&mut self, limit: Duration) -> bool {
        if self.is_resolved() || limit.is_zero() {
            return self.is_resolved();
        }
        tokio::time::timeout(limit, self.wait()).await.is_ok()
    }
}

/// What a [`Verifier`] gets: the problem, the steps run so far and the window since the last
/// action.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyRequest<'a> {
    /// The problem.
    pub problem: &'a Problem,
    /// Every step run so far, the last one being the action just run.
    pub steps: &'a [StepReport],
    /// When the last action finished (start of the evaluation window).
    pub window_start: DateTime<Utc>,
    /// Now (end of the evaluation window).
    pub window_end: DateTime<Utc>,
    /// Whether the problem's RESOLVED notification arrived.
    pub resolved: ResolvedSignal,
}

/// Decides whether a problem is resolved after an action ran.
///
/// Implementations: [`ResolvedEventVerifier`] (the monitoring tool said so),
/// [`QualityGateVerifier`](crate::QualityGateVerifier) (re-evaluate the stage's SLO, as Keptn
/// does), [`FlagStateVerifier`](crate::unleash::FlagStateVerifier) (read the flags back).
/// Contract: never return [`Verification::Resolved`] on missing or failed data; return
/// [`VerifyError`] when no answer could be had; bound your own time.
///
/// Implementing it (with the re-exported [`async_trait`](crate::async_trait)):
///
/// ```
/// use keptn_remediate::{Verification, Verifier, VerifyError, VerifyRequest, async_trait};
///
/// /// Never convinced: every action is followed by the next one.
/// #[derive(Debug)]
/// struct Sceptic;
///
/// #[async_trait]
/// impl Verifier for Sceptic {
///     fn name(&self) -> &str {
///         "sceptic"
///     }
///     async fn verify(&self, request: &VerifyRequest<'_>) -> Result<Verification, VerifyError> {
///         Ok(Verification::Unresolved(format!("{} still open", request.problem.title)))
///     }
/// }
///
/// let verifier: Box<dyn Verifier> = Box::new(Sceptic);
/// assert_eq!(verifier.name(), "sceptic");
/// ```
#[async_trait]
pub trait Verifier: Send + Sync + fmt::Debug {
    /// A short name for reports, such as `quality-gate`.
    fn name(&self) -> &str;

    /// Decides whether the problem is resolved.
    ///
    /// # Errors
    /// [`VerifyError`] when no decision could be made.
    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<Verification, VerifyError>;
}

/// Resolved when the monitoring tool's RESOLVED notification arrives within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedEventVerifier {
    timeout: Duration,
}

impl ResolvedEventVerifier {
    /// Waits up to `timeout` for the RESOLVED notification.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

#[async_trait]
impl Verifier for ResolvedEventVerifier {
    fn name(&self) -> &str {
        "resolved-event"
    }

    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<Verification, VerifyError> {
        let mut signal = request.resolved.clone();
        Ok(if signal.wait_at_most(self.timeout).await {
            Verification::Resolved("the problem's RESOLVED notification arrived".to_owned())
        } else {
            Verification::Unresolved(format!(
                "no RESOLVED notification within {:?}",
                self.timeout
            ))
        })
    }
}

/// Resolved when the stage's SLO passes again: re-evaluates the window since the last action
/// through a [`keptn_slo::QualityGate`], as Keptn's remediation loop did (`evaluation.triggered`
/// with `start = now − wait`, `end = now`; pass or warning means resolved).
///
/// A gate that could not evaluate (provider error, missing SLIs: `status: errored`) never counts
/// as resolved. Each evaluation is recorded in the gate's history under
/// `remediation-{pid}-{step}`.
#[derive(Debug, Clone)]
pub struct QualityGateVerifier {
    gate: keptn_slo::QualityGate,
    slo: keptn_spec::Slo,
    deployment: Option<String>,
}

impl QualityGateVerifier {
    /// Re-evaluates `slo` through `gate`.
    pub fn new(gate: keptn_slo::QualityGate, slo: keptn_spec::Slo) -> Self {
        Self {
            gate,
            slo,
            deployment: None,
        }
    }

    /// Sets the deployment to measure (such as `primary`); Keptn's remediation evaluations
    /// named none.
    #[must_use]
    pub fn with_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }
}

#[async_trait]
impl Verifier for QualityGateVerifier {
    fn name(&self) -> &str {
        "quality-gate"
    }

    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<Verification, VerifyError> {
        use keptn_spec::Verdict;
        let problem = request.problem;
        let Some(service) = &problem.service else {
            return Err(VerifyError::new(
                self.name(),
                "the problem names no service, so there is no SLO to evaluate",
            ));
        };
        let mut query = keptn_slo::SliQuery::new(
            problem.project.clone(),
            problem.stage.clone(),
            service.clone(),
            request.window_start,
            request.window_end,
            self.slo.indicators(),
        );
        if let Some(d) = &self.deployment {
            query = query.with_deployment(d.clone());
        }
        let ctx = keptn_slo::EvaluationContext::new(
            problem.project.clone(),
            problem.stage.clone(),
            service.clone(),
        );
        let id = format!("remediation-{}-{}", problem.pid, request.steps.len());
        let evaluation = match self.gate.evaluate(Some(&self.slo), &query, &ctx, id).await {
            Ok(e) => e,
            // Recorded or not, the verdict stands.
            Err(e) => *e.evaluation,
        };
        let status = evaluation.status();
        let verdict = evaluation.verdict();
        let score = evaluation.score();
        let message = &evaluation.data.message;
        if status != keptn_spec::event::Status::Succeeded {
            return Ok(Verification::Unresolved(format!(
                "the quality gate could not evaluate (status {status}): {message}"
            )));
        }
        Ok(match verdict {
            Verdict::Pass | Verdict::Warning => {
                Verification::Resolved(format!("quality gate {verdict} with score {score:.1}"))
            }
            Verdict::Fail => Verification::Unresolved(format!(
                "quality gate fail with score {score:.1}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            )),
        })
    }
}
