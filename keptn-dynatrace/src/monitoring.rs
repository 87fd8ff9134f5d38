//! Monitoring set-up: what `keptn configure monitoring dynatrace` did, idempotent.

use std::fmt;

use keptn_spec::{ProjectName, StageName};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

mod bodies;
pub use bodies::{AlertCondition, MetricEvent, dashboard_name};
use bodies::{alerting_profile, auto_tag, dashboard, management_zone};

use crate::client::DynatraceClient;
use crate::error::{Error, Result};

/// The tag keys Keptn's auto-tagging rules create, read from the workload's
/// `DT_CUSTOM_PROP="keptn_project=… keptn_stage=… keptn_service=… keptn_deployment=…"`.
pub const KEPTN_TAGS: [&str; 4] = [
    "keptn_project",
    "keptn_stage",
    "keptn_service",
    "keptn_deployment",
];

/// The name of Keptn's alerting profile.
pub const ALERTING_PROFILE_NAME: &str = "Keptn";

/// The name of Keptn's problem notification.
pub const NOTIFICATION_NAME: &str = "Keptn Problem Notification";

/// The problem-notification payload Keptn configures (dynatrace-service for Keptn 0.8: a
/// CloudEvents 1.0 `sh.keptn.events.problem` with Dynatrace's `{placeholders}`). Its
/// `shkeptncontext` is the problem's `PID`, so that Keptn's API derives one context for the
/// OPEN and the RESOLVED notification of a problem.
pub const PROBLEM_PAYLOAD_TEMPLATE: &str = r#"{"specversion":"1.0","shkeptncontext":"{PID}","type":"sh.keptn.events.problem","source":"dynatrace","id":"{PID}","time":"","contenttype":"application/json","data":{"State":"{State}","ProblemID":"{ProblemID}","PID":"{PID}","ProblemTitle":"{ProblemTitle}","ProblemURL":"{ProblemURL}","ProblemDetails":{ProblemDetailsJSON},"Tags":"{Tags}","ImpactedEntities":{ImpactedEntities},"ImpactedEntity":"{ImpactedEntity}"}}"#;

/// The kind of configuration object a set-up step manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigKind {
    /// An auto-tagging rule (`/api/config/v1/autoTags`).
    AutoTag,
    /// An alerting profile (`/api/config/v1/alertingProfiles`).
    AlertingProfile,
    /// A problem notification (`/api/config/v1/notifications`).
    ProblemNotification,
    /// A management zone (`/api/config/v1/managementZones`).
    ManagementZone,
    /// A dashboard (`/api/config/v1/dashboards`).
    Dashboard,
    /// A metric event of anomaly detection (`/api/config/v1/anomalyDetection/metricEvents`).
    MetricEvent,
}

impl ConfigKind {
    fn path(self) -> &'static str {
        match self {
            ConfigKind::AutoTag => "/api/config/v1/autoTags",
            ConfigKind::AlertingProfile => "/api/config/v1/alertingProfiles",
            ConfigKind::ProblemNotification => "/api/config/v1/notifications",
            ConfigKind::ManagementZone => "/api/config/v1/managementZones",
            ConfigKind::Dashboard => "/api/config/v1/dashboards",
            ConfigKind::MetricEvent => "/api/config/v1/anomalyDetection/metricEvents",
        }
    }
}

impl fmt::Display for ConfigKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigKind::AutoTag => "auto-tagging rule",
            ConfigKind::AlertingProfile => "alerting profile",
            ConfigKind::ProblemNotification => "problem notification",
            ConfigKind::ManagementZone => "management zone",
            ConfigKind::Dashboard => "dashboard",
            ConfigKind::MetricEvent => "metric event",
        })
    }
}

/// What a set-up step did (in a dry run: what it would have done).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed with different settings and was replaced in place.
    Updated,
    /// The object existed as wanted; nothing was sent.
    Unchanged,
    /// A duplicate of the object (same name) was deleted.
    Deleted,
    /// The step was not run, and why.
    Skipped(String),
    /// The step failed; later steps still ran (as in Keptn).
    Failed(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Created => f.write_str("created"),
            Action::Updated => f.write_str("updated"),
            Action::Unchanged => f.write_str("left alone"),
            Action::Deleted => f.write_str("deleted duplicate"),
            Action::Skipped(why) => write!(f, "skipped ({why})"),
            Action::Failed(why) => write!(f, "FAILED: {why}"),
        }
    }
}

