//! The flag store's HTTP API: authentication, Unleash's error answers, the client and admin
//! routes and the legacy Unleash 3 routes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use std::sync::PoisonError;

use super::{Flag, FlagStore, FlagStoreError, strategies};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Admin,
    /// A client token of this environment index.
    Client(usize),
}

/// An Unleash-style error answer: a status and `{"name", "message"}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"name": self.name, "message": self.message})),
        )
            .into_response()
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

fn error(status: StatusCode, name: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        name,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> ApiError {
    error(StatusCode::NOT_FOUND, "NotFoundError", message)
}

fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in input.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl FlagStore {
    fn access(&self, headers: &HeaderMap, legacy: bool) -> ApiResult<Access> {
        let Some(raw) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "you must provide an API token in the Authorization header",
            ));
        };
        let raw = raw.trim();
        let token = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
        if token == self.inner.admin_token.expose_secret() {
            return Ok(Access::Admin);
        }
        if legacy
            && let Some(b64) = raw.strip_prefix("Basic ")
            && let Some(decoded) = decode_base64(b64.trim())
            && let Ok(text) = String::from_utf8(decoded)
            && let Some((_, password)) = text.split_once(':')
            && password == self.inner.admin_token.expose_secret()
        {
            return Ok(Access::Admin);
        }
        for (i, env) in self.inner.environments.iter().enumerate() {
            if self
                .inner
                .client_tokens
                .get(env)
                .is_some_and(|t| t.expose_secret() == token)
            {
                return Ok(Access::Client(i));
            }
        }
        Err(error(
            StatusCode::UNAUTHORIZED,
            "NoAccessError",
            "invalid API token",
        ))
    }

    fn admin(&self, headers: &HeaderMap, legacy: bool) -> ApiResult<()> {
        match self.access(headers, legacy)? {
            Access::Admin => Ok(()),
            Access::Client(_) => Err(error(
                StatusCode::FORBIDDEN,
                "NoAccessError",
                "a client token cannot use the admin API",
            )),
        }
    }

    fn with_flag<T>(&self, project: &str, flag: &str, f: impl FnOnce(&Flag) -> T) -> ApiResult<T> {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let flags = state
            .get(project)
            .ok_or_else(|| not_found(format!("project `{project}` does not exist")))?;
        let found = flags.get(flag).ok_or_else(|| {
            not_found(format!(
                "could not find feature flag `{flag}` in project `{project}`"
            ))
        })?;
        Ok(f(found))
    }
}

fn store_error(e: &FlagStoreError) -> ApiError {
    match e {
        FlagStoreError::Exists(_) => error(StatusCode::CONFLICT, "NameExistsError", e.to_string()),
        FlagStoreError::InvalidName(_) => {
            error(StatusCode::BAD_REQUEST, "BadDataError", e.to_string())
        }
        _ => not_found(e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

fn require_body(body: Option<Json<CreateBody>>) -> ApiResult<CreateBody> {
    body.map(|Json(b)| b).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "BadDataError",
            "expected a JSON body with `name`",
        )
    })
}

pub(super) fn router(store: FlagStore) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"health": "GOOD"})) }))
        .route("/api/client/features", get(client_features))
        .route(
            "/api/admin/projects/{project}/features",
            get(list_features).post(create_feature),
        )
        .route(
            "/api/admin/projects/{project}/features/{flag}",
            get(get_feature),
        )
        .route(
            "/api/admin/projects/{project}/features/{flag}/environments/{env}",
            get(get_feature_env),
        )
        .route(
            "/api/admin/projects/{project}/features/{flag}/environments/{env}/{state}",
            post(switch_feature_env),
        )
        .route("/api/admin/features", post(legacy_create))
        .route("/api/admin/features/{flag}", get(legacy_get))
        .route(
            "/api/admin/features/{flag}/toggle/{state}",
            post(legacy_toggle),
        )
        .with_state(store)
}

async fn client_features(State(store): State<FlagStore>, headers: HeaderMap) -> ApiResult {
    let env_index = match store.access(&headers, false)? {
        Access::Client(i) => i,
        Access::Admin => store
            .inner
            .environments
            .iter()
            .position(|e| *e == store.inner.default_environment)
            .unwrap_or(0),
    };
    let env = &store.inner.environments[env_index];
    let state = store
        .inner
        .state
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let features: Vec<Value> = state
        .iter()
        .flat_map(|(project, flags)| {
            flags.values().map(move |f| {
                json!({
                    "name": f.name,
                    "type": f.kind,
                    "description": f.description,
                    "project": project,
                    "enabled": f.environments.get(env).copied().unwrap_or(false),
                    "stale": false,
                    "impressionData": false,
                    "strategies": strategies(),
                    "variants": [],
                })
            })
        })
        .collect();
    Ok(Json(
        json!({"version": 2, "features": features, "segments": [], "query": {"environment": env}}),
    )
    .into_response())
}

