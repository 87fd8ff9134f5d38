//! Keptn 1.4.5's REST API over a [`ControlPlane`] (feature `http`): the api-service at
//! `/api/v1`, the shipyard-controller at `/api/controlPlane/v1`, the mongodb-datastore at
//! `/api/mongodb-datastore` and the resource-service at `/api/resource-service/v1`, each at
//! the mount point Keptn's API gateway used, with Keptn's bodies and its error body
//! `{"code": N, "message": "..."}`.
//!
//! Every operation needs the `x-token` header (compared in constant time). Request bodies are
//! limited to [`ApiConfig::body_limit`] bytes; pages hold at most [`MAX_PAGE_SIZE`] items.
//! Remote executors poll `GET /api/controlPlane/v1/event/triggered/<task>.triggered`: a task
//! handed out is leased to that poller for [`ApiConfig::task_lease`] and is not handed out
//! again before the lease ends or the server restarts. Monitoring tools post their own problem
//! notifications to [`ProblemWebhook`] paths ([`ApiConfig::problem_webhook`]).

mod api;
mod control;
mod error;
mod openapi;
mod paging;
mod resources;
mod sequences;
mod stages;
mod webhook;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use keptn_spec::event::EventId;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use webhook::{ProblemConverter, ProblemWebhook};

use crate::ControlPlane;

/// The most items one page of any list holds (and the default page size of event queries is 20).
pub const MAX_PAGE_SIZE: usize = 100;

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The API token clients send as `x-token`. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// A token; surrounding whitespace (a trailing newline of a token file) is dropped.
    ///
    /// # Errors
    /// [`ApiError`] (400) when the token is empty.
    pub fn new(token: impl AsRef<str>) -> Result<Self, ApiError> {
        let token = token.as_ref().trim();
        if token.is_empty() {
            return Err(ApiError::bad_request("the API token is empty"));
        }
        Ok(Self(token.to_owned()))
    }

    /// Whether `candidate` is this token, compared in time independent of where they differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = u8::from(expected.len() != candidate.len());
        for (i, e) in expected.iter().enumerate() {
            diff |= e ^ candidate.get(i).copied().unwrap_or(!e);
        }
        diff == 0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// How the API behaves: its token, body limit, task lease and problem webhooks.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    token: ApiToken,
    body_limit: usize,
    task_lease: Duration,
    webhooks: Vec<ProblemWebhook>,
}

impl ApiConfig {
    /// A configuration with `token`, a [`DEFAULT_BODY_LIMIT`] and a 120-second task lease.
    pub fn new(token: ApiToken) -> Self {
        Self {
            token,
            body_limit: DEFAULT_BODY_LIMIT,
            task_lease: crate::DEFAULT_TASK_START_TIMEOUT,
            webhooks: Vec::new(),
        }
    }

    /// Also serves `hook`: `POST <path>` with a monitoring tool's problem notification. Like
    /// every operation it needs the token, which a webhook may also send as
    /// `Authorization: Bearer <token>` (what Alertmanager's `credentials_file` sends).
    #[must_use]
    pub fn problem_webhook(mut self, hook: ProblemWebhook) -> Self {
        self.webhooks.push(hook);
        self
    }

    /// Refuses request bodies over `bytes` with 413.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a `.triggered` task handed to one poller is withheld from others.
    #[must_use]
    pub fn task_lease(mut self, lease: Duration) -> Self {
        self.task_lease = lease;
        self
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub(crate) plane: ControlPlane,
    pub(crate) config: Arc<ApiConfig>,
    /// `.triggered` ids handed to a poller, with when the lease ends.
    pub(crate) leases: Arc<Mutex<HashMap<EventId, Instant>>>,
}

impl ApiState {
    /// Leases `id` to the caller unless someone holds an unexpired lease on it.
    pub(crate) fn lease(&self, id: &EventId) -> bool {
        let now = Instant::now();
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        leases.retain(|_, until| *until > now);
        if leases.contains_key(id) {
            return false;
        }
        leases.insert(id.clone(), now + self.config.task_lease);
        true
    }
}

/// The Keptn API over `plane` as an axum router (mount it at `/`).
pub fn router(plane: ControlPlane, config: ApiConfig) -> Router {
    let limit = config.body_limit;
    let hooks = config.webhooks.clone();
    let state = ApiState {
        plane,
        config: Arc::new(config),
        leases: Arc::default(),
    };
    let mut router = Router::new();
    for hook in hooks {
        let path = hook.path().to_owned();
        router = router.route(
            &path,
            axum::routing::post(move |state, body| webhook::receive(hook, state, body)),
        );
    }
    router
        .nest("/api/v1", api::routes())
        .nest("/api/mongodb-datastore", api::datastore_routes())
        .nest("/api/controlPlane/v1", control::routes())
        .nest("/api/resource-service/v1", resources::routes())
        .route("/api/openapi.json", axum::routing::get(openapi::document))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then finishes open requests.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: TcpListener,
    plane: ControlPlane,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(plane, config))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let token = &state.config.token;
    let ok = headers
        .get("x-token")
        .is_some_and(|v| token.matches(v.as_bytes()))
        || state
            .config
            .webhooks
            .iter()
            .any(|h| h.serves(request.uri().path()))
            && headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
                .is_some_and(|v| token.matches(v));
    if ok {
        next.run(request).await
    } else {
        use axum::response::IntoResponse;
        ApiError::new(StatusCode::UNAUTHORIZED, "missing or invalid x-token").into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such operation")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the exact token matches; shorter, longer and different ones do not.
    #[test]
    fn token_compare() {
        let t = ApiToken::new("s3cret\n").unwrap();
        assert!(t.matches(b"s3cret"));
        for bad in [&b""[..], b"s3cre", b"s3cret!", b"S3cret"] {
            assert!(!t.matches(bad));
        }
        assert_eq!(format!("{t:?}"), "ApiToken(***)");
        assert!(ApiToken::new(" \n").is_err());
    }
}