/// One line of a [`SetupReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportItem {
    /// What kind of object.
    pub kind: ConfigKind,
    /// Its name, such as `keptn_stage` or `Keptn: sockshop staging`.
    pub name: String,
    /// What was (or would be) done.
    pub action: Action,
    /// The object's id in Dynatrace, when known.
    pub id: Option<String>,
}

/// What a [`MonitoringSetup`] run did, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SetupReport {
    /// Whether this was a dry run (nothing was written).
    pub dry_run: bool,
    /// One item per managed object, in the order of the steps.
    pub items: Vec<ReportItem>,
}

impl SetupReport {
    /// Whether no step failed.
    pub fn is_success(&self) -> bool {
        !self
            .items
            .iter()
            .any(|i| matches!(i.action, Action::Failed(_)))
    }

    /// Whether the run changed (or in a dry run: would change) anything.
    pub fn changed_anything(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(
                i.action,
                Action::Created | Action::Updated | Action::Deleted
            )
        })
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.items {
            let would = if self.dry_run
                && matches!(
                    i.action,
                    Action::Created | Action::Updated | Action::Deleted
                ) {
                "would be "
            } else {
                ""
            };
            writeln!(f, "{} `{}`: {would}{}", i.kind, i.name, i.action)?;
        }
        Ok(())
    }
}

/// Whether a run writes to Dynatrace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Create, update and delete as needed.
    #[default]
    Apply,
    /// Only read and report what would be done.
    DryRun,
}

/// Where Dynatrace sends problem notifications: Keptn's event endpoint (`…/v1/event`, or any
/// receiver that accepts the payload) and the `x-token` it wants.
#[derive(Clone)]
pub struct KeptnEndpoint {
    url: String,
    token: Option<SecretString>,
    accept_any_certificate: bool,
}

impl fmt::Debug for KeptnEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptnEndpoint")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("accept_any_certificate", &self.accept_any_certificate)
            .finish()
    }
}

impl KeptnEndpoint {
    /// An endpoint URL, such as `https://keptn.example.com/api/v1/event`, without a token.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            accept_any_certificate: false,
        }
    }

    /// Sends `x-token: <token>` with each notification (stored in Dynatrace's configuration).
    #[must_use]
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Lets Dynatrace accept any TLS certificate of the endpoint. Keptn always set this; here it
    /// is off unless asked for (deliberate difference: a self-signed endpoint must opt in).
    #[must_use]
    pub fn accepting_any_certificate(mut self) -> Self {
        self.accept_any_certificate = true;
        self
    }
}

/// Configures a Dynatrace tenant for Keptn, like `keptn configure monitoring dynatrace`:
///
/// 1. auto-tagging rules `keptn_project`, `keptn_stage`, `keptn_service`, `keptn_deployment`
///    (created when missing; existing rules of that name are left alone, as Keptn did);
/// 2. the alerting profile `Keptn` (all severities, 0-minute delay);
/// 3. the problem notification `Keptn Problem Notification` (webhook with Keptn's payload to the
///    [`KeptnEndpoint`]; skipped without an endpoint);
/// 4. with a project: management zones `Keptn: <project>` and `Keptn: <project> <stage>`;
/// 5. with a project: the dashboard `<project>@keptn: Digital Delivery & Operations Dashboard`.
///
/// Idempotent: an object that exists with the wanted settings is left alone, one with other
/// settings is replaced in place (`PUT`), duplicates by name are deleted; a second run makes no
/// change. (Keptn deleted and re-created the notification and dashboard on every run.) A failed
/// step is reported and the later steps still run, as in Keptn.
#[derive(Debug, Clone)]
pub struct MonitoringSetup {
    client: DynatraceClient,
    project: Option<ProjectName>,
    stages: Vec<StageName>,
    endpoint: Option<KeptnEndpoint>,
    mode: Mode,
    metric_events: Vec<MetricEvent>,
}

impl MonitoringSetup {
    /// A set-up without project (tagging rules, alerting profile, notification only).
    pub fn new(client: DynatraceClient) -> Self {
        Self {
            client,
            project: None,
            stages: Vec::new(),
            endpoint: None,
            mode: Mode::Apply,
            metric_events: Vec::new(),
        }
    }

    /// Also makes sure this metric event exists (by name) with these settings — last step.
    #[must_use]
    pub fn with_metric_event(mut self, event: MetricEvent) -> Self {
        self.metric_events.push(event);
        self
    }

