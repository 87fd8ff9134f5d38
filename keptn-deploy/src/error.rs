//! The error type of `keptn-deploy`.

use std::path::PathBuf;
use std::time::Duration;

use crate::StageService;

/// Errors from deployers and test runners.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request or configuration value is invalid.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// Which input (`image`, `port`, `template`, …).
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A manifest file of a service template could not be used.
    #[error("{}: {message}", .path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column when the YAML is malformed).
        message: String,
    },
    /// A file could not be read or written.
    #[error("cannot access {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A Kubernetes API call failed.
    #[cfg(feature = "kube")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
    #[error("kubernetes: cannot {action}")]
    Kubernetes {
        /// What was being attempted (`apply Deployment sockshop-staging/carts`, …).
        action: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// A rollout failed; when `rolled_back` is true the serving version is untouched.
    #[error("rollout of {object} failed: {reason}{}", rolled_back_note(*.rolled_back))]
    RolloutFailed {
        /// What was rolled out (`Deployment sockshop-staging/carts`).
        object: String,
        /// Why, as the backend reported it.
        reason: String,
        /// Whether the failed version was rolled back.
        rolled_back: bool,
    },
    /// A rollout did not become ready in time; when `rolled_back` is true the serving version is
    /// untouched.
    #[error("rollout of {object} not ready after {timeout:?}: {last_state}{}", rolled_back_note(*.rolled_back))]
    RolloutTimedOut {
        /// What was rolled out.
        object: String,
        /// The timeout that expired.
        timeout: Duration,
        /// The last observed state.
        last_state: String,
        /// Whether the failed version was rolled back.
        rolled_back: bool,
    },
    /// Promote was asked but no canary is pending.
    #[error("{target} has no pending canary to promote")]
    NoCanary {
        /// The service.
        target: StageService,
    },
    /// The service is not deployed in that stage.
    #[error("{target} is not deployed")]
    NotDeployed {
        /// The service.
        target: StageService,
    },
    /// The deployer does not offer this operation (a [`Deployer`](crate::Deployer) that left
    /// the method's default in place). Nothing was changed.
    #[error("deployer `{deployer}` does not support {operation}: {reason}")]
    Unsupported {
        /// The deployer's [`name`](crate::Deployer::name).
        deployer: String,
        /// The operation (`promote`, `rollback`, `scale`).
        operation: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A test run could not be carried out (this is not a failed test: that is a report with
    /// result `fail`).
    #[error("test run failed to execute: {message}")]
    Test {
        /// What went wrong.
        message: String,
    },
    /// A backend (deployer, test runner, gate, task handler) reported a failure.
    #[error("{backend}: {message}")]
    Backend {
        /// Which backend.
        backend: String,
        /// What went wrong.
        message: String,
    },
}

fn rolled_back_note(rolled_back: bool) -> &'static str {
    if rolled_back {
        " (rolled back; the serving version is untouched)"
    } else {
        ""
    }
}

impl Error {
    /// An [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Backend`].
    pub fn backend(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Backend {
            backend: backend.into(),
            message: message.into(),
        }
    }

    /// Whether this is a failed or timed-out rollout.
    pub fn is_rollout_failure(&self) -> bool {
        matches!(
            self,
            Self::RolloutFailed { .. } | Self::RolloutTimedOut { .. }
        )
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
