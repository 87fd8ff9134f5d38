//! The api-service (`/api/v1`: auth, metadata, event) and the mongodb-datastore
//! (`/api/mongodb-datastore`: event queries).

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, json_body};
use super::paging::Paging;
use super::{ApiState, MAX_PAGE_SIZE};
use crate::store::EventQuery;

/// The Keptn version whose API this is.
pub(crate) const KEPTN_API_VERSION: &str = "1.4.5";

/// How long `POST /api/v1/event` waits for the control plane to log the event.
const STORE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/auth", post(auth))
        .route("/metadata", get(metadata))
        .route("/event", post(send_event))
}

pub(super) fn datastore_routes() -> Router<ApiState> {
    Router::new()
        .route("/event", get(events))
        .route("/event/type/{eventType}", get(events_of_type))
}

async fn auth() -> Json<Value> {
    Json(json!({}))
}

async fn metadata() -> Json<Value> {
    Json(json!({
        "namespace": "keptn",
        "keptnlabel": "keptn",
        "keptnversion": KEPTN_API_VERSION,
        "shipyardversion": "0.2.0",
        "bridgeversion": "",
        "keptnservices": {},
        "automaticprovisioning": false,
    }))
}

/// `POST /api/v1/event`: the event goes to the control plane; answers its context and a token.
async fn send_event(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut raw: Value = json_body(body)?;
    let Some(fields) = raw.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body is not a JSON object",
        ));
    };
    // Keptn's api-service fills these when the client leaves them out.
    fields
        .entry("id")
        .or_insert_with(|| Value::String(keptn_spec::event::EventId::new_random().to_string()));
    fields
        .entry("specversion")
        .or_insert_with(|| Value::String("1.0".to_owned()));
    fields
        .entry("time")
        .or_insert_with(|| Value::String(Utc::now().to_rfc3339()));
    let event: KeptnEvent = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!("event field `{path}`: {}", e.into_inner()))
    })?;
    if event.source.trim().is_empty() {
        return Err(ApiError::bad_request("event field `source` is empty"));
    }
    // The controller ignores events of its own source (it wrote them), so such an event from
    // outside would never be logged: refuse it instead of answering 503 after the wait.
    if event.source == crate::CONTROLLER_SOURCE {
        return Err(ApiError::bad_request(format!(
            "event field `source`: `{}` is the control plane's own source; send the event under \
             your service's name",
            crate::CONTROLLER_SOURCE
        )));
    }
    if event.triggeredid.is_some() && event.shkeptncontext.is_none() {
        return Err(ApiError::bad_request(
            "an event with `triggeredid` must carry the `shkeptncontext` of the task it answers",
        ));
    }
    let id = event.id.clone();
    let context = send_logged(&state, event).await?;
    let token = id.to_string();
    Ok(Json(json!({"keptnContext": context, "token": token})))
}

/// Sends `event` to the control plane and returns its context once the control plane has logged
/// it, so an accepted event survives a crash.
///
/// # Errors
/// 503 when the event is not logged within [`STORE_WAIT`]; store errors.
pub(crate) async fn send_logged(
    state: &ApiState,
    event: KeptnEvent,
) -> Result<KeptnContext, ApiError> {
    let id = event.id.clone();
    let context = state.plane.send(event).await?;
    let deadline = tokio::time::Instant::now() + STORE_WAIT;
    while !state.plane.store().has_event(&id).await? {
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the control plane did not log the event in time; send it again (same id)",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Ok(context)
}

/// One page of events, as the mongodb-datastore answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventPage {
    pub(crate) events: Vec<KeptnEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_page_key: Option<String>,
    pub(crate) page_size: usize,
    pub(crate) total_count: usize,
}

impl EventPage {
    /// The answer for a page of the store's log that starts `skip` events in.
    pub(crate) fn from_store(page: crate::store::EventPage, skip: usize) -> Self {
        let next = skip + page.events.len();
        Self {
            next_page_key: (next < page.total).then(|| next.to_string()),
            page_size: page.events.len(),
            total_count: page.total,
            events: page.events,
        }
    }

    /// The page of `all` that `paging` selects (20 events without `pageSize`).
    pub(crate) fn of(all: Vec<KeptnEvent>, paging: &Paging) -> Result<Self, ApiError> {
        let page = paging.page(all, 20)?;
        Ok(Self {
            next_page_key: page.next.map(|n| n.to_string()),
            page_size: page.items.len(),
            total_count: page.total,
            events: page.items,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsParams {
    keptn_context: Option<String>,
    project: Option<String>,
    stage: Option<String>,
    service: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    from_time: Option<String>,
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    page_size: Option<usize>,
    next_page_key: Option<String>,
}

/// The string at `data.<field>` of an event.
pub(crate) fn data_str<'a>(event: &'a KeptnEvent, field: &str) -> Option<&'a str> {
    event.data.get(field).and_then(Value::as_str)
}

/// Whether `event`'s data has the given `project`, `stage` and `service` (each when given).
pub(crate) fn in_scope(
    event: &KeptnEvent,
    project: Option<&str>,
    stage: Option<&str>,
    service: Option<&str>,
) -> bool {
    [("project", project), ("stage", stage), ("service", service)]
        .into_iter()
        .all(|(field, want)| want.is_none_or(|v| data_str(event, field) == Some(v)))
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "fromTime `{}` is not an RFC 3339 time: {e}",
                value.escape_debug()
            ))
        })
}

