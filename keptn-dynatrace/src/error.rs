//! The error type of `keptn-dynatrace`.

use std::time::Duration;

/// Errors from the Dynatrace client, the SLI provider, the monitoring set-up and the problem
/// parser.
///
/// No variant ever contains the API token: it travels only in the `Authorization` header, and
/// transport errors are stripped of their URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is invalid (tenant URL, missing token, HTTP client set-up).
    #[error("invalid Dynatrace client configuration: {message}")]
    Config {
        /// What is wrong and what was expected.
        message: String,
    },
    /// The request could not be sent or its answer not read (connection refused, DNS,
    /// timeout of one attempt).
    #[error("request to Dynatrace {method} {endpoint} failed{}", transport_hint(*.timeout, *.connect))]
    Transport {
        /// The HTTP method.
        method: String,
        /// The API path, such as `/api/v2/metrics/query`.
        endpoint: String,
        /// The attempt timed out.
        timeout: bool,
        /// The connection could not be established.
        connect: bool,
        /// The underlying error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// Dynatrace answered with a non-success status; `message` is Dynatrace's own
    /// `error.message` when the body had the published `{"error":{"code","message"}}` shape.
    #[error("Dynatrace {method} {endpoint} answered {status}: {message}")]
    Status {
        /// The HTTP method.
        method: String,
        /// The API path.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// Dynatrace's error message (or the start of the body when it was not the error shape).
        message: String,
        /// The `Retry-After` the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The whole call, retries included, did not finish within the client's total timeout.
    #[error(
        "Dynatrace {method} {endpoint} gave no answer within {budget:?} (after {attempts} attempt(s))"
    )]
    Deadline {
        /// The HTTP method.
        method: String,
        /// The API path.
        endpoint: String,
        /// The total time budget that ran out.
        budget: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A success answer did not have the documented shape.
    #[error("unexpected answer from Dynatrace {endpoint}: {message}")]
    Decode {
        /// The API path.
        endpoint: String,
        /// What could not be read.
        message: String,
    },
    /// An SLI query could not be understood or answered (no metricSelector, unsupported prefix,
    /// no data, several series …). The provider turns these into failed SLI values.
    #[error("SLI `{sli}`: {message}")]
    Sli {
        /// The SLI name.
        sli: String,
        /// What went wrong, and what to do about it.
        message: String,
    },
    /// A metric data point could not be built (invalid metric or dimension key, non-finite
    /// value).
    #[error("invalid metric line: {message}")]
    MetricLine {
        /// What is wrong and what was expected.
        message: String,
    },
    /// A problem-notification payload could not be read.
    #[error("invalid Dynatrace problem notification: {message}")]
    Problem {
        /// Which field is wrong and what was expected.
        message: String,
    },
}

fn transport_hint(timeout: bool, connect: bool) -> &'static str {
    match (timeout, connect) {
        (true, _) => " (timed out)",
        (_, true) => " (could not connect)",
        _ => "",
    }
}

impl Error {
    /// Whether retrying the same request later may succeed: connection failures, timeouts,
    /// `429 Too Many Requests` and `5xx` answers are transient; bad input, authentication and
    /// `4xx` answers are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport {
                timeout, connect, ..
            } => *timeout || *connect,
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            Error::Deadline { .. } => true,
            Error::Config { .. }
            | Error::Decode { .. }
            | Error::Sli { .. }
            | Error::MetricLine { .. }
            | Error::Problem { .. } => false,
        }
    }

    /// Whether Dynatrace rejected the API token (`401`) or its scopes (`403`).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::Status {
                status: 401 | 403,
                ..
            }
        )
    }

    pub(crate) fn sli(sli: &str, message: impl Into<String>) -> Self {
        Error::Sli {
            sli: sli.to_owned(),
            message: message.into(),
        }
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
