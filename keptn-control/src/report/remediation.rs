//! What the control plane's `remediation` sequences did about one problem: the sequences of
//! the problem's context and the actions they ran, with the remediation's status.

use std::fmt;
use std::time::Duration;

use keptn_spec::event::{KeptnContext, Verdict};

use super::{ActionRun, RecordedAction};
use crate::{ControlPlane, Result, SequenceOutcome, SequenceState};

/// Where the remediation of one problem ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemediationStatus {
    /// No remediation sequence ran, or one still runs.
    Unfinished,
    /// The problem closed and the last remediation sequence finished with `pass`.
    Resolved,
    /// The last remediation sequence ended otherwise (or passed while the problem stayed
    /// open).
    Ended {
        /// Its result.
        result: Verdict,
        /// Its message.
        message: String,
    },
}

impl fmt::Display for RemediationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unfinished => f.write_str("unfinished"),
            Self::Resolved => f.write_str("resolved"),
            Self::Ended { result, message } => write!(f, "{result} ({message})"),
        }
    }
}

/// The remediation sequences of one problem and the actions they ran.
#[derive(Debug, Clone, Default)]
pub struct RemediationOutcome {
    /// The remediation sequences of the problem's context, oldest first.
    pub sequences: Vec<SequenceOutcome>,
    /// The actions they ran, as the actions reported them.
    pub actions: Vec<ActionRun>,
}

impl RemediationOutcome {
    /// Reads the remediation of problem `pid` (its context is
    /// [`KeptnContext::from_ingress`]`(pid)`): waits up to `wait` for its sequences to be over
    /// (the problem's closing event finishes them), else takes them as they are; the actions
    /// are `recorded`'s runs for the problem.
    ///
    /// # Errors
    /// Store errors.
    pub async fn read<A>(
        plane: &ControlPlane,
        pid: &str,
        recorded: &RecordedAction<A>,
        wait: Duration,
    ) -> Result<Self> {
        let context = KeptnContext::from_ingress(pid);
        let sequences = match plane.wait(context, wait).await {
            Ok(done) => done,
            Err(_) => plane.outcomes(context).await?,
        };
        Ok(Self {
            sequences,
            actions: recorded.runs(pid),
        })
    }

    /// The status, given whether the problem has `closed`.
    pub fn status(&self, closed: bool) -> RemediationStatus {
        match self.sequences.last() {
            None => RemediationStatus::Unfinished,
            Some(s) if !s.state.is_done() => RemediationStatus::Unfinished,
            Some(s)
                if s.state == SequenceState::Finished && s.result == Verdict::Pass && closed =>
            {
                RemediationStatus::Resolved
            }
            Some(s) => RemediationStatus::Ended {
                result: s.result,
                message: s.message.clone(),
            },
        }
    }

    /// The Keptn context of the first remediation sequence.
    pub fn context(&self) -> Option<KeptnContext> {
        self.sequences.first().map(|s| s.context)
    }
}
