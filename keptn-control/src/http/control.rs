//! The shipyard-controller (`/api/controlPlane/v1`): its routes, projects and services; stages
//! and evaluation are in `stages`, sequences and open `.triggered` events in `sequences`.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, ProjectName, ServiceName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, json_body, name};
use super::paging::Paging;
use super::stages::expanded_stage;
use super::{ApiState, MAX_PAGE_SIZE};
use crate::model::ResourceScope;
use crate::store::SHIPYARD_URI;

/// The project resource that lists a project's services, one `- name` line each.
pub(crate) const SERVICES_URI: &str = "keptn-services.yaml";

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/project", post(create_project).get(list_projects))
        .route(
            "/project/{project}",
            get(get_project).delete(delete_project),
        )
        .route("/project/{project}/service", post(create_service))
        .route(
            "/project/{project}/service/{service}",
            axum::routing::delete(delete_service),
        )
        .merge(super::stages::routes())
        .merge(super::sequences::routes())
}

/// The project's shipyard, or 404.
pub(crate) async fn shipyard_of(
    state: &ApiState,
    project: &ProjectName,
) -> Result<(String, Shipyard), ApiError> {
    let scope = ResourceScope::project(project.clone());
    let src = state
        .plane
        .store()
        .resource(&scope, SHIPYARD_URI)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("project `{project}` not found")))?;
    let shipyard = Shipyard::parse(&src, &ParseOptions::new())
        .map_err(|e| ApiError::bad_request(format!("shipyard of `{project}`: {e}")))?
        .value;
    Ok((src, shipyard))
}

/// The services of a project, sorted.
pub(crate) async fn services_of(
    state: &ApiState,
    project: &ProjectName,
) -> Result<Vec<ServiceName>, ApiError> {
    let scope = ResourceScope::project(project.clone());
    let src = state
        .plane
        .store()
        .resource(&scope, SERVICES_URI)
        .await?
        .unwrap_or_default();
    Ok(src
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter_map(|n| n.trim().parse().ok())
        .collect())
}

async fn write_services(
    state: &ApiState,
    project: &ProjectName,
    services: &[ServiceName],
) -> Result<(), ApiError> {
    let list: String = services.iter().map(|s| format!("- {s}\n")).collect();
    let scope = ResourceScope::project(project.clone());
    state
        .plane
        .store()
        .put_resource(&scope, SERVICES_URI, &list)
        .await?;
    Ok(())
}

fn decode_base64(what: &str, value: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| ApiError::bad_request(format!("{what} is not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| ApiError::bad_request(format!("{what} is not UTF-8 text")))
}

#[derive(Debug, Deserialize)]
struct CreateProject {
    name: String,
    shipyard: String,
}

async fn create_project(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p: CreateProject = json_body(body)?;
    let project: ProjectName = name("project name", &p.name)?;
    let shipyard = decode_base64("field `shipyard`", &p.shipyard)?;
    if state.plane.store().projects().await?.contains(&project) {
        return Err(ApiError::conflict(format!(
            "project `{project}` already exists"
        )));
    }
    state.plane.put_project(&project, &shipyard).await?;
    Ok((StatusCode::CREATED, Json(json!({}))))
}

async fn expanded_project(state: &ApiState, project: &ProjectName) -> Result<Value, ApiError> {
    let (src, shipyard) = shipyard_of(state, project).await?;
    let mut stages = Vec::new();
    for stage in shipyard.stages() {
        stages.push(expanded_stage(state, project, &shipyard, &stage.name).await?);
    }
    Ok(json!({
        "projectName": project,
        "shipyard": src,
        "shipyardVersion": if src.contains("spec.keptn.sh/0.2") { "spec.keptn.sh/0.2.0" } else { "0.1.0" },
        "stages": stages,
    }))
}

async fn get_project(
    State(state): State<ApiState>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let project: ProjectName = name("project name", &project)?;
    Ok(Json(expanded_project(&state, &project).await?))
}

async fn list_projects(
    State(state): State<ApiState>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(paging) = paging?;
    let names = paging.page(state.plane.store().projects().await?, MAX_PAGE_SIZE)?;
    let mut projects = Vec::new();
    for project in &names.items {
        projects.push(expanded_project(&state, project).await?);
    }
    Ok(names.with_items(projects).into_json("projects"))
}

async fn delete_project(
    State(state): State<ApiState>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let project: ProjectName = name("project name", &project)?;
    state.plane.delete_project(&project).await?;
    Ok(Json(
        json!({"message": format!("project `{project}` deleted")}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateService {
    service_name: String,
}

async fn create_service(
    State(state): State<ApiState>,
    Path(project): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let project: ProjectName = name("project name", &project)?;
    let s: CreateService = json_body(body)?;
    let service: ServiceName = name("service name", &s.service_name)?;
    shipyard_of(&state, &project).await?;
    let mut services = services_of(&state, &project).await?;
    if services.contains(&service) {
        return Err(ApiError::conflict(format!(
            "service `{service}` already exists in project `{project}`"
        )));
    }
    services.push(service);
    services.sort();
    write_services(&state, &project, &services).await?;
    Ok(Json(json!({})))
}

async fn delete_service(
    State(state): State<ApiState>,
    Path((project, service)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project: ProjectName = name("project name", &project)?;
    let service: ServiceName = name("service name", &service)?;
    let mut services = services_of(&state, &project).await?;
    let before = services.len();
    services.retain(|s| *s != service);
    if services.len() == before {
        return Err(ApiError::not_found(format!(
            "service `{service}` not found in project `{project}`"
        )));
    }
    write_services(&state, &project, &services).await?;
    Ok(Json(
        json!({"message": format!("service `{service}` deleted")}),
    ))
}
