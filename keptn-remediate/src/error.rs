//! The error type of `keptn-remediate`.

use std::fmt;

/// One problem found when a remediation file is checked against an [`ActionRegistry`]: an
/// action that is not registered, or a value the action cannot use.
///
/// [`ActionRegistry`]: crate::ActionRegistry
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionIssue {
    /// Where the action is in the file, such as `spec.remediations[1].actionsOnOpen[0]`.
    pub path: String,
    /// The action name as written.
    pub action: String,
    /// What is wrong and what was expected.
    pub reason: String,
}

impl fmt::Display for ActionIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: action `{}`: {}",
            self.path, self.action, self.reason
        )
    }
}

/// Errors from this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A remediation file names actions that are not registered, or gives them values they
    /// cannot use. Reported when the file is loaded, never when a problem arrives.
    #[error("remediation file {} is not usable: {}", .file.as_deref().unwrap_or("(unnamed)"), join_issues(.issues))]
    InvalidRemediation {
        /// The file name or resource the remediation came from, when known.
        file: Option<String>,
        /// Every issue found, in file order.
        issues: Vec<ActionIssue>,
    },
    /// A remediation file could not be parsed.
    #[error("cannot read remediation file {}", .file.as_deref().unwrap_or("(unnamed)"))]
    Parse {
        /// The file name, when known.
        file: Option<String>,
        /// The located parse error.
        #[source]
        source: keptn_spec::Error,
    },
    /// A problem event cannot be remediated: its data does not parse or lacks the problem's
    /// title, project or stage.
    #[error("problem event {event_id} cannot be remediated: {message}")]
    InvalidProblem {
        /// The event's id.
        event_id: String,
        /// What is missing or wrong.
        message: String,
    },
    /// A client or action was configured wrongly (bad URL, missing token, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The HTTP request to Unleash could not be sent or its answer not read.
    #[cfg(feature = "unleash")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unleash")))]
    #[error("request to Unleash {endpoint} failed")]
    Transport {
        /// What was requested, such as `POST /api/admin/projects/default/features/x/environments/production/off`.
        endpoint: String,
        /// The underlying error (its URL carries no credentials: tokens travel in headers).
        #[source]
        source: reqwest::Error,
    },
    /// Unleash answered with a non-success status.
    #[cfg(feature = "unleash")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unleash")))]
    #[error("Unleash {endpoint} answered {status}: {message}")]
    Status {
        /// What was requested.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// Unleash's error message, or the start of the body.
        message: String,
    },
    /// The feature flag does not exist (in this project).
    #[cfg(feature = "unleash")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unleash")))]
    #[error("feature flag `{flag}` not found in Unleash project `{project}`: {message}")]
    FlagNotFound {
        /// The flag name.
        flag: String,
        /// The Unleash project searched (`default` for the legacy API).
        project: String,
        /// Unleash's message.
        message: String,
    },
}

fn join_issues(issues: &[ActionIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether retrying the same request may succeed: transport errors and the statuses the
    /// retry policy retries (408, 429, 5xx; see [`keptn_spec::retry::RetryPolicy::is_retryable`]).
    pub fn is_transient(&self) -> bool {
        match self {
            #[cfg(feature = "unleash")]
            Self::Transport { .. } => true,
            #[cfg(feature = "unleash")]
            Self::Status { status, .. } => keptn_spec::retry::RetryPolicy::is_retryable(
                keptn_spec::retry::Failure::Status(*status),
                keptn_spec::retry::RequestKind::Idempotent,
            ),
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
