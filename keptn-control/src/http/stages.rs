//! The shipyard-controller's stages (`/project/{project}/stage…`): each stage with its
//! services, the deployed image and last event per service, and the evaluation trigger.

use std::collections::BTreeMap;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Verdict};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{data_str, in_scope};
use super::control::{services_of, shipyard_of};
use super::error::{ApiError, json_body, name};
use super::paging::Paging;
use super::{ApiState, MAX_PAGE_SIZE};
use crate::store::{EventQuery, SequenceQuery};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/project/{project}/stage", get(list_stages))
        .route("/project/{project}/stage/{stage}", get(get_stage))
        .route(
            "/project/{project}/stage/{stage}/service",
            get(list_stage_services),
        )
        .route(
            "/project/{project}/stage/{stage}/service/{service}",
            get(get_stage_service),
        )
        .route(
            "/project/{project}/stage/{stage}/service/{service}/evaluation",
            post(trigger_evaluation),
        )
}

fn context_info(event: &KeptnEvent) -> Value {
    json!({
        "eventId": event.id,
        "keptnContext": event.shkeptncontext,
        "time": event.time.map(|t| t.timestamp_nanos_opt().unwrap_or_default().to_string()),
    })
}

/// The events of one stage (and service) of a project, oldest first.
async fn scoped_events(
    state: &ApiState,
    project: &ProjectName,
    stage: &StageName,
    service: Option<&ServiceName>,
) -> Result<Vec<KeptnEvent>, ApiError> {
    let mut events = state.plane.store().events(&EventQuery::all()).await?;
    events.retain(|e| {
        in_scope(
            e,
            Some(project.as_str()),
            Some(stage.as_str()),
            service.map(ServiceName::as_str),
        )
    });
    Ok(events)
}

