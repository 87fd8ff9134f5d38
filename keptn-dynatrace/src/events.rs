//! Keptn events → Dynatrace events: deployments, test start/stop, evaluation results and
//! remediation actions, sent to `/api/v1/events` or the v2 ingest endpoint.

use std::collections::BTreeMap;

use keptn_spec::event::{EventType, KeptnEvent, Phase, Task};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::DynatraceClient;
use crate::error::Result;

/// The `source` Keptn's dynatrace-service put on its events (kept so existing Dynatrace
/// filters keep matching).
pub const DYNATRACE_EVENT_SOURCE: &str = "Keptn dynatrace-service";

/// A Dynatrace event derived from a Keptn event, independent of the API version it is sent to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DynatraceEvent {
    /// `CUSTOM_DEPLOYMENT`, `CUSTOM_ANNOTATION`, `CUSTOM_INFO` or `CUSTOM_CONFIGURATION`.
    pub event_type: String,
    /// The title (v1: `title`, or `deploymentName` for deployments).
    pub title: String,
    /// The description, if any.
    pub description: Option<String>,
    /// Deployment version (the artifact's tag), for deployments.
    pub deployment_version: Option<String>,
    /// Keptn's custom properties: `Project`, `Stage`, `Service`, `TestStrategy`, `Image`, `Tag`,
    /// `KeptnContext`, the event's labels, `Keptns Bridge`, and per type extras.
    pub properties: BTreeMap<String, String>,
    /// Project, stage and service of the Keptn event (for the attach rules).
    pub scope: [String; 3],
}

impl DynatraceEvent {
    fn new(
        event_type: &str,
        title: String,
        scope: [String; 3],
        properties: BTreeMap<String, String>,
    ) -> Self {
        Self {
            event_type: event_type.to_owned(),
            title,
            description: None,
            deployment_version: None,
            properties,
            scope,
        }
    }

    fn tag_rule(&self) -> Value {
        let [p, s, svc] = &self.scope;
        json!({"tagRule": [{"meTypes": ["SERVICE"], "tags": [
            {"context": "CONTEXTLESS", "key": "keptn_project", "value": p},
            {"context": "CONTEXTLESS", "key": "keptn_stage", "value": s},
            {"context": "CONTEXTLESS", "key": "keptn_service", "value": svc},
        ]}]})
    }

    /// The body for `POST /api/v1/events` (`EventCreation`), with Keptn's attach rules unless
    /// `attach_rules` are given.
    pub fn to_v1(&self, attach_rules: Option<&Value>) -> Value {
        let mut body = json!({
            "eventType": self.event_type,
            "source": DYNATRACE_EVENT_SOURCE,
            "attachRules": attach_rules.cloned().unwrap_or_else(|| self.tag_rule()),
            "customProperties": self.properties,
        });
        match self.event_type.as_str() {
            "CUSTOM_DEPLOYMENT" => {
                body["deploymentName"] = json!(self.title);
                body["deploymentVersion"] =
                    json!(self.deployment_version.clone().unwrap_or_default());
                body["deploymentProject"] = json!(self.scope[0]);
                if let Some(link) = self.properties.get("ciBackLink") {
                    body["ciBackLink"] = json!(link);
                }
                if let Some(a) = self.properties.get("remediationAction") {
                    body["remediationAction"] = json!(a);
                }
            }
            "CUSTOM_ANNOTATION" => {
                body["annotationType"] = json!(self.title);
                body["annotationDescription"] = json!(self.description.clone().unwrap_or_default());
            }
            "CUSTOM_CONFIGURATION" => {
                body["configuration"] = json!(self.title);
                body["description"] = json!(self.description.clone().unwrap_or_default());
            }
            _ => {
                body["title"] = json!(self.title);
                body["description"] = json!(self.description.clone().unwrap_or_default());
            }
        }
        if body.get("title").is_none() {
            body["title"] = json!(self.title);
        }
        body
    }

