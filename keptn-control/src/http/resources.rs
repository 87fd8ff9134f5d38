//! The resource-service (`/api/resource-service/v1`): a project's, stage's or service's
//! resources (`slo.yaml`, `dynatrace/sli.yaml`, `remediation.yaml`, …), written base64.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::control::{SERVICES_URI, services_of, shipyard_of};
use super::error::{ApiError, json_body, name};
use crate::model::ResourceScope;
use crate::store::SHIPYARD_URI;

/// The longest resource URI accepted.
const MAX_URI_LEN: usize = 512;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/project/{project}/resource",
            get(list_project).post(write_project).put(write_project),
        )
        .route("/project/{project}/resource/{*uri}", get(get_project))
        .route(
            "/project/{project}/stage/{stage}/resource",
            get(list_stage).post(write_stage).put(write_stage),
        )
        .route(
            "/project/{project}/stage/{stage}/resource/{*uri}",
            get(get_stage),
        )
        .route(
            "/project/{project}/stage/{stage}/service/{service}/resource",
            get(list_service).post(write_service).put(write_service),
        )
        .route(
            "/project/{project}/stage/{stage}/service/{service}/resource/{*uri}",
            get(get_service),
        )
}

/// The longest segment (file name) of a resource URI accepted, as most file systems.
const MAX_SEGMENT_LEN: usize = 255;

/// Invisible characters (zero-width, bidirectional controls, byte-order mark) and look-alikes
/// of the path characters `/`, `\` and `.`: a URI with them reads as another path than it is.
fn is_look_alike(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            // slashes and backslashes
            | '\u{2044}'
            | '\u{2215}'
            | '\u{2216}'
            | '\u{29F5}'
            | '\u{29F8}'
            | '\u{29F9}'
            | '\u{FE68}'
            | '\u{FF0F}'
            | '\u{FF3C}'
            // dots
            | '\u{2024}'
            | '\u{2025}'
            | '\u{2026}'
            | '\u{FE52}'
            | '\u{FF0E}'
            | '\u{3002}'
            | '\u{FF61}'
    )
}

/// Checks a resource URI: relative, no `.`/`..` segments, no empty segment, no NUL, backslash
/// or control character, no invisible or look-alike character, no percent-encoded separator,
/// at most 512 bytes and 255 per segment; a leading `/` is dropped (Keptn's CLI sends both
/// forms).
pub(crate) fn check_uri(uri: &str) -> Result<String, ApiError> {
    let trimmed = uri.strip_prefix('/').unwrap_or(uri);
    let bad = |why: &str| {
        Err(ApiError::bad_request(format!(
            "invalid resourceURI `{}`: {why}",
            uri.escape_debug()
        )))
    };
    if trimmed.is_empty() {
        return bad("it is empty");
    }
    if trimmed.len() > MAX_URI_LEN {
        return bad("it is longer than 512 bytes");
    }
    if trimmed.chars().any(|c| c.is_control() || c == '\\') {
        return bad("it contains a control character or a backslash");
    }
    if let Some(c) = trimmed.chars().find(|&c| is_look_alike(c)) {
        return bad(&format!(
            "it contains U+{:04X}, an invisible character or a look-alike of `/`, `\\` or `.`",
            u32::from(c)
        ));
    }
    let lower = trimmed.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return bad("it contains a percent-encoded `.`, `/`, `\\` or NUL (send the URI decoded)");
    }
    if trimmed.split('/').any(|s| s.len() > MAX_SEGMENT_LEN) {
        return bad("a segment is longer than 255 bytes");
    }
    if trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("expected a relative path without empty, `.` or `..` segments");
    }
    if [SHIPYARD_URI, SERVICES_URI].contains(&trimmed) {
        return bad("it is managed through the project and service operations");
    }
    Ok(trimmed.to_owned())
}

async fn scope(
    state: &ApiState,
    project: &str,
    stage: Option<&str>,
    service: Option<&str>,
) -> Result<ResourceScope, ApiError> {
    let project: ProjectName = name("project name", project)?;
    let (_, shipyard) = shipyard_of(state, &project).await?;
    let Some(stage) = stage else {
        return Ok(ResourceScope::project(project));
    };
    let stage: StageName = name("stage name", stage)?;
    if shipyard.stage(stage.as_str()).is_none() {
        return Err(ApiError::not_found(format!(
            "stage `{stage}` not found in project `{project}`"
        )));
    }
    let Some(service) = service else {
        return Ok(ResourceScope::stage(project, stage));
    };
    let service: ServiceName = name("service name", service)?;
    if !services_of(state, &project).await?.contains(&service) {
        return Err(ApiError::not_found(format!(
            "service `{service}` not found in project `{project}`"
        )));
    }
    Ok(ResourceScope::service(project, stage, service))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    #[serde(rename = "resourceURI")]
    resource_uri: String,
    resource_content: String,
}

#[derive(Debug, Deserialize)]
struct Resources {
    resources: Vec<Resource>,
}

