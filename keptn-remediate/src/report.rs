//! What one step of a remediation reports, and the source name of the workflow's events: the
//! pieces the workflow, its verifiers and the problem notifications share.

use chrono::{DateTime, Utc};
use keptn_spec::remediation::ActionSpec;
use serde::Serialize;

use crate::action::ActionOutcome;

/// The `source` of the events the workflow emits.
pub const EVENT_SOURCE: &str = "keptn-remediate";

/// What a verification after a step decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VerificationReport {
    /// The verifier's name.
    pub verifier: String,
    /// Whether the problem is resolved.
    pub resolved: bool,
    /// Why (also the error, when the verifier could not answer).
    pub reason: String,
}

/// One step of a remediation: the action from the file, its outcome and the verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StepReport {
    /// The step's index in the remediation's action list.
    pub index: usize,
    /// The step from the file.
    pub step: ActionSpec,
    /// What the action did.
    pub outcome: ActionOutcome,
    /// When the action started.
    pub started_at: DateTime<Utc>,
    /// How long the action took, in milliseconds.
    pub action_ms: u64,
    /// The verification after the step (none after a failed action or in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationReport>,
}
