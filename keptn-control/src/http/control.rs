//! The shipyard-controller (`/api/controlPlane/v1`): projects, services, stages, evaluation,
//! sequence states and control, and the open `.triggered` events remote executors poll.

use std::collections::BTreeMap;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Verdict};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, ProjectName, ServiceName, StageName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{EventPage, data_str};
use super::error::{ApiError, json_body, name};
use super::{ApiState, MAX_PAGE_SIZE};
use crate::model::{ResourceScope, SequenceControl, SequenceRecord, SequenceState};
use crate::store::{EventQuery, SHIPYARD_URI, SequenceQuery};

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
        .route("/sequence/{project}", get(sequences))
        .route(
            "/sequence/{project}/{keptnContext}/control",
            post(control_sequence),
        )
        .route("/event/triggered/{eventType}", get(open_triggered))
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page_size: Option<usize>,
    next_page_key: Option<String>,
}

/// `items` paged by `pageSize` (at most [`MAX_PAGE_SIZE`]) and `nextPageKey` (an offset).
fn page<T>(items: Vec<T>, paging: &Paging) -> Result<(Vec<T>, Value), ApiError> {
    let size = paging.page_size.unwrap_or(MAX_PAGE_SIZE);
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(format!(
            "pageSize {size} is out of range: expected 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let start: usize = match paging.next_page_key.as_deref() {
        None | Some("" | "0") => 0,
        Some(k) => k.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "nextPageKey `{}` is not a page key",
                k.escape_debug()
            ))
        })?,
    };
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = start + items.len();
    let meta = json!({
        "totalCount": total,
        "pageSize": items.len(),
        "nextPageKey": if next < total { next.to_string() } else { "0".to_owned() },
    });
    Ok((items, meta))
}

