//! The error type of `keptn-prometheus`.

use std::time::Duration;

/// Errors from the Prometheus client, the SLI provider, the monitoring set-up and the
/// Alertmanager webhook parser.
///
/// No variant ever contains a credential: the token or password travels only in the
/// `Authorization` header, and transport errors are stripped of their URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is invalid (URL, credentials, HTTP client set-up).
    #[error("invalid Prometheus client configuration: {message}")]
    Config {
        /// What is wrong and what was expected.
        message: String,
    },
    /// The request could not be sent or its answer not read (connection refused, timeout of one
    /// attempt).
    #[error("request to Prometheus {endpoint} failed{}", transport_hint(*.timeout, *.connect))]
    Transport {
        /// The API path, such as `/api/v1/query`.
        endpoint: String,
        /// The attempt timed out.
        timeout: bool,
        /// The connection could not be established.
        connect: bool,
        /// The underlying error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus rejected or could not run a query: its `errorType` and `error` (HTTP 400
    /// `bad_data` for a syntax error, 422 `execution`, 503 `timeout`, …).
    #[error("Prometheus {endpoint} answered {status} ({error_type}): {message}")]
    Query {
        /// The API path.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// Prometheus' `errorType`, such as `bad_data`.
        error_type: String,
        /// Prometheus' `error` text.
        message: String,
    },
    /// A non-success status without Prometheus' error envelope (a proxy's 401, a 502 …).
    #[error("Prometheus {endpoint} answered {status}: {message}")]
    Status {
        /// The API path.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the body.
        message: String,
    },
    /// The whole call, retries included, did not finish within the client's total timeout.
    #[error("Prometheus {endpoint} gave no answer within {budget:?} (after {attempts} attempt(s))")]
    Deadline {
        /// The API path.
        endpoint: String,
        /// The total time budget that ran out.
        budget: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A success answer did not have the documented shape.
    #[error("unexpected answer from Prometheus {endpoint}: {message}")]
    Decode {
        /// The API path.
        endpoint: String,
        /// What could not be read.
        message: String,
    },
    /// One SLI could not be measured (unknown SLI, empty vector, several series, NaN …). The
    /// provider turns these into failed SLI values.
    #[error("SLI `{sli}`: {message}")]
    Sli {
        /// The SLI name.
        sli: String,
        /// What went wrong, and what to do about it.
        message: String,
    },
    /// An Alertmanager webhook payload could not be read or turned into problem events.
    #[error("invalid Alertmanager webhook payload: {message}")]
    Alert {
        /// Which field is wrong and what was expected.
        message: String,
    },
    /// Alert rules or the Alertmanager configuration could not be generated or written.
    #[error("monitoring set-up: {message}")]
    Setup {
        /// What went wrong.
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
    /// `429`, `5xx` answers and Prometheus' own `timeout`/`unavailable` errors are transient;
    /// bad queries and authentication failures are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport {
                timeout, connect, ..
            } => *timeout || *connect,
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            Error::Query {
                status, error_type, ..
            } => *status == 503 || error_type == "timeout" || error_type == "unavailable",
            Error::Deadline { .. } => true,
            Error::Config { .. }
            | Error::Decode { .. }
            | Error::Sli { .. }
            | Error::Alert { .. }
            | Error::Setup { .. } => false,
        }
    }

    /// Whether the server rejected the credentials (`401`) or the access (`403`).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::Status {
                status: 401 | 403,
                ..
            } | Error::Query {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Whether Prometheus could not be reached at all (connection, timeouts, deadline).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::Deadline { .. })
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
