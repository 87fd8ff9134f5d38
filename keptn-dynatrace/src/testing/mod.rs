//! A fake Dynatrace tenant for tests, benchmarks and example runs (feature `testing`).
//!
//! [`FakeTenant`] is a local HTTP server (wiremock) that answers the subset of the published
//! Dynatrace API documents (Environment API v1/v2, Configuration API v1) that this crate uses,
//! with the documented paths, query parameters, JSON shapes and `{"error":{"code","message"}}`
//! error bodies. It rejects what the real API rejects: a missing or wrong
//! `Authorization: Api-Token …` header (401), a metrics query without `metricSelector`, with a
//! malformed selector or malformed percent-encoding, or with an `entitySelector` lacking
//! `type(…)`/`entityId(…)` (400), configuration objects without their required fields (400), and
//! unknown paths (404). It is stateful: configuration objects created through it can be listed,
//! read, replaced and deleted, so idempotence can be tested.
//!
//! It also keeps data: `POST /api/v2/metrics/ingest` stores valid lines of the line protocol
//! (202, or 400 with the documented `{"linesOk","linesInvalid","error":{…,"invalidLines"}}`
//! when some lines are invalid or older than an hour), and `GET /api/v2/metrics/query` answers
//! from them for a documented subset of the metric selector —
//! `<key>[:filter(eq|ne|and|or|not …)][:merge(…)|:splitBy(…)][:avg|:sum|:min|:max|:count]`,
//! with `resolution=Inf` or `<n>s|m|h|d` — and with 400 for anything else (`:percentile`,
//! arithmetic, …) on an ingested metric, as Dynatrace does for selectors it cannot apply.
//! Selectors registered with [`FakeTenant::set_value`] take precedence.
//!
//! **A simplified Davis.** Metric events (`/api/config/v1/anomalyDetection/metricEvents`, CRUD
//! and validation of the static-threshold strategy) are evaluated on every request over the
//! ingested data: time is cut into samples ([`FakeTenant::set_sample_interval`], one minute
//! by default as in Dynatrace); a sample's value is the selector's aggregation (default:
//! average) of its points; a sample is evaluated once an evaluation delay has passed after its
//! end ([`FakeTenant::set_evaluation_delay`], default one sample; plus the event's
//! `queryOffset` in samples) so that late data counts; a
//! problem titled with the event's name opens when `violatingSamples` of the last `samples`
//! samples are beyond the threshold, and closes when `dealertingSamples` of them are not
//! (a sample without data violates only with `alertingOnMissingData`). Problems are listed by
//! `GET /api/v2/problems` (criteria `status`, `problemId`, `text`, `severityLevel`; others are
//! 400) and `GET /api/v2/problems/{problemId}` in the documented `Problem` shape. They have no
//! entities (custom metrics without `dt.entity.*` dimensions), so an `entitySelector` matches
//! none. Real Davis also correlates events, merges problems and baselines; the fake does not.
//!
//! It is a stand-in for a real tenant where none can be reached; it is not Dynatrace.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::fake_store::{self, EventState, FakeProblem, Point, ProblemFilter, Selector};
use crate::ingest::parse_line;
use crate::metrics::MetricSeries;

use validate::{
    error, name_of, required, selector_problem, validate_config, violation, well_encoded,
};

mod validate;

/// The configuration collections the fake serves under `/api/config/v1/`.
const COLLECTIONS: [&str; 5] = [
    "autoTags",
    "alertingProfiles",
    "notifications",
    "managementZones",
    "dashboards",
];

/// One request the fake received (the `Authorization` header is not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, such as `/api/v2/metrics/query`.
    pub path: String,
    /// The decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// The body, if any: its JSON, or its text as a JSON string when it is not JSON (metric
    /// ingest's line protocol).
    pub body: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    token: String,
    latency: Duration,
    metrics: HashMap<String, Vec<MetricSeries>>,
    slos: HashMap<String, f64>,
    problem_count: Option<i64>,
    points: Vec<Point>,
    slot_ms: i64,
    eval_delay_ms: Option<i64>,
    event_states: HashMap<String, EventState>,
    problems: Vec<FakeProblem>,
    next_problem: u64,
    scripted: VecDeque<(u16, Option<u64>)>,
    config: BTreeMap<String, Vec<Value>>,
    next_id: u64,
    writes: usize,
    events_v1: Vec<Value>,
    events_v2: Vec<Value>,
    requests: Vec<RecordedRequest>,
}