/// Decodes and checks every resource before the first write, so a bad one writes nothing.
async fn write(
    state: &ApiState,
    scope: ResourceScope,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r: Resources = json_body(body)?;
    if r.resources.is_empty() {
        return Err(ApiError::bad_request("field `resources` is empty"));
    }
    let mut checked = Vec::new();
    for (i, res) in r.resources.iter().enumerate() {
        let uri = check_uri(&res.resource_uri)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(res.resource_content.trim())
            .map_err(|e| {
                ApiError::bad_request(format!("resources[{i}].resourceContent is not base64: {e}"))
            })?;
        let content = String::from_utf8(bytes).map_err(|_| {
            ApiError::bad_request(format!("resources[{i}].resourceContent is not UTF-8 text"))
        })?;
        if content.contains('\0') {
            return Err(ApiError::bad_request(format!(
                "resources[{i}].resourceContent contains a NUL byte"
            )));
        }
        checked.push((uri, content));
    }
    for (uri, content) in &checked {
        state.plane.put_resource(&scope, uri, content).await?;
    }
    Ok((StatusCode::CREATED, Json(json!({}))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page_size: Option<usize>,
    next_page_key: Option<String>,
}

async fn list(
    state: &ApiState,
    scope: ResourceScope,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(paging) = paging?;
    let mut uris = state.plane.store().resource_uris(&scope).await?;
    uris.retain(|u| u != SERVICES_URI);
    let size = paging.page_size.unwrap_or(super::MAX_PAGE_SIZE);
    if size == 0 || size > super::MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(format!(
            "pageSize {size} is out of range: expected 1 to {}",
            super::MAX_PAGE_SIZE
        )));
    }
    let start: usize = match paging.next_page_key.as_deref() {
        None | Some("") => 0,
        Some(k) => k.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "nextPageKey `{}` is not a page key",
                k.escape_debug()
            ))
        })?,
    };
    let total = uris.len();
    let items: Vec<Value> = uris
        .into_iter()
        .skip(start)
        .take(size)
        .map(|u| json!({"resourceURI": u}))
        .collect();
    let next = start + items.len();
    Ok(Json(json!({
        "resources": items,
        "pageSize": size,
        "totalCount": total,
        "nextPageKey": if next < total { next.to_string() } else { "0".to_owned() },
    })))
}

async fn get_one(
    state: &ApiState,
    scope: ResourceScope,
    uri: &str,
) -> Result<Json<Value>, ApiError> {
    let uri = match uri.strip_prefix('/').unwrap_or(uri) {
        SHIPYARD_URI => SHIPYARD_URI.to_owned(),
        _ => check_uri(uri)?,
    };
    let content = state
        .plane
        .store()
        .resource(&scope, &uri)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("resource `{uri}` not found at {scope}")))?;
    Ok(Json(json!({
        "resourceURI": uri,
        "resourceContent": base64::engine::general_purpose::STANDARD.encode(content),
    })))
}

async fn list_project(
    State(s): State<ApiState>,
    Path(p): Path<String>,
    q: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, None, None).await?;
    list(&s, scope, q).await
}

async fn write_project(
    State(s): State<ApiState>,
    Path(p): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scope = scope(&s, &p, None, None).await?;
    write(&s, scope, body).await
}

async fn get_project(
    State(s): State<ApiState>,
    Path((p, uri)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, None, None).await?;
    get_one(&s, scope, &uri).await
}

async fn list_stage(
    State(s): State<ApiState>,
    Path((p, st)): Path<(String, String)>,
    q: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, Some(&st), None).await?;
    list(&s, scope, q).await
}

async fn write_stage(
    State(s): State<ApiState>,
    Path((p, st)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scope = scope(&s, &p, Some(&st), None).await?;
    write(&s, scope, body).await
}

async fn get_stage(
    State(s): State<ApiState>,
    Path((p, st, uri)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, Some(&st), None).await?;
    get_one(&s, scope, &uri).await
}

async fn list_service(
    State(s): State<ApiState>,
    Path((p, st, sv)): Path<(String, String, String)>,
    q: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, Some(&st), Some(&sv)).await?;
    list(&s, scope, q).await
}

async fn write_service(
    State(s): State<ApiState>,
    Path((p, st, sv)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scope = scope(&s, &p, Some(&st), Some(&sv)).await?;
    write(&s, scope, body).await
}

async fn get_service(
    State(s): State<ApiState>,
    Path((p, st, sv, uri)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let scope = scope(&s, &p, Some(&st), Some(&sv)).await?;
    get_one(&s, scope, &uri).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Traversal, absolute-after-slash, NUL and reserved names are refused; nested paths pass.
    #[test]
    fn resource_uris() {
        assert_eq!(
            check_uri("/dynatrace/sli.yaml").unwrap(),
            "dynatrace/sli.yaml"
        );
        assert_eq!(check_uri("slo.yaml").unwrap(), "slo.yaml");
        for bad in [
            "",
            "/",
            "../slo.yaml",
            "a/../../b",
            "a//b",
            "//etc/passwd",
            "a\0b",
            "a\\b",
            "./x",
            "shipyard.yaml",
            // look-alikes and invisible characters
            "a\u{FF0F}..\u{FF0F}b",
            "a\u{2215}b",
            "\u{FF0E}\u{FF0E}/x",
            "a\u{200B}/b.yaml",
            "slo\u{202E}lmay.exe",
            "\u{FEFF}slo.yaml",
            // encoded separators
            "..%2F..%2Fshipyard.yaml",
            "%2e%2e/x",
            "a%5Cb",
            "a%00b",
        ] {
            assert_eq!(
                check_uri(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad:?}"
            );
        }
        // overlong: the whole URI and one segment
        assert!(check_uri(&"a/".repeat(300)).is_err());
        assert!(check_uri(&"x".repeat(256)).is_err());
        assert!(check_uri(&"x".repeat(255)).is_ok());
        // other non-ASCII names are fine
        assert_eq!(
            check_uri("déploiement/日本.yaml").unwrap(),
            "déploiement/日本.yaml"
        );
    }
}