    /// Adds the management zones and dashboard of `project` and its `stages`.
    #[must_use]
    pub fn with_project(mut self, project: ProjectName, stages: Vec<StageName>) -> Self {
        self.project = Some(project);
        self.stages = stages;
        self
    }

    /// Sets where problem notifications go.
    #[must_use]
    pub fn with_keptn_endpoint(mut self, endpoint: KeptnEndpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Sets the mode ([`Mode::DryRun`] only reads and reports).
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Runs every step and reports what it did.
    ///
    /// Step failures are items with [`Action::Failed`] in the report, not errors; check
    /// [`SetupReport::is_success`].
    pub async fn run(&self) -> SetupReport {
        let mut report = SetupReport {
            dry_run: self.mode == Mode::DryRun,
            items: Vec::new(),
        };
        for tag in KEPTN_TAGS {
            let item = self
                .ensure_exists(ConfigKind::AutoTag, tag, auto_tag(tag))
                .await;
            report.items.push(item);
        }
        let profile = self
            .ensure(
                ConfigKind::AlertingProfile,
                ALERTING_PROFILE_NAME,
                alerting_profile(),
            )
            .await;
        let profile_id = profile.id.clone();
        report.items.push(profile);
        report.items.extend(self.notification(profile_id).await);
        if let Some(project) = &self.project {
            let name = format!("Keptn: {project}");
            let zone = self
                .ensure(
                    ConfigKind::ManagementZone,
                    &name,
                    management_zone(&name, project, None),
                )
                .await;
            report.items.push(zone);
            let mut stage_zones = Vec::new();
            for stage in &self.stages {
                let name = format!("Keptn: {project} {stage}");
                let item = self
                    .ensure(
                        ConfigKind::ManagementZone,
                        &name,
                        management_zone(&name, project, Some(stage)),
                    )
                    .await;
                stage_zones.push((stage.clone(), name, item.id.clone()));
                report.items.push(item);
            }
            let name = dashboard_name(project);
            let body = dashboard(&name, project, &stage_zones);
            report
                .items
                .push(self.ensure(ConfigKind::Dashboard, &name, body).await);
        }
        for event in &self.metric_events {
            report.items.push(
                self.ensure(ConfigKind::MetricEvent, &event.name, event.to_json())
                    .await,
            );
        }
        report
    }

    async fn notification(&self, profile_id: Option<String>) -> Vec<ReportItem> {
        let item = |action| ReportItem {
            kind: ConfigKind::ProblemNotification,
            name: NOTIFICATION_NAME.to_owned(),
            action,
            id: None,
        };
        let Some(endpoint) = &self.endpoint else {
            return vec![item(Action::Skipped("no Keptn endpoint given".to_owned()))];
        };
        let profile_id =
            profile_id.unwrap_or_else(|| "<id of the new alerting profile>".to_owned());
        let mut headers = Vec::new();
        if let Some(token) = &endpoint.token {
            headers.push(json!({"name": "x-token", "value": token.expose_secret()}));
        }
        headers.push(json!({"name": "Content-Type", "value": "application/cloudevents+json"}));
        let body = json!({
            "type": "WEBHOOK",
            "name": NOTIFICATION_NAME,
            "alertingProfile": profile_id,
            "active": true,
            "url": endpoint.url,
            "acceptAnyCertificate": endpoint.accept_any_certificate,
            "notifyEventMergesEnabled": false,
            "headers": headers,
            "payload": PROBLEM_PAYLOAD_TEMPLATE,
        });
        vec![
            self.ensure(ConfigKind::ProblemNotification, NOTIFICATION_NAME, body)
                .await,
        ]
    }

    /// Lists `kind` and returns the ids of the objects named `name`.
    async fn find(&self, kind: ConfigKind, name: &str) -> Result<Vec<String>> {
        let list: Value = self.client.get_json(kind.path(), &[]).await?;
        let key = if kind == ConfigKind::Dashboard {
            "dashboards"
        } else {
            "values"
        };
        let entries = list
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Decode {
                endpoint: kind.path().to_owned(),
                message: format!("the list has no `{key}` array"),
            })?;
        Ok(entries
            .iter()
            .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
            .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// Creates the object when no object of that name exists; leaves existing ones alone.
    async fn ensure_exists(&self, kind: ConfigKind, name: &str, body: Value) -> ReportItem {
        let mut item = ReportItem {
            kind,
            name: name.to_owned(),
            action: Action::Unchanged,
            id: None,
        };
        match self.find(kind, name).await {
            Ok(ids) if !ids.is_empty() => item.id = ids.into_iter().next(),
            Ok(_) => match self.create(kind, &body).await {
                Ok(id) => {
                    item.action = Action::Created;
                    item.id = id;
                }
                Err(e) => item.action = Action::Failed(e.to_string()),
            },
            Err(e) => item.action = Action::Failed(e.to_string()),
        }
        item
    }

    /// Creates, updates or leaves alone the object named `name`, and deletes duplicates.
    async fn ensure(&self, kind: ConfigKind, name: &str, body: Value) -> ReportItem {
        let mut item = ReportItem {
            kind,
            name: name.to_owned(),
            action: Action::Unchanged,
            id: None,
        };
        let outcome = self.ensure_inner(kind, &body, &mut item).await;
        if let Err(e) = outcome {
            item.action = Action::Failed(e.to_string());
        }
        item
    }

    async fn ensure_inner(
        &self,
        kind: ConfigKind,
        body: &Value,
        item: &mut ReportItem,
    ) -> Result<()> {
        let ids = self.find(kind, &item.name).await?;
        let Some((first, duplicates)) = ids.split_first() else {
            item.id = self.create(kind, body).await?;
            item.action = Action::Created;
            return Ok(());
        };
        item.id = Some(first.clone());
        for dup in duplicates {
            if self.mode == Mode::Apply {
                self.client
                    .send(Method::DELETE, &format!("{}/{dup}", kind.path()), &[], None)
                    .await?;
            }
            item.action = Action::Deleted;
        }
        let path = format!("{}/{first}", kind.path());
        let current: Value = self.client.get_json(&path, &[]).await?;
        if !contains(&current, body) {
            if self.mode == Mode::Apply {
                let mut body = body.clone();
                body["id"] = json!(first);
                self.client
                    .send(Method::PUT, &path, &[], Some(&body))
                    .await?;
            }
            item.action = Action::Updated;
        }
        Ok(())
    }

    async fn create(&self, kind: ConfigKind, body: &Value) -> Result<Option<String>> {
        if self.mode == Mode::DryRun {
            return Ok(None);
        }
        let answer = self
            .client
            .send(Method::POST, kind.path(), &[], Some(body))
            .await?;
        Ok(answer
            .body
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }
}

/// Whether `actual` has everything `wanted` has (extra fields in `actual`, such as `id` and
/// `metadata`, are ignored; a wanted `null` also matches a missing field).
fn contains(actual: &Value, wanted: &Value) -> bool {
    match (actual, wanted) {
        (_, Value::Null) => true,
        (Value::Object(a), Value::Object(w)) => w.iter().all(|(k, wv)| match a.get(k) {
            Some(av) => contains(av, wv),
            None => wv.is_null(),
        }),
        (Value::Array(a), Value::Array(w)) => {
            a.len() == w.len() && a.iter().zip(w).all(|(x, y)| contains(x, y))
        }
        (Value::Number(a), Value::Number(w)) => a.as_f64() == w.as_f64(),
        (a, w) => a == w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Subset comparison ignores server-added fields and compares numbers by value.
    #[test]
    fn contains_is_a_subset_check() {
        let actual = json!({"id": "1", "metadata": {"v": 1}, "name": "a", "rules": [{"delayInMinutes": 0.0}]});
        assert!(contains(
            &actual,
            &json!({"name": "a", "rules": [{"delayInMinutes": 0}], "mzId": null})
        ));
        assert!(!contains(&actual, &json!({"name": "b"})));
        assert!(!contains(&actual, &json!({"rules": []})));
    }

    /// The payload template is JSON once Dynatrace fills its placeholders.
    #[test]
    fn payload_template_is_json_after_filling() {
        let filled = PROBLEM_PAYLOAD_TEMPLATE
            .replace("{ProblemDetailsJSON}", "{}")
            .replace("{ImpactedEntities}", "[]");
        let v: Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(v["type"], "sh.keptn.events.problem");
        assert_eq!(v["shkeptncontext"], "{PID}");
        assert_eq!(v["data"]["ProblemURL"], "{ProblemURL}");
    }

    /// The endpoint's token never shows in Debug output.
    #[test]
    fn endpoint_debug_redacts_token() {
        let e = KeptnEndpoint::new("http://keptn/v1/event")
            .with_token(SecretString::from("KEPTN-SECRET"));
        assert!(!format!("{e:?}").contains("KEPTN-SECRET"));
    }
}