/// A fake Dynatrace tenant on `127.0.0.1` (see the [module docs](self)).
#[derive(Debug)]
pub struct FakeTenant {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Fake(Arc<Mutex<State>>);

impl FakeTenant {
    /// Starts a fake tenant that accepts `Authorization: Api-Token <token>`.
    pub async fn start(token: &str) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            slot_ms: 60_000,
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Fake(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant URL, `http://127.0.0.1:<port>` (use it as `DT_TENANT`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Delays every answer by `latency` (answers are still served concurrently).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Answers metric queries whose decoded `metricSelector` equals `selector` with one series
    /// holding `value` (`None`: a series whose only value is `null`). Unknown selectors answer
    /// with no series.
    pub fn set_value(&self, selector: &str, value: Option<f64>) {
        self.set_series(
            selector,
            vec![MetricSeries::new(
                "SERVICE-0000000000000001",
                vec![0],
                vec![value],
            )],
        );
    }

    /// Answers metric queries for `selector` with these series.
    pub fn set_series(&self, selector: &str, series: Vec<MetricSeries>) {
        self.state().metrics.insert(selector.to_owned(), series);
    }

    /// Sets the `evaluatedPercentage` of the SLO with this id.
    pub fn set_slo(&self, id: &str, evaluated_percentage: f64) {
        self.state()
            .slos
            .insert(id.to_owned(), evaluated_percentage);
    }

    /// Overrides the `totalCount` answered by `GET /api/v2/problems` (the problem list itself
    /// still holds the problems the fake's metric events opened).
    pub fn set_problem_count(&self, n: i64) {
        self.state().problem_count = Some(n);
    }

    /// Sets the length of the fake Davis's samples (default one minute, as Dynatrace's). Tests
    /// and short demo runs use a second or so, so that a metric event opens a problem within
    /// seconds instead of minutes.
    pub fn set_sample_interval(&self, interval: Duration) {
        self.state().slot_ms = i64::try_from(interval.as_millis()).unwrap_or(60_000).max(1);
    }

    /// Sets how long after a sample's end the fake's Davis evaluates it (default: one sample
    /// length). Data sent later than that does not count for its sample, as on a real tenant
    /// where ingestion latency beyond the metric event's `queryOffset` is missed.
    pub fn set_evaluation_delay(&self, delay: Duration) {
        self.state().eval_delay_ms = Some(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    }

    /// How many data points were ingested and stored.
    pub fn ingested_points(&self) -> usize {
        self.state().points.len()
    }

    /// The stored data points of `key` as `(dimensions, value, timestamp ms)`; a summary gives
    /// its average, a counter its delta.
    pub fn points(&self, key: &str) -> Vec<(BTreeMap<String, String>, f64, i64)> {
        self.state()
            .points
            .iter()
            .filter(|p| p.key == key)
            .map(|p| {
                let v = match p.value {
                    crate::MetricValue::Gauge(v) | crate::MetricValue::CountDelta(v) => v,
                    crate::MetricValue::Summary { sum, count, .. } => {
                        #[allow(clippy::cast_precision_loss)]
                        let n = count as f64;
                        sum / n
                    }
                };
                (p.dims.clone(), v, p.ts)
            })
            .collect()
    }

    /// The problems the fake's metric events opened so far (the documented `Problem` shape).
    pub fn problems(&self) -> Vec<Value> {
        let mut st = self.state();
        run_davis(&mut st, chrono::Utc::now().timestamp_millis());
        st.problems.iter().map(FakeProblem::to_json).collect()
    }

    /// The next authorised request is answered with `status` (and `Retry-After: <seconds>` if
    /// given) and Dynatrace's error body instead of its normal answer. Calls queue up.
    pub fn fail_next(&self, status: u16, retry_after_secs: Option<u64>) {
        self.state().scripted.push_back((status, retry_after_secs));
    }

    /// The stored objects of a configuration collection (`autoTags`, `alertingProfiles`,
    /// `notifications`, `managementZones`, `dashboards`).
    pub fn config_objects(&self, collection: &str) -> Vec<Value> {
        self.state()
            .config
            .get(collection)
            .cloned()
            .unwrap_or_default()
    }

    /// How many successful configuration writes (POST, PUT, DELETE) were made.
    pub fn config_writes(&self) -> usize {
        self.state().writes
    }

    /// Events received on `POST /api/v1/events`.
    pub fn events_v1(&self) -> Vec<Value> {
        self.state().events_v1.clone()
    }

    /// Events received on `POST /api/v2/events/ingest`.
    pub fn events_v2(&self) -> Vec<Value> {
        self.state().events_v2.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }
}

const EVENT_TYPES: [&str; 10] = [
    "AVAILABILITY_EVENT",
    "CUSTOM_ALERT",
    "CUSTOM_ANNOTATION",
    "CUSTOM_CONFIGURATION",
    "CUSTOM_DEPLOYMENT",
    "CUSTOM_INFO",
    "ERROR_EVENT",
    "MARKED_FOR_TERMINATION",
    "PERFORMANCE_EVENT",
    "RESOURCE_CONTENTION_EVENT",
];

impl Fake {
    #[allow(clippy::too_many_lines)]
    fn answer(&self, req: &Request) -> ResponseTemplate {
        let mut st = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = req.url.path().to_owned();
        let method = req.method.as_str().to_owned();
        let query: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let body: Option<Value> = serde_json::from_slice(&req.body).ok().or_else(|| {
            (!req.body.is_empty())
                .then(|| Value::String(String::from_utf8_lossy(&req.body).into_owned()))
        });
        st.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
        });

        // authentication, as the published security scheme says
        match req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            None => return error(401, "Missing authorization parameter."),
            Some(v) if v != format!("Api-Token {}", st.token) => {
                return error(401, "Token Authentication failed");
            }
            Some(_) => {}
        }
        if let Some((status, retry_after)) = st.scripted.pop_front() {
            let mut t = error(status, "scripted failure of the fake tenant");
            if let Some(s) = retry_after {
                t = t.insert_header("Retry-After", s.to_string().as_str());
            }
            return t;
        }
        if !well_encoded(req.url.query().unwrap_or_default()) {
            return error(400, "The query string is not correctly URL-encoded.");
        }
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        for t in ["from", "to"] {
            if let Some(v) = param(t)
                && v.parse::<i64>().is_err()
                && !v.starts_with("now")
                && chrono::DateTime::parse_from_rfc3339(&v).is_err()
            {
                return violation(t, "invalid timeframe", "QUERY");
            }
        }
        if let (Some(Ok(from)), Some(Ok(to))) = (
            param("from").map(|v| v.parse::<i64>()),
            param("to").map(|v| v.parse::<i64>()),
        ) && from > to
        {
            return error(400, "The start of the timeframe must be before its end.");
        }
        let now = chrono::Utc::now().timestamp_millis();
        run_davis(&mut st, now);
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["api", "v2", "metrics", "ingest"]) => {
                let text_plain = req
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim_start().starts_with("text/plain"));
                if !text_plain {
                    return error(415, "The request body must be text/plain in the metric ingestion protocol.");
                }
                ingest(&mut st, body.as_ref(), now)
            }
            ("GET", ["api", "v2", "metrics", "query"]) => {
                let Some(selector) = param("metricSelector").filter(|s| !s.trim().is_empty()) else {
                    return violation("metricSelector", "must not be empty", "QUERY");
                };
                if let Some(p) = selector_problem(&selector) {
                    return error(400, &format!("The metric selector `{selector}` {p}."));
                }
                if let Some(e) = param("entitySelector") {
                    if let Some(p) = selector_problem(&e) {
                        return error(400, &format!("The entity selector `{e}` {p}."));
                    }
                    if !(e.contains("type(") || e.contains("entityId(")) {
                        return error(400, "The entity selector must contain exactly one 'type' or 'entityId' criterion.");
                    }
                }
                let key = fake_store::selector_key(&selector);
                let data = match st.metrics.get(&selector) {
                    Some(d) => d.clone(),
                    None if st.points.iter().any(|p| p.key == key) => {
                        let sel = match Selector::parse(&selector) {
                            Ok(s) => s,
                            Err(e) => return error(400, &format!("Invalid metric selector `{selector}`: {e}.")),
                        };
                        let from = param("from").map_or(Some(now - 7_200_000), |v| time_param(&v, now));
                        let to = param("to").map_or(Some(now), |v| time_param(&v, now));
                        let (Some(from), Some(to)) = (from, to) else {
                            return violation("from", "invalid timeframe", "QUERY");
                        };
                        let resolution = match param("resolution").as_deref() {
                            Some("Inf") => None,
                            Some(r) => match duration_ms(r) {
                                Some(ms) => Some(ms),
                                None => return violation("resolution", "invalid resolution", "QUERY"),
                            },
                            None => Some(60_000),
                        };
                        fake_store::query(&st.points, &sel, from, to, resolution)
                    }
                    None => Vec::new(),
                };
                let body = json!({
                    "totalCount": data.len(),
                    "nextPageKey": null,
                    "resolution": param("resolution").unwrap_or_else(|| "1m".to_owned()),
                    "warnings": [],
                    "result": [{"metricId": selector, "dataPointCountRatio": 0.0001, "dimensionCountRatio": 0.0001, "data": data}],
                });
                ResponseTemplate::new(200).set_body_json(body).set_delay(st.latency)
            }
            ("GET", ["api", "v2", "slo", id]) => match st.slos.get(*id) {
                Some(p) => ResponseTemplate::new(200)
                    .set_body_json(json!({"id": id, "name": "fake SLO", "enabled": true, "evaluatedPercentage": p, "error": "NONE", "target": 95.0, "warning": 97.5, "timeframe": "-1d"}))
                    .set_delay(st.latency),
                None => error(404, &format!("SLO {id} not found")),
            },
            ("GET", ["api", "v2", "problems"]) => {
                let filter = match ProblemFilter::parse(&param("problemSelector").unwrap_or_default()) {
                    Ok(f) => f,
                    Err(e) => return violation("problemSelector", &e, "QUERY"),
                };
                let from = param("from").map_or(Some(now - 7_200_000), |v| time_param(&v, now));
                let to = param("to").map_or(Some(now), |v| time_param(&v, now));
                let (Some(from), Some(to)) = (from, to) else {
                    return violation("from", "invalid timeframe", "QUERY");
                };
                // problems of metric events on custom metrics have no entities
                let entity_scoped = param("entitySelector").is_some();
                let list: Vec<Value> = st
                    .problems
                    .iter()
                    .filter(|p| !entity_scoped && filter.matches(p))
                    .filter(|p| p.start <= to && p.end.is_none_or(|e| e >= from))
                    .map(FakeProblem::to_json)
                    .collect();
                let total = st.problem_count.unwrap_or(list.len() as i64);
                ResponseTemplate::new(200)
                    .set_body_json(json!({"totalCount": total, "pageSize": 50, "nextPageKey": null, "problems": list}))
                    .set_delay(st.latency)
            }
            ("GET", ["api", "v2", "problems", id]) => match st.problems.iter().find(|p| p.id == *id) {
                Some(p) => ResponseTemplate::new(200).set_body_json(p.to_json()),
                None => error(404, &format!("Problem {id} not found")),
            },
            (m, ["api", "config", "v1", "anomalyDetection", "metricEvents", rest @ ..]) => {
                Self::config(&mut st, m, "metricEvents", rest.first().copied(), body)
            }
            ("POST", ["api", "v1", "events"]) => {
                let Some(b) = body else {
                    return error(400, "Could not map JSON at '' near line 1 column 1");
                };
                if let Some(f) = required(&b, &["attachRules", "eventType", "source"]) {
                    return violation(&f, "may not be null", "PAYLOAD_BODY");
                }
                let ty = b["eventType"].as_str().unwrap_or_default();
                if !EVENT_TYPES.contains(&ty) || ty == "RESOURCE_CONTENTION_EVENT" {
                    return violation("eventType", "unknown event type", "PAYLOAD_BODY");
                }
                st.events_v1.push(b);
                let n = st.events_v1.len();
                ResponseTemplate::new(200).set_body_json(json!({"storedEventIds": [n], "storedIds": [format!("{n}_1")], "storedCorrelationIds": []}))
            }
            ("POST", ["api", "v2", "events", "ingest"]) => {
                let Some(b) = body else {
                    return error(400, "Could not map JSON at '' near line 1 column 1");
                };
                if let Some(f) = required(&b, &["eventType", "title"]) {
                    return violation(&f, "may not be null", "PAYLOAD_BODY");
                }
                if !EVENT_TYPES.contains(&b["eventType"].as_str().unwrap_or_default()) {
                    return violation("eventType", "unknown event type", "PAYLOAD_BODY");
                }
                st.events_v2.push(b);
                let n = st.events_v2.len();
                ResponseTemplate::new(201).set_body_json(json!({"reportCount": 1, "eventIngestResults": [{"correlationId": format!("fake-{n}"), "status": "OK"}]}))
            }
            (m, ["api", "config", "v1", collection, rest @ ..]) if COLLECTIONS.contains(collection) => {
                let collection = (*collection).to_owned();
                Self::config(&mut st, m, &collection, rest.first().copied(), body)
            }
            _ => error(404, &format!("{method} {path} is not part of the API")),
        }
    }

    fn config(
        st: &mut State,
        method: &str,
        collection: &str,
        id: Option<&str>,
        body: Option<Value>,
    ) -> ResponseTemplate {
        match (method, id) {
            ("GET", None) => {
                let items = st.config.get(collection).cloned().unwrap_or_default();
                let stubs: Vec<Value> = items
                    .iter()
                    .map(|o| match collection {
                        "notifications" => json!({"id": o["id"], "name": o["name"], "type": o["type"]}),
                        "dashboards" => json!({"id": o["id"], "name": o["dashboardMetadata"]["name"], "owner": o["dashboardMetadata"]["owner"]}),
                        _ => json!({"id": o["id"], "name": name_of(collection, o)}),
                    })
                    .collect();
                let key = if collection == "dashboards" {
                    "dashboards"
                } else {
                    "values"
                };
                ResponseTemplate::new(200).set_body_json(json!({ key: stubs }))
            }
            ("GET", Some(id)) => match st
                .config
                .get(collection)
                .into_iter()
                .flatten()
                .find(|o| o["id"] == id)
            {
                Some(o) => ResponseTemplate::new(200).set_body_json(o.clone()),
                None => error(404, &format!("{collection} {id} not found")),
            },
            ("POST" | "PUT", id) => {
                let Some(Value::Object(mut obj)) = body else {
                    return error(400, "Could not map JSON at '' near line 1 column 1");
                };
                if let Err(t) = validate_config(collection, &Value::Object(obj.clone()), st) {
                    return t;
                }
                let existing = id.and_then(|id| {
                    st.config
                        .get(collection)
                        .and_then(|v| v.iter().position(|o| o["id"] == id))
                });
                let new_id = match id {
                    Some(id) => id.to_owned(),
                    None => {
                        st.next_id += 1;
                        format!("00000000-0000-4000-8000-{:012}", st.next_id)
                    }
                };
                obj.insert("id".to_owned(), json!(new_id));
                obj.insert(
                    "metadata".to_owned(),
                    json!({"clusterVersion": "1.254.0", "configurationVersions": [1]}),
                );
                let obj = Value::Object(obj);
                let name = name_of(collection, &obj);
                let list = st.config.entry(collection.to_owned()).or_default();
                st.writes += 1;
                match existing {
                    Some(i) => {
                        list[i] = obj;
                        ResponseTemplate::new(204)
                    }
                    None => {
                        list.push(obj);
                        ResponseTemplate::new(201)
                            .set_body_json(json!({"id": new_id, "name": name}))
                    }
                }
            }
            ("DELETE", Some(id)) => {
                let list = st.config.entry(collection.to_owned()).or_default();
                match list.iter().position(|o| o["id"] == id) {
                    Some(i) => {
                        list.remove(i);
                        st.writes += 1;
                        ResponseTemplate::new(204)
                    }
                    None => error(404, &format!("{collection} {id} not found")),
                }
            }
            _ => error(405, "method not allowed"),
        }
    }
}