fn with_page(mut meta: Value, key: &str, items: Vec<Value>) -> Json<Value> {
    meta[key] = Value::Array(items);
    Json(meta)
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
    let (names, meta) = page(state.plane.store().projects().await?, &paging)?;
    let mut projects = Vec::new();
    for project in &names {
        projects.push(expanded_project(&state, project).await?);
    }
    Ok(with_page(meta, "projects", projects))
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
        data_str(e, "project") == Some(project.as_str())
            && data_str(e, "stage") == Some(stage.as_str())
            && service.is_none_or(|s| data_str(e, "service") == Some(s.as_str()))
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

async fn expanded_stage(
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
    let (names, meta) = page(names, &paging)?;
    let mut stages = Vec::new();
    for stage in &names {
        stages.push(expanded_stage(&state, &project, &shipyard, stage).await?);
    }
    Ok(with_page(meta, "stages", stages))
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
    let (names, meta) = page(services_of(&state, &project).await?, &paging)?;
    let mut services = Vec::new();
    for service in &names {
        services.push(expanded_service(&state, &project, &stage, service).await?);
    }
    Ok(with_page(meta, "services", services))
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SequenceParams {
    keptn_context: Option<String>,
    name: Option<String>,
    state: Option<String>,
    page_size: Option<usize>,
    next_page_key: Option<String>,
}

fn stage_state(record: &SequenceRecord, events: &[KeptnEvent]) -> Value {
    let mine: Vec<&KeptnEvent> = events
        .iter()
        .filter(|e| data_str(e, "stage") == Some(record.stage.as_str()))
        .collect();
    let latest = mine
        .last()
        .map(|e| json!({"id": e.id, "type": e.ty.to_string(), "time": e.time}));
    let failed = mine
        .iter()
        .rev()
        .find(|e| e.ty.phase() == Some(Phase::Finished) && data_str(e, "result") == Some("fail"))
        .map(|e| json!({"id": e.id, "type": e.ty.to_string(), "time": e.time}));
    let evaluation = record
        .tasks
        .iter()
        .rev()
        .find_map(|t| t.evaluation.as_deref())
        .map(|e| json!({"score": e.evaluation.score, "result": e.evaluation.result.to_string()}));
    let image = record
        .triggered_data
        .pointer("/configurationChange/values/image")
        .and_then(Value::as_str);
    json!({
        "name": record.stage,
        "state": record.state.as_str(),
        "image": image,
        "latestEvent": latest,
        "latestFailedEvent": failed,
        "latestEvaluation": evaluation,
    })
}

fn overall_state(records: &[&SequenceRecord]) -> &'static str {
    if records.iter().any(|r| r.state == SequenceState::Started) {
        "started"
    } else if records.iter().any(|r| r.state == SequenceState::Paused) {
        "paused"
    } else if records.iter().any(|r| r.state == SequenceState::Waiting) {
        "waiting"
    } else if records.iter().any(|r| r.state == SequenceState::Aborted) {
        "aborted"
    } else {
        "finished"
    }
}

/// `GET /sequence/{project}`: one state per Keptn context, newest first.
async fn sequences(
    State(state): State<ApiState>,
    Path(project): Path<String>,
    params: Result<Query<SequenceParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let project: ProjectName = name("project name", &project)?;
    shipyard_of(&state, &project).await?;
    let mut query = SequenceQuery::all();
    query.project = Some(project.clone());
    if let Some(c) = &p.keptn_context {
        query.context = Some(name("keptnContext", c)?);
    }
    let records = state.plane.store().sequences(&query).await?;
    let mut contexts: Vec<KeptnContext> = Vec::new();
    for r in &records {
        if !contexts.contains(&r.context) {
            contexts.push(r.context);
        }
    }
    let mut states = Vec::new();
    for context in contexts.into_iter().rev() {
        let mine: Vec<&SequenceRecord> = records.iter().filter(|r| r.context == context).collect();
        let Some(first) = mine.first() else { continue };
        let overall = overall_state(&mine);
        if p.name.as_deref().is_some_and(|n| n != first.sequence)
            || p.state.as_deref().is_some_and(|s| s != overall)
        {
            continue;
        }
        let events = state
            .plane
            .store()
            .events(&EventQuery::context(context))
            .await?;
        let problem = events
            .iter()
            .find_map(|e| {
                [
                    "/ProblemTitle",
                    "/problem/ProblemTitle",
                    "/problem/problemTitle",
                ]
                .iter()
                .find_map(|p| e.data.pointer(p).and_then(Value::as_str))
            })
            .map(str::to_owned);
        states.push(json!({
            "name": first.sequence,
            "project": project,
            "service": first.service,
            "shkeptncontext": context,
            "state": overall,
            "time": first.created,
            "problemTitle": problem,
            "stages": mine.iter().map(|r| stage_state(r, &events)).collect::<Vec<_>>(),
        }));
    }
    let paging = Paging {
        page_size: p.page_size,
        next_page_key: p.next_page_key,
    };
    let (states, meta) = page(states, &paging)?;
    Ok(with_page(meta, "states", states))
}

#[derive(Debug, Deserialize)]
struct ControlCommand {
    state: String,
    stage: Option<String>,
}

async fn control_sequence(
    State(state): State<ApiState>,
    Path((project, context)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let project: ProjectName = name("project name", &project)?;
    let context: KeptnContext = name("keptnContext", &context)?;
    let c: ControlCommand = json_body(body)?;
    let control = match c.state.as_str() {
        "abort" => SequenceControl::Abort,
        "pause" => SequenceControl::Pause,
        "resume" => SequenceControl::Resume,
        other => {
            return Err(ApiError::bad_request(format!(
                "state `{}` is not a sequence control: expected abort, pause or resume",
                other.escape_debug()
            )));
        }
    };
    let stage: Option<StageName> = c
        .stage
        .as_deref()
        .map(|s| name("stage name", s))
        .transpose()?;
    let mut query = SequenceQuery::context(context);
    query.project = Some(project.clone());
    if state.plane.store().sequences(&query).await?.is_empty() {
        return Err(ApiError::not_found(format!(
            "no sequence with keptnContext {context} in project `{project}`"
        )));
    }
    state.plane.control(context, stage, control).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
struct TriggeredParams {
    project: Option<String>,
    stage: Option<String>,
    service: Option<String>,
}

/// `GET /event/triggered/{eventType}`: the open `.triggered` events of a task that nobody
/// holds a lease on; each one returned is leased to this caller.
async fn open_triggered(
    State(state): State<ApiState>,
    Path(ty): Path<String>,
    params: Result<Query<TriggeredParams>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(p) = params?;
    let ty: EventType = name("event type", &ty)?;
    let EventType::Task {
        task,
        phase: Phase::Triggered,
    } = &ty
    else {
        return Err(ApiError::bad_request(format!(
            "`{ty}` is not a task's .triggered event type"
        )));
    };
    let finished_ty = EventType::task(task.clone(), Phase::Finished);
    let store = state.plane.store();
    let open_tasks: Vec<_> = store
        .sequences(&SequenceQuery::unfinished())
        .await?
        .into_iter()
        .filter(|r| matches!(r.state, SequenceState::Started | SequenceState::Paused))
        .filter_map(|r| r.current.map(|c| c.triggered_id))
        .collect();
    let mut open = Vec::new();
    for event in store.events(&EventQuery::all().of_type(ty.clone())).await? {
        let matches = p
            .project
            .as_deref()
            .is_none_or(|v| data_str(&event, "project") == Some(v))
            && p.stage
                .as_deref()
                .is_none_or(|v| data_str(&event, "stage") == Some(v))
            && p.service
                .as_deref()
                .is_none_or(|v| data_str(&event, "service") == Some(v));
        if !matches {
            continue;
        }
        let is_sequence_task = event.source == crate::CONTROLLER_SOURCE;
        if is_sequence_task && !open_tasks.contains(&event.id) {
            continue;
        }
        let mut answers = EventQuery::all().of_type(finished_ty.clone());
        answers.triggered_id = Some(event.id.clone());
        answers.limit = Some(1);
        if !store.events(&answers).await?.is_empty() {
            continue;
        }
        if open.len() < MAX_PAGE_SIZE && state.lease(&event.id) {
            open.push(event);
        }
    }
    Ok(Json(EventPage::of(open, Some(MAX_PAGE_SIZE), None)?))
}
