//! Keptn's error body `{"code": N, "message": "..."}` and how crate errors map onto it.

use axum::Json;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Error;

/// An API failure: an HTTP status and a message, sent as Keptn's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(_) | Error::Event(_) => Self::bad_request(e.to_string()),
            Error::NotFound(_) => Self::not_found(e.to_string()),
            other => {
                tracing::error!("api: {other}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the control plane could not complete the request",
                )
            }
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        Self::new(e.status(), e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

/// Reads a JSON body into `T`: a body over the limit is 413, bad JSON is 400 naming the line,
/// column and field.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<bytes::Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::bad_request(format!("request body, field `{path}`: {inner}"))
    })
}

/// Parses a name (project, stage, service) from the path or body.
pub(crate) fn name<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| {
        // an overlong value is cut (the parse error says why it is wrong)
        let shown: String = value.chars().take(64).collect();
        let cut = if shown.len() < value.len() { "…" } else { "" };
        let message = format!("invalid {what} `{}{cut}`: {e}", shown.escape_debug());
        ApiError::bad_request(message.chars().take(1_000).collect::<String>())
    })
}