/// Runs the simplified Davis over every stored metric event.
fn run_davis(st: &mut State, now: i64) {
    let events = st.config.get("metricEvents").cloned().unwrap_or_default();
    for e in &events {
        let id = e["id"].as_str().unwrap_or_default().to_owned();
        let mut es = st.event_states.remove(&id).unwrap_or_default();
        fake_store::evaluate(
            e,
            &mut es,
            &st.points,
            &mut st.problems,
            &mut st.next_problem,
            st.slot_ms,
            st.eval_delay_ms.unwrap_or(st.slot_ms),
            now,
        );
        st.event_states.insert(id, es);
    }
}

/// `POST /api/v2/metrics/ingest`: every valid line is stored; 202 when all were valid, 400 with
/// the invalid lines otherwise (the documented `ValidationResponse`).
fn ingest(st: &mut State, body: Option<&Value>, now: i64) -> ResponseTemplate {
    let text = match body {
        Some(Value::String(t)) => t.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut ok = 0u64;
    let mut invalid = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(p) => {
                if let Some(ts) = p.timestamp
                    && (ts < now - 3_600_000 || ts > now + 600_000)
                {
                    invalid.push(json!({"line": i + 1, "error": "timestamp out of range: it must be within the last hour and at most 10 minutes in the future"}));
                    continue;
                }
                st.points.push(Point::new(p, now));
                ok += 1;
            }
            Err(e) => invalid.push(json!({"line": i + 1, "error": e})),
        }
    }
    if ok == 0 && invalid.is_empty() {
        return ResponseTemplate::new(400).set_body_json(json!({"linesOk": 0, "linesInvalid": 0,
            "error": {"code": 400, "message": "The request body contains no metric lines", "invalidLines": []}}));
    }
    // Dynatrace keeps its stores bounded; so does the fake (the oldest points go first)
    if st.points.len() > 500_000 {
        let drop = st.points.len() - 500_000;
        st.points.drain(..drop);
    }
    if invalid.is_empty() {
        ResponseTemplate::new(202).set_body_json(
            json!({"linesOk": ok, "linesInvalid": 0, "error": null, "warnings": null}),
        )
    } else {
        let n = invalid.len();
        ResponseTemplate::new(400).set_body_json(json!({"linesOk": ok, "linesInvalid": n,
            "error": {"code": 400, "message": format!("{n} invalid lines"), "invalidLines": invalid}, "warnings": null}))
    }
}