async fn expanded_service(
    state: &ApiState,
    project: &ProjectName,
    stage: &StageName,
    service: &ServiceName,
) -> Result<Value, ApiError> {
    let events = scoped_events(state, project, stage, Some(service)).await?;
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    let mut image = None;
    for event in &events {
        last.insert(event.ty.to_string(), context_info(event));
        let deployed = matches!(&event.ty, EventType::Task { task, phase: Phase::Finished } if task.as_str() == "deployment")
            && data_str(event, "result") != Some(Verdict::Fail.to_string().as_str());
        let Some(id) = event.triggeredid.as_ref().filter(|_| deployed) else {
            continue;
        };
        if let Some(t) = state.plane.store().event(id).await? {
            image = t
                .data
                .pointer("/configurationChange/values/image")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
    }
    let open: Vec<Value> = state
        .plane
        .store()
        .sequences(&SequenceQuery::unfinished())
        .await?
        .into_iter()
        .filter(|r| {
            r.project == *project
                && r.stage == *stage
                && r.service == *service
                && r.sequence == crate::REMEDIATION_SEQUENCE
        })
        .map(|r| json!({"keptnContext": r.context, "stage": r.stage, "service": r.service, "action": r.current.map(|c| c.name)}))
        .collect();
    Ok(json!({
        "serviceName": service,
        "deployedImage": image.unwrap_or_default(),
        "lastEventTypes": last,
        "openRemediations": open,
    }))
}

pub(super) async fn expanded_stage(
    state: &ApiState,
    project: &ProjectName,
    shipyard: &Shipyard,
    stage: &StageName,
) -> Result<Value, ApiError> {
    let mut services = Vec::new();
    for service in services_of(state, project).await? {
        services.push(expanded_service(state, project, stage, &service).await?);
    }
    let mut parents: Vec<String> = shipyard
        .stage(stage.as_str())
        .map(|st| {
            st.sequences
                .iter()
                .flat_map(|s| s.triggered_on.iter().map(|t| t.event.stage.to_string()))
                .collect()
        })
        .unwrap_or_default();
    parents.retain(|p| p != stage.as_str());
    parents.sort();
    parents.dedup();
    let last = scoped_events(state, project, stage, None).await?.pop();
    Ok(json!({
        "stageName": stage,
        "parentStages": parents,
        "services": services,
        "lastEventContext": last.as_ref().map(context_info),
    }))
}

async fn list_stages(
    State(state): State<ApiState>,
    Path(project): Path<String>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(paging) = paging?;
    let project: ProjectName = name("project name", &project)?;
    let (_, shipyard) = shipyard_of(&state, &project).await?;
    let names: Vec<StageName> = shipyard.stages().iter().map(|s| s.name.clone()).collect();
    let names = paging.page(names, MAX_PAGE_SIZE)?;
    let mut stages = Vec::new();
    for stage in &names.items {
        stages.push(expanded_stage(&state, &project, &shipyard, stage).await?);
    }
    Ok(names.with_items(stages).into_json("stages"))
}

async fn stage_of(
    state: &ApiState,
    project: &str,
    stage: &str,
) -> Result<(ProjectName, StageName, Shipyard), ApiError> {
    let project: ProjectName = name("project name", project)?;
    let stage: StageName = name("stage name", stage)?;
    let (_, shipyard) = shipyard_of(state, &project).await?;
    if shipyard.stage(stage.as_str()).is_none() {
        return Err(ApiError::not_found(format!(
            "stage `{stage}` not found in project `{project}`"
        )));
    }
    Ok((project, stage, shipyard))
}

async fn service_of(
    state: &ApiState,
    project: &ProjectName,
    service: &str,
) -> Result<ServiceName, ApiError> {
    let service: ServiceName = name("service name", service)?;
    if !services_of(state, project).await?.contains(&service) {
        return Err(ApiError::not_found(format!(
            "service `{service}` not found in project `{project}`"
        )));
    }
    Ok(service)
}

async fn get_stage(
    State(state): State<ApiState>,
    Path((project, stage)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (project, stage, shipyard) = stage_of(&state, &project, &stage).await?;
    Ok(Json(
        expanded_stage(&state, &project, &shipyard, &stage).await?,
    ))
}

async fn list_stage_services(
    State(state): State<ApiState>,
    Path((project, stage)): Path<(String, String)>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(paging) = paging?;
    let (project, stage, _) = stage_of(&state, &project, &stage).await?;
    let names = paging.page(services_of(&state, &project).await?, MAX_PAGE_SIZE)?;
    let mut services = Vec::new();
    for service in &names.items {
        services.push(expanded_service(&state, &project, &stage, service).await?);
    }
    Ok(names.with_items(services).into_json("services"))
}

async fn get_stage_service(
    State(state): State<ApiState>,
    Path((project, stage, service)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (project, stage, _) = stage_of(&state, &project, &stage).await?;
    let service = service_of(&state, &project, &service).await?;
    Ok(Json(
        expanded_service(&state, &project, &stage, &service).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct EvaluationParams {
    start: Option<String>,
    end: Option<String>,
    timeframe: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    gitcommitid: Option<String>,
}

async fn trigger_evaluation(
    State(state): State<ApiState>,
    Path((project, stage, service)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p: EvaluationParams = json_body(body)?;
    let (project, stage, _) = stage_of(&state, &project, &stage).await?;
    let service = service_of(&state, &project, &service).await?;
    if p.end.is_some() && p.timeframe.is_some() {
        return Err(ApiError::bad_request(
            "give either `end` or `timeframe`, not both",
        ));
    }
    let mut evaluation = serde_json::Map::new();
    for (k, v) in [
        ("start", &p.start),
        ("end", &p.end),
        ("timeframe", &p.timeframe),
    ] {
        if let Some(v) = v {
            evaluation.insert(k.to_owned(), Value::String(v.clone()));
        }
    }
    if evaluation.is_empty() {
        evaluation.insert("timeframe".to_owned(), Value::String("5m".to_owned()));
    }
    let ty = EventType::sequence(stage.clone(), "evaluation", Phase::Triggered)
        .map_err(crate::Error::from)?;
    let data = json!({
        "project": project, "stage": stage, "service": service,
        "evaluation": evaluation, "labels": p.labels.unwrap_or_default(),
    });
    let mut event = KeptnEvent::new(ty, "api", KeptnContext::new_random(), &data);
    event.gitcommitid = p.gitcommitid;
    let context = state.plane.send(event).await?;
    Ok(Json(json!({"keptnContext": context})))
}