/// `GET /api/mongodb-datastore/event`: newest first, as Keptn's datastore sorts.
async fn events(
    State(state): State<ApiState>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(p) = params?;
    let mut query = EventQuery::all();
    if let Some(c) = &p.keptn_context {
        let context: KeptnContext = super::error::name("keptnContext", c)?;
        query.context = Some(context);
    }
    if let Some(t) = &p.ty {
        let ty: EventType = super::error::name("event type", t)?;
        query.ty = Some(ty);
    }
    let from = p.from_time.as_deref().map(parse_time).transpose()?;
    let keep = |e: &KeptnEvent| {
        in_scope(
            e,
            p.project.as_deref(),
            p.stage.as_deref(),
            p.service.as_deref(),
        ) && p.event_id.as_deref().is_none_or(|v| e.id.as_str() == v)
            && from.is_none_or(|f| e.time.is_some_and(|t| t >= f))
    };
    let paging = Paging {
        page_size: p.page_size,
        next_page_key: p.next_page_key.clone(),
    };
    let (skip, take) = paging.window(20)?;
    // only the page is read into memory, however long the log is
    let page = state
        .plane
        .store()
        .events_page(&query, &keep, skip, take)
        .await?;
    Ok(Json(EventPage::from_store(page, skip)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeParams {
    filter: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    exclude_invalidated: Option<String>,
}

/// One `key:value[,value…]` clause of a datastore `filter`.
fn clause_matches(event: &KeptnEvent, key: &str, values: &[&str]) -> Result<bool, ApiError> {
    let actual: Option<String> = match key {
        "shkeptncontext" => event.shkeptncontext.map(|c| c.to_string()),
        "id" => Some(event.id.to_string()),
        "triggeredid" => event.triggeredid.as_ref().map(ToString::to_string),
        "source" => Some(event.source.clone()),
        "type" => Some(event.ty.to_string()),
        k if k.starts_with("data.") => {
            let mut v = &event.data;
            for part in k["data.".len()..].split('.') {
                v = v.get(part).unwrap_or(&Value::Null);
            }
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "filter key `{}` is not supported: expected shkeptncontext, id, triggeredid, source, type or data.<field>",
                other.escape_debug()
            )));
        }
    };
    Ok(actual.is_some_and(|a| values.iter().any(|v| *v == a)))
}

/// `GET /api/mongodb-datastore/event/type/{eventType}?filter=data.project:x AND data.stage:y`.
async fn events_of_type(
    State(state): State<ApiState>,
    Path(ty): Path<String>,
    params: Result<Query<TypeParams>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(p) = params?;
    let ty: EventType = super::error::name("event type", &ty)?;
    let clauses: Vec<(String, Vec<String>)> = match p.filter.as_deref() {
        None | Some("") => Vec::new(),
        Some(f) => f
            .split(" AND ")
            .map(|c| {
                let (k, v) = c.trim().split_once(':').ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "filter clause `{}` is not `key:value`",
                        c.escape_debug()
                    ))
                })?;
                let known = ["shkeptncontext", "id", "triggeredid", "source", "type"];
                if !known.contains(&k) && !k.starts_with("data.") {
                    return Err(ApiError::bad_request(format!(
                        "filter key `{}` is not supported: expected shkeptncontext, id, triggeredid, source, type or data.<field>",
                        k.escape_debug()
                    )));
                }
                Ok((k.to_owned(), v.split(',').map(str::to_owned).collect()))
            })
            .collect::<Result<_, ApiError>>()?,
    };
    let exclude_invalidated = p.exclude_invalidated.as_deref() == Some("true");
    let invalidated = if exclude_invalidated {
        let ty: EventType = "sh.keptn.event.evaluation.invalidated"
            .parse()
            .map_err(|e: keptn_spec::Error| ApiError::bad_request(e.to_string()))?;
        state
            .plane
            .store()
            .events(&EventQuery::all().of_type(ty))
            .await?
            .into_iter()
            .filter_map(|e| e.triggeredid)
            .collect()
    } else {
        Vec::new()
    };
    // the keys were checked above: a clause cannot fail here
    let keep = |e: &KeptnEvent| {
        !invalidated.contains(&e.id)
            && clauses.iter().all(|(k, values)| {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                clause_matches(e, k, &values).unwrap_or(false)
            })
    };
    let size = p.limit.unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let page = state
        .plane
        .store()
        .events_page(&EventQuery::all().of_type(ty), &keep, 0, size)
        .await?;
    Ok(Json(EventPage::from_store(page, 0)))
}
