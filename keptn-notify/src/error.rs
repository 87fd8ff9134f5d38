//! The error type of `keptn-notify`.

use std::path::PathBuf;
use std::time::Duration;

use keptn_spec::webhook::RenderError;

/// Errors from configuring notifications and from delivering them.
///
/// No variant ever contains a webhook URL, a token or a secret value: URLs of chat webhooks are
/// secrets themselves, so targets are named (`slack`, `teams`, `webhook 0123456987`) instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The webhook configuration file could not be read.
    #[error("cannot read webhook configuration {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The webhook configuration file is not a valid `webhook.yaml`.
    #[error("invalid webhook configuration {}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        #[source]
        source: keptn_spec::Error,
    },
    /// An `envFrom` secret could not be found.
    #[error(
        "webhook `{subscription_id}`: no value for `{{{{.env.{name}}}}}` (secret `{secret}`, key \
         `{key}`; looked for {looked_for})"
    )]
    MissingSecret {
        /// The webhook's `subscriptionID`.
        subscription_id: String,
        /// The variable name used in templates.
        name: String,
        /// The secret's name.
        secret: String,
        /// The key within the secret.
        key: String,
        /// Where the secret source looked (e.g. an environment variable name).
        looked_for: String,
    },
    /// A request has curl `options`, which keptn-notify cannot apply.
    #[error(
        "webhook `{subscription_id}`, request {request}: curl options `{options}` are not \
         supported; remove them"
    )]
    UnsupportedOptions {
        /// The webhook's `subscriptionID`.
        subscription_id: String,
        /// 1-based index of the request.
        request: usize,
        /// The options as written.
        options: String,
    },
    /// A URL is not an absolute `http`/`https` URL. The URL itself is not shown: it may be secret.
    #[error("{what} is not an absolute http(s) URL")]
    InvalidUrl {
        /// Which URL (e.g. `SLACK_WEBHOOK_URL`, `webhook 0123456987, request 1`).
        what: String,
    },
    /// A setting has a value outside what it accepts.
    #[error("invalid setting {setting}: {message}")]
    InvalidSetting {
        /// The setting (an environment variable or builder method).
        setting: String,
        /// What was expected.
        message: String,
    },
    /// [`NotifierBuilder::build`](crate::NotifierBuilder::build) was called outside a Tokio
    /// runtime, so the delivery tasks cannot start.
    #[error("keptn-notify needs a Tokio runtime to start its delivery tasks")]
    NoRuntime,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A request could not be sent (connection refused, TLS, …).
    #[error("sending to {target} failed")]
    Transport {
        /// The target's name.
        target: String,
        /// The cause (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// The receiver did not answer in time.
    #[error("{target} did not answer within {timeout:?}")]
    Timeout {
        /// The target's name.
        target: String,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The receiver answered with a non-success status.
    #[error("{target} answered HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The target's name.
        target: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, with secret values masked.
        body: String,
    },
    /// A webhook template could not be rendered for an event (the request was not sent).
    #[error("{target}, request {request}: cannot render the request for event {event_type}")]
    Render {
        /// The target's name.
        target: String,
        /// 1-based index of the request.
        request: usize,
        /// The event's type.
        event_type: String,
        /// Which field was missing.
        #[source]
        source: RenderError,
    },
    /// A rendered request is not valid HTTP (bad URL or header).
    #[error("{target}, request {request}: rendered {what} is not valid")]
    InvalidRequest {
        /// The target's name.
        target: String,
        /// 1-based index of the request.
        request: usize,
        /// `URL` or `header <name>`.
        what: String,
    },
    /// The request's host is loopback, link-local or cluster-internal (see
    /// [`NotifierBuilder::allow_internal_addresses`](crate::NotifierBuilder::allow_internal_addresses)).
    #[error(
        "{target}: refused to send: {reason} (loopback, link-local and cluster-internal hosts \
         are refused unless the notifier allows internal addresses)"
    )]
    RefusedAddress {
        /// The target's name.
        target: String,
        /// Which host or address, and what kind it is.
        reason: String,
    },
    /// Notifications were still queued or in flight when a shutdown's time ran out.
    #[error("{pending} notification(s) still pending after {waited:?}")]
    FlushTimeout {
        /// How many events had not been handled.
        pending: u64,
        /// How long the shutdown waited.
        waited: Duration,
    },
}

impl Error {
    /// Whether a retry of the same request may succeed (timeouts, connection errors, HTTP 408,
    /// 429 and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Status { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }
}

fn is_transient_status(status: u16) -> bool {
    use keptn_spec::retry::{Failure, RequestKind, RetryPolicy};
    RetryPolicy::is_retryable(Failure::Status(status), RequestKind::Idempotent)
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