/// A time parameter: UTC milliseconds, `now`, `now-<n><s|m|h|d>` or RFC 3339.
fn time_param(v: &str, now: i64) -> Option<i64> {
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    if v == "now" {
        return Some(now);
    }
    if let Some(rel) = v.strip_prefix("now-") {
        return duration_ms(rel).map(|d| now - d);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `30s`, `1m`, `2h`, `1d` in milliseconds.
fn duration_ms(v: &str) -> Option<i64> {
    let unit = v.chars().last()?;
    let n: i64 = v[..v.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    let factor = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    Some(n * factor)
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.answer(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Selector checks catch unbalanced parentheses, quotes and leftover escapes.
    #[test]
    fn selector_checks() {
        assert_eq!(
            selector_problem(
                "builtin:service.response.time:merge(\"dt.entity.service\"):percentile(95)"
            ),
            None
        );
        assert!(selector_problem("a:merge(0").is_some());
        assert!(selector_problem("a:merge(0))").is_some());
        assert!(selector_problem("a:merge(\"x)").is_some());
        assert!(selector_problem("builtin%3Aservice").is_some());
        assert!(well_encoded("a=%20b&c=d"));
        assert!(!well_encoded("a=%2"));
        assert!(!well_encoded("a=%zz"));
    }
}
