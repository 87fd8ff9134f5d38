//! Problem intake at webhook paths the operator chooses: a monitoring tool's own notification
//! (Dynatrace's problem notification, Alertmanager's webhook) is turned into a Keptn problem
//! event by a converter the application provides, and sent on as `POST /api/v1/event` would.

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use keptn_spec::event::{EventType, KeptnEvent};
use serde_json::{Value, json};

use super::ApiState;
use super::api::send_logged;
use super::error::ApiError;

/// Turns the body of a problem webhook into the Keptn problem event it reports
/// (`sh.keptn.event.problem.open` to open, `sh.keptn.events.problem` with a resolved or closed
/// state to close), or says what is wrong with the body.
pub type ProblemConverter = dyn Fn(&str) -> Result<KeptnEvent, String> + Send + Sync;

/// A webhook path and the converter of what arrives there.
#[derive(Clone)]
pub struct ProblemWebhook {
    path: String,
    convert: Arc<ProblemConverter>,
}

impl fmt::Debug for ProblemWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProblemWebhook")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ProblemWebhook {
    /// Serves `POST <path>` with `convert`.
    ///
    /// # Errors
    /// 400 when `path` does not start with `/`, has empty, `.` or `..` segments, characters
    /// other than ASCII letters, digits, `-`, `_`, `.` and `/`, or lies under `/api/v1`,
    /// `/api/controlPlane`, `/api/mongodb-datastore`, `/api/resource-service` or is
    /// `/api/openapi.json` (the API's own paths).
    pub fn new(
        path: impl Into<String>,
        convert: impl Fn(&str) -> Result<KeptnEvent, String> + Send + Sync + 'static,
    ) -> Result<Self, ApiError> {
        let path = path.into();
        let bad = |why: &str| {
            Err(ApiError::bad_request(format!(
                "webhook path `{}` {why}",
                path.escape_debug()
            )))
        };
        let Some(rest) = path.strip_prefix('/') else {
            return bad("must start with `/`");
        };
        if rest
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return bad("has an empty, `.` or `..` segment");
        }
        if !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        {
            return bad("may only hold ASCII letters, digits, `-`, `_`, `.` and `/`");
        }
        let taken = [
            "/api/v1/",
            "/api/controlPlane/",
            "/api/mongodb-datastore/",
            "/api/resource-service/",
        ];
        if path == "/api/openapi.json" || taken.iter().any(|t| format!("{path}/").starts_with(t)) {
            return bad("is one of the API's own paths");
        }
        Ok(Self {
            path,
            convert: Arc::new(convert),
        })
    }

    /// The path served.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether `path` is this webhook's.
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.path == path
    }

    /// The problem event of `body`.
    fn event(&self, body: Result<Bytes, BytesRejection>) -> Result<KeptnEvent, ApiError> {
        let body = body?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("the webhook body is not UTF-8 text"))?;
        let event = (self.convert)(text).map_err(|e| {
            ApiError::bad_request(format!("the body at {} is not a problem: {e}", self.path))
        })?;
        if !matches!(event.ty, EventType::ProblemOpen | EventType::Problem) {
            return Err(ApiError::bad_request(format!(
                "the body at {} converts to `{}`, not a problem event",
                self.path, event.ty
            )));
        }
        Ok(event)
    }
}

/// `POST <webhook path>`: converts the body and sends the problem event on; answers
/// `{"keptnContext", "token"}` as `POST /api/v1/event` does.
pub(super) async fn receive(
    hook: ProblemWebhook,
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let event = hook.event(body)?;
    let id = event.id.clone();
    let context = send_logged(&state, event).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"keptnContext": context, "token": id.to_string()})),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &str) -> Result<KeptnEvent, String> {
        Err("unused".to_owned())
    }

    /// Webhook paths are plain absolute paths outside the API's own.
    #[test]
    fn webhook_paths() {
        for good in [
            "/problems/dynatrace",
            "/api/alertmanager",
            "/hooks/am_v4.json",
        ] {
            assert_eq!(ProblemWebhook::new(good, never).unwrap().path(), good);
        }
        for bad in [
            "problems",
            "/",
            "/a//b",
            "/a/../b",
            "/a b",
            "/api/v1/event",
            "/api/v1",
            "/api/controlPlane/v1/x",
            "/api/openapi.json",
        ] {
            let e = ProblemWebhook::new(bad, never).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.contains("webhook path"), "{e}");
        }
    }
}
