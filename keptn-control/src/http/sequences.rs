//! The shipyard-controller's sequences: their states per Keptn context
//! (`GET /sequence/{project}`), their control (abort / pause / resume) and the open `.triggered`
//! events remote executors poll (`GET /event/triggered/{eventType}`).

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase};
use keptn_spec::{ProjectName, StageName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{EventPage, data_str, in_scope};
use super::control::shipyard_of;
use super::error::{ApiError, json_body, name};
use super::paging::Paging;
use super::{ApiState, MAX_PAGE_SIZE};
use crate::model::{SequenceControl, SequenceRecord, SequenceState};
use crate::store::{EventQuery, SequenceQuery};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/sequence/{project}", get(sequences))
        .route(
            "/sequence/{project}/{keptnContext}/control",
            post(control_sequence),
        )
        .route("/event/triggered/{eventType}", get(open_triggered))
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
    Ok(paging.page(states, MAX_PAGE_SIZE)?.into_json("states"))
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
    let mut open = Vec::new();
    for event in state.plane.open_triggered(task).await? {
        let matches = in_scope(
            &event,
            p.project.as_deref(),
            p.stage.as_deref(),
            p.service.as_deref(),
        );
        if matches && open.len() < MAX_PAGE_SIZE && state.lease(&event.id) {
            open.push(event);
        }
    }
    let paging = Paging {
        page_size: Some(MAX_PAGE_SIZE),
        next_page_key: None,
    };
    Ok(Json(EventPage::of(open, &paging)?))
}