    /// The body for `POST /api/v2/events/ingest` (`EventIngest`): the entity selector of the
    /// service's Keptn tags and the properties (deployment name/version as `dt.event.deployment.*`).
    pub fn to_v2(&self) -> Value {
        let [p, s, svc] = &self.scope;
        let mut properties = self.properties.clone();
        if let Some(d) = &self.description {
            properties.insert("description".to_owned(), d.clone());
        }
        if self.event_type == "CUSTOM_DEPLOYMENT" {
            properties.insert("dt.event.deployment.name".to_owned(), self.title.clone());
            properties.insert(
                "dt.event.deployment.version".to_owned(),
                self.deployment_version.clone().unwrap_or_default(),
            );
            properties.insert("dt.event.deployment.project".to_owned(), p.clone());
        }
        json!({
            "eventType": self.event_type,
            "title": self.title,
            "entitySelector": format!("type(SERVICE),tag(keptn_project:{p}),tag(keptn_stage:{s}),tag(keptn_service:{svc})"),
            "properties": properties,
        })
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Maps one Keptn event to the Dynatrace events Keptn's dynatrace-service sent for it (none for
/// events it ignored). Generation-1 events are read through their generation-2 equivalent.
///
/// * deployment finished → `CUSTOM_DEPLOYMENT` (`Deploy <service> <tag> with strategy <strategy>`,
///   or the `deploymentName` label) and, with a test strategy, `CUSTOM_ANNOTATION`
///   `Start Tests: <strategy>`;
/// * test triggered → `CUSTOM_ANNOTATION` `Start Tests: <strategy>`; test finished →
///   `Stop Tests: <strategy>`;
/// * evaluation finished → `CUSTOM_INFO` `Quality Gate Result: <result> (<score>/100)`;
/// * action triggered / finished → `CUSTOM_INFO` "Keptn Remediation Action Triggered" /
///   `CUSTOM_CONFIGURATION` "Keptn Remediation Action Finished";
/// * remediation finished → `CUSTOM_INFO` "Remediation action successful" / "not successful".
///
/// The labels `title` and `description` override the texts, as in Keptn.
pub fn dynatrace_events(event: &KeptnEvent, bridge_url: Option<&str>) -> Vec<DynatraceEvent> {
    let converted;
    let event = if event.ty.is_gen1() || event.is_gen1_envelope() {
        converted = event.to_gen2();
        &converted
    } else {
        event
    };
    let d = &event.data;
    let (Some(project), Some(stage), Some(service)) = (
        str_at(d, &["project"]),
        str_at(d, &["stage"]),
        str_at(d, &["service"]),
    ) else {
        return Vec::new();
    };
    let scope = [project.to_owned(), stage.to_owned(), service.to_owned()];
    let labels: BTreeMap<String, String> = d
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let test_strategy = str_at(d, &["test", "teststrategy"])
        .or_else(|| str_at(d, &["teststrategy"]))
        .or_else(|| labels.get("teststrategy").map(String::as_str))
        .unwrap_or_default()
        .to_owned();
    let image = str_at(d, &["image"])
        .or_else(|| str_at(d, &["configurationChange", "values", "image"]))
        .unwrap_or_default()
        .to_owned();
    let tag = str_at(d, &["tag"])
        .map(str::to_owned)
        .or_else(|| image.rsplit_once(':').map(|(_, t)| t.to_owned()))
        .unwrap_or_default();
    let mut props = BTreeMap::from([
        ("Project".to_owned(), project.to_owned()),
        ("Stage".to_owned(), stage.to_owned()),
        ("Service".to_owned(), service.to_owned()),
        ("TestStrategy".to_owned(), test_strategy.clone()),
        ("Image".to_owned(), image),
        ("Tag".to_owned(), tag.clone()),
    ]);
    let context = event
        .shkeptncontext
        .map(|c| c.to_string())
        .unwrap_or_default();
    props.insert("KeptnContext".to_owned(), context.clone());
    for (k, v) in &labels {
        props.insert(k.clone(), v.clone());
    }
    if let Some(bridge) = bridge_url {
        props.insert(
            "Keptns Bridge".to_owned(),
            format!("{}/trace/{context}", bridge.trim_end_matches('/')),
        );
    }
    let overridden = |mut e: DynatraceEvent| {
        if let Some(t) = labels.get("title") {
            e.title.clone_from(t);
        }
        if let Some(desc) = labels.get("description") {
            e.description = Some(desc.clone());
        }
        e
    };
    let (Some(task), Some(phase)) = (event.ty.task_name(), event.ty.phase()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match (task, phase) {
        (Task::Deployment, Phase::Finished) => {
            let strategy = str_at(d, &["deployment", "deploymentstrategy"])
                .or_else(|| str_at(d, &["deploymentstrategy"]))
                .unwrap_or("direct");
            let name = labels
                .get("deploymentName")
                .cloned()
                .unwrap_or_else(|| format!("Deploy {service} {tag} with strategy {strategy}"));
            let mut p = props.clone();
            for (key, path) in [
                ("deploymentURILocal", "deploymentURIsLocal"),
                ("deploymentURIPublic", "deploymentURIsPublic"),
            ] {
                if let Some(uris) = d
                    .get("deployment")
                    .and_then(|x| x.get(path))
                    .and_then(Value::as_array)
                {
                    let uris: Vec<&str> = uris.iter().filter_map(Value::as_str).collect();
                    p.insert(key.to_owned(), uris.join(","));
                }
            }
            let mut e = DynatraceEvent::new("CUSTOM_DEPLOYMENT", name, scope.clone(), p);
            e.deployment_version = Some(tag.clone());
            out.push(overridden(e));
            if !test_strategy.is_empty() {
                out.push(DynatraceEvent::new(
                    "CUSTOM_ANNOTATION",
                    format!("Start Tests: {test_strategy}"),
                    scope,
                    props,
                ));
            }
        }
        (Task::Test, Phase::Triggered) => {
            out.push(DynatraceEvent::new(
                "CUSTOM_ANNOTATION",
                format!("Start Tests: {test_strategy}"),
                scope,
                props,
            ));
        }
        (Task::Test, Phase::Finished) => {
            out.push(DynatraceEvent::new(
                "CUSTOM_ANNOTATION",
                format!("Stop Tests: {test_strategy}"),
                scope,
                props,
            ));
        }
        (Task::Evaluation, Phase::Finished) => {
            let ev = d.get("evaluation").unwrap_or(&Value::Null);
            let result = str_at(d, &["result"])
                .or_else(|| str_at(ev, &["result"]))
                .unwrap_or("unknown")
                .to_owned();
            let score = ev.get("score").and_then(Value::as_f64).unwrap_or(0.0);
            let mut p = props;
            p.insert("Quality Gate Score".to_owned(), format!("{score}"));
            let slis = ev
                .get("indicatorResults")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            p.insert("No of evaluated SLIs".to_owned(), slis.to_string());
            p.insert(
                "Evaluation Start".to_owned(),
                str_at(ev, &["timeStart"]).unwrap_or_default().to_owned(),
            );
            p.insert(
                "Evaluation End".to_owned(),
                str_at(ev, &["timeEnd"]).unwrap_or_default().to_owned(),
            );
            let mut e = DynatraceEvent::new(
                "CUSTOM_INFO",
                format!("Quality Gate Result: {result} ({score}/100)"),
                scope,
                p,
            );
            e.description = Some(format!("Keptn evaluation status: {result}"));
            out.push(overridden(e));
        }
        (Task::Action, Phase::Triggered) => {
            let action = str_at(d, &["action", "action"])
                .unwrap_or_default()
                .to_owned();
            let mut e = DynatraceEvent::new(
                "CUSTOM_INFO",
                "Keptn Remediation Action Triggered".to_owned(),
                scope,
                props,
            );
            e.description = Some(format!(
                "{action}: {}",
                str_at(d, &["action", "description"]).unwrap_or_default()
            ));
            out.push(overridden(e));
        }
        (Task::Action, Phase::Finished) => {
            let result = str_at(d, &["result"]).unwrap_or("unknown");
            let mut e = DynatraceEvent::new(
                "CUSTOM_CONFIGURATION",
                "Keptn Remediation Action Finished".to_owned(),
                scope,
                props,
            );
            e.description = Some(format!("Keptn remediation action result: {result}"));
            out.push(overridden(e));
        }
        (Task::Remediation, Phase::Finished) => {
            let ok = str_at(d, &["result"]) == Some("pass");
            let title = if ok {
                "Remediation action successful"
            } else {
                "Remediation action not successful"
            };
            let mut e = DynatraceEvent::new("CUSTOM_INFO", title.to_owned(), scope, props);
            e.description = str_at(d, &["message"]).map(str::to_owned);
            out.push(overridden(e));
        }
        _ => {}
    }
    out
}

/// Sends Keptn events to Dynatrace as Keptn's dynatrace-service did.
#[derive(Debug, Clone)]
pub struct EventForwarder {
    client: DynatraceClient,
    attach_rules: Option<Value>,
    bridge_url: Option<String>,
}

impl EventForwarder {
    /// A forwarder with Keptn's default attach rules (services tagged with the event's
    /// project, stage and service).
    pub fn new(client: DynatraceClient) -> Self {
        Self {
            client,
            attach_rules: None,
            bridge_url: None,
        }
    }

    /// Uses these `attachRules` (as `dynatrace/dynatrace.conf.yaml` allowed) for v1 events.
    #[must_use]
    pub fn with_attach_rules(mut self, rules: Value) -> Self {
        self.attach_rules = Some(rules);
        self
    }

    /// Adds the `Keptns Bridge` link property (`<bridge>/trace/<context>`).
    #[must_use]
    pub fn with_bridge_url(mut self, url: impl Into<String>) -> Self {
        self.bridge_url = Some(url.into());
        self
    }

    /// Sends the Dynatrace events of `event` to `POST /api/v1/events`; returns how many.
    ///
    /// # Errors
    /// The client's errors ([`crate::Error::Status`], [`crate::Error::Transport`], …) for the
    /// first event that could not be sent.
    pub async fn forward_v1(&self, event: &KeptnEvent) -> Result<usize> {
        let events = dynatrace_events(event, self.bridge_url.as_deref());
        for e in &events {
            let body = e.to_v1(self.attach_rules.as_ref());
            self.client
                .send(Method::POST, "/api/v1/events", &[], Some(&body))
                .await?;
        }
        Ok(events.len())
    }

    /// Sends the Dynatrace events of `event` to `POST /api/v2/events/ingest`; returns how many.
    ///
    /// # Errors
    /// As [`EventForwarder::forward_v1`].
    pub async fn forward_v2(&self, event: &KeptnEvent) -> Result<usize> {
        let events = dynatrace_events(event, self.bridge_url.as_deref());
        for e in &events {
            self.client
                .send(Method::POST, "/api/v2/events/ingest", &[], Some(&e.to_v2()))
                .await?;
        }
        Ok(events.len())
    }
}

/// The event types [`dynatrace_events`] maps (for subscribing to only those).
pub fn forwarded_event_types() -> Vec<EventType> {
    [
        (Task::Deployment, Phase::Finished),
        (Task::Test, Phase::Triggered),
        (Task::Test, Phase::Finished),
        (Task::Evaluation, Phase::Finished),
        (Task::Action, Phase::Triggered),
        (Task::Action, Phase::Finished),
        (Task::Remediation, Phase::Finished),
    ]
    .into_iter()
    .map(|(t, p)| EventType::task(t, p))
    .collect()
}