async fn list_features(
    State(store): State<FlagStore>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, false)?;
    let state = store
        .inner
        .state
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let flags = state
        .get(&project)
        .ok_or_else(|| not_found(format!("project `{project}` does not exist")))?;
    let features: Vec<Value> = flags
        .values()
        .map(|f| store.flag_json(&project, f))
        .collect();
    Ok(Json(json!({"version": 1, "features": features})).into_response())
}

async fn create_feature(
    State(store): State<FlagStore>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Option<Json<CreateBody>>,
) -> ApiResult {
    store.admin(&headers, false)?;
    let body = require_body(body)?;
    let kind = body.kind.as_deref().unwrap_or("release");
    store
        .create(
            &project,
            &body.name,
            body.description.as_deref().unwrap_or(""),
            kind,
        )
        .map_err(|e| store_error(&e))?;
    let v = store.with_flag(&project, &body.name, |f| store.flag_json(&project, f))?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn get_feature(
    State(store): State<FlagStore>,
    Path((project, flag)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, false)?;
    let v = store.with_flag(&project, &flag, |f| store.flag_json(&project, f))?;
    Ok(Json(v).into_response())
}

async fn get_feature_env(
    State(store): State<FlagStore>,
    Path((project, flag, env)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, false)?;
    let enabled = store
        .with_flag(&project, &flag, |f| f.environments.get(&env).copied())?
        .ok_or_else(|| not_found(format!("environment `{env}` does not exist")))?;
    Ok(Json(json!({
        "name": env,
        "environment": env,
        "featureName": flag,
        "type": env,
        "enabled": enabled,
        "strategies": strategies(),
        "variants": [],
    }))
    .into_response())
}

fn parse_state(state: &str) -> ApiResult<bool> {
    match state {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(not_found(format!(
            "no such action `{other}`: expected `on` or `off`"
        ))),
    }
}

async fn switch_feature_env(
    State(store): State<FlagStore>,
    Path((project, flag, env, state)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, false)?;
    let enabled = parse_state(&state)?;
    store
        .set(&project, &flag, &env, enabled)
        .map_err(|e| store_error(&e))?;
    Ok(StatusCode::OK.into_response())
}

async fn legacy_create(
    State(store): State<FlagStore>,
    headers: HeaderMap,
    body: Option<Json<CreateBody>>,
) -> ApiResult {
    store.admin(&headers, true)?;
    let body = require_body(body)?;
    let project = store.inner.default_project.clone();
    store
        .create(
            &project,
            &body.name,
            body.description.as_deref().unwrap_or(""),
            "release",
        )
        .map_err(|e| store_error(&e))?;
    if body.enabled == Some(true) {
        store
            .set(&project, &body.name, &store.inner.default_environment, true)
            .map_err(|e| store_error(&e))?;
    }
    let v = store.with_flag(&project, &body.name, |f| legacy_json(&store, f))?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

fn legacy_json(store: &FlagStore, f: &Flag) -> Value {
    json!({
        "name": f.name,
        "description": f.description,
        "type": f.kind,
        "enabled": f.environments.get(&store.inner.default_environment).copied().unwrap_or(false),
        "stale": false,
        "strategies": strategies(),
        "createdAt": f.created_at.to_rfc3339(),
    })
}

async fn legacy_get(
    State(store): State<FlagStore>,
    Path(flag): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, true)?;
    let project = store.inner.default_project.clone();
    let v = store.with_flag(&project, &flag, |f| legacy_json(&store, f))?;
    Ok(Json(v).into_response())
}

async fn legacy_toggle(
    State(store): State<FlagStore>,
    Path((flag, state)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    store.admin(&headers, true)?;
    let enabled = parse_state(&state)?;
    let project = store.inner.default_project.clone();
    let env = store.inner.default_environment.clone();
    store
        .set(&project, &flag, &env, enabled)
        .map_err(|e| store_error(&e))?;
    let v = store.with_flag(&project, &flag, |f| legacy_json(&store, f))?;
    Ok(Json(v).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base64 decoder reads standard and URL-safe alphabets, with or without padding.
    #[test]
    fn decodes_basic_auth() {
        assert_eq!(decode_base64("a2VwdG46a2VwdG4=").unwrap(), b"keptn:keptn");
        assert_eq!(decode_base64("a2VwdG46a2VwdG4").unwrap(), b"keptn:keptn");
        assert_eq!(decode_base64("!!"), None);
    }
}
