//! Typed `data` of Keptn events: the fields every event shares ([`EventData`]) and the task
//! payloads of Keptn 0.8+ (generation 2), field by field as on the wire.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::evaluation::{EvaluationFinishedData, Status, Verdict};
use crate::indicator::SliValue;
use crate::names::{ProjectName, ServiceName, StageName};

use super::envelope::event_payload;

mod remediation;
pub use remediation::{
    ActionDetails, ActionFinishedData, ActionTriggeredData, ConfigureMonitoring,
    ConfigureMonitoringTriggeredData, GetActionFinishedData, GetActionTriggeredData,
    ProblemDetails, ProblemEventData, ProblemState, RemediationActionRef, RemediationProgress,
    RemediationStatusChangedData, RemediationTriggeredData,
};

/// Reads an optional name where Keptn may send an empty string for "none" (e.g. the
/// generation-1 `configuration.change` of the CLI has `"stage": ""`).
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: fmt::Display,
{
    let s: Option<String> = Option::deserialize(deserializer)?;
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => T::try_from(s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The fields every Keptn event's `data` shares (go-utils `EventData`).
///
/// Every task payload embeds it (`#[serde(flatten)]`) as its `common` field. Names are
/// validated ([`ProjectName`], …); an empty string reads as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventData {
    /// The project.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub project: Option<ProjectName>,
    /// The stage.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub stage: Option<StageName>,
    /// The service.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub service: Option<ServiceName>,
    /// Free-form labels (`buildId`, `DtCreds`, …), passed along the whole flow.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Whether the task ran (`.finished`, `.status.changed`): `succeeded`, `errored`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// How the task went (`.finished`; on `.triggered` the result of the previous task):
    /// `pass`, `warning` or `fail` (generation-1 `failed` reads as `fail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Verdict>,
    /// A human-readable explanation, required with `errored` and `fail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl EventData {
    /// Data for `project`/`stage`/`service` with nothing else set.
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project: Some(project),
            stage: Some(stage),
            service: Some(service),
            ..Self::default()
        }
    }

    /// Sets `status` and `result` (for `.finished` events).
    #[must_use]
    pub fn with_outcome(mut self, status: Status, result: Verdict) -> Self {
        self.status = Some(status);
        self.result = Some(result);
        self
    }

    /// Sets `message`.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// `status: errored, result: fail` with `message`: how a task reports that it could not run.
    #[must_use]
    pub fn errored(mut self, message: impl Into<String>) -> Self {
        self.status = Some(Status::Errored);
        self.result = Some(Verdict::Fail);
        self.message = Some(message.into());
        self
    }
}

/// Unknown fields of a payload, kept so events from other tools round-trip.
pub type Extra = BTreeMap<String, Value>;

/// Optional RFC 3339 times where Keptn (Go) may send `""` for "none"; written with
/// milliseconds and `Z`, as Keptn writes them.
mod opt_time {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "expected an RFC 3339 time such as 2019-10-28T15:44:27.152Z, found \
                         `{t}`: {e}"
                    ))
                }),
        }
    }
}

/// Lists where Go may send `null` for an empty slice.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The `configurationChange` of a `deployment.triggered` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigurationChange {
    /// Values merged into the service's chart/configuration, such as
    /// `{"image": "docker.io/keptnexamples/carts:0.11.1"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `deployment` object of deployment, test, release and rollback events.
///
/// One struct serves every phase: `.triggered` events carry the strategy and URIs,
/// `.finished` events add `deploymentNames` and `gitCommit`; empty fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentDetails {
    /// `direct`, `blue_green_service` or `user_managed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploymentstrategy: Option<String>,
    /// URIs to reach the deployment inside the cluster.
    #[serde(
        rename = "deploymentURIsLocal",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deployment_uris_local: Vec<String>,
    /// URIs to reach the deployment from outside.
    #[serde(
        rename = "deploymentURIsPublic",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deployment_uris_public: Vec<String>,
    /// Which deployments were made, such as `["canary"]` (the `$DEPLOYMENT` of SLI queries).
    #[serde(
        rename = "deploymentNames",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deployment_names: Vec<String>,
    /// The git commit of the configuration that was deployed.
    #[serde(rename = "gitCommit", default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.deployment.triggered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// What to change: the new image and other values.
    #[serde(
        rename = "configurationChange",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration_change: Option<ConfigurationChange>,
    /// The strategy and known URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// Unknown fields (other tasks' payloads merged by the shipyard-controller).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.deployment.finished`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// Strategy, URIs, deployment names and git commit of what was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `test` object of test and evaluation events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestDetails {
    /// `functional`, `performance`, `real-user`, … (`.triggered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teststrategy: Option<String>,
    /// When the tests started (`.finished`; on `evaluation.triggered` the test window).
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// When the tests ended.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// The git commit of the test configuration (`.finished`).
    #[serde(rename = "gitCommit", default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.test.triggered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The test strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestDetails>,
    /// Where the deployment under test is reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.test.finished`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// When the tests ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `evaluation` object of `evaluation.triggered`: the window to evaluate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvaluationWindow {
    /// Start of the window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// End of the window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// A window length ending now (or at `start` + timeframe), such as `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.evaluation.triggered`.
///
/// The window is `evaluation {start, end, timeframe}` when given, else the `test {start, end}`
/// of the preceding test task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvaluationTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The test window of the preceding test task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestDetails>,
    /// An explicit evaluation window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvaluationWindow>,
    /// `deploymentNames` of the deployment to evaluate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `release` object of `release.finished`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseDetails {
    /// The git commit of the released configuration.
    #[serde(rename = "gitCommit", default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.release.triggered` and `sh.keptn.event.rollback.triggered`: what was
/// deployed (to promote or to discard).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The deployment to release or roll back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.rollback.triggered` (same shape as a release request).
pub type RollbackTriggeredData = ReleaseTriggeredData;

/// Data of `sh.keptn.event.release.finished`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The released commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `customFilters` entry of a get-sli request: an SLO `filter` as key and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFilter {
    /// The filter key, such as `mz_id`.
    pub key: String,
    /// The filter value.
    pub value: String,
}

/// The `get-sli` object of `get-sli.triggered`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetSliRequest {
    /// Which provider should answer (`dynatrace`, `prometheus`, …); others ignore the event.
    #[serde(rename = "sliProvider", default)]
    pub sli_provider: String,
    /// Start of the window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// End of the window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// The SLI names, in SLO file order (duplicates kept).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub indicators: Vec<String>,
    /// The SLO's filters.
    #[serde(
        rename = "customFilters",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub custom_filters: Vec<CustomFilter>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.get-sli.triggered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetSliTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The request.
    #[serde(rename = "get-sli", default)]
    pub get_sli: GetSliRequest,
    /// Which deployment to measure (`canary`, `primary`, `direct`; the `$DEPLOYMENT` placeholder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `get-sli` object of `get-sli.finished`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetSliResult {
    /// Start of the measured window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// End of the measured window.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// One value (or failure) per SLI.
    #[serde(
        rename = "indicatorValues",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub indicator_values: Vec<SliValue>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.get-sli.finished`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetSliFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The values.
    #[serde(rename = "get-sli", default)]
    pub get_sli: GetSliResult,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `approval` object of `approval.triggered`: the stage's approval strategy per result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApprovalStrategy {
    /// `automatic` or `manual` for a `pass` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// `automatic` or `manual` for a `warning` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ApprovalStrategy {
    /// Whether Keptn's approval-service approves a previous result of `result` without a human
    /// as follows: `pass` with `pass: automatic`, or `warning` with `warning: automatic`. Anything else
    /// (including a missing strategy, despite the spec's "default automatic") waits for a manual
    /// `approval.finished`; a `fail` is never approved.
    pub fn approves_automatically(&self, result: Verdict) -> bool {
        let automatic = |s: &Option<String>| s.as_deref() == Some("automatic");
        match result {
            Verdict::Pass => automatic(&self.pass),
            Verdict::Warning => automatic(&self.warning),
            Verdict::Fail => false,
        }
    }
}

/// Data of `sh.keptn.event.approval.triggered` (`common.result` is the previous task's result).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApprovalTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The approval strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalStrategy>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The data of any event used in sequences that only needs the common fields (the `.started`
/// events, `release.finished` without a commit, `approval.finished`, `remediation.finished`, …).
pub type CommonData = EventData;

event_payload!(
    EventData,
    DeploymentTriggeredData,
    DeploymentFinishedData,
    TestTriggeredData,
    TestFinishedData,
    EvaluationTriggeredData,
    EvaluationFinishedData,
    ReleaseTriggeredData,
    ReleaseFinishedData,
    GetSliTriggeredData,
    GetSliFinishedData,
    ApprovalTriggeredData,
    ProblemEventData,
    RemediationTriggeredData,
    RemediationStatusChangedData,
    GetActionTriggeredData,
    GetActionFinishedData,
    ActionTriggeredData,
    ActionFinishedData,
    ConfigureMonitoringTriggeredData,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Common data reads the wire names and treats empty names as absent.
    #[test]
    fn event_data_reads_common_fields() {
        let d: EventData = serde_json::from_value(json!({
            "project": "sockshop", "stage": "", "service": "carts",
            "labels": {"buildId": "17"}, "status": "succeeded", "result": "failed",
            "message": "tests failed"
        }))
        .unwrap();
        assert_eq!(
            d.project.as_ref().map(ProjectName::as_str),
            Some("sockshop")
        );
        assert_eq!(d.stage, None);
        assert_eq!(d.result, Some(Verdict::Fail));
        assert_eq!(d.labels["buildId"], "17");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"project": "sockshop", "service": "carts", "labels": {"buildId": "17"},
                   "status": "succeeded", "result": "fail", "message": "tests failed"})
        );
    }

    /// A `problem.open` payload becomes a remediation trigger with the problem nested.
    #[test]
    fn problem_open_becomes_remediation_triggered() {
        let open: ProblemEventData = serde_json::from_value(json!({
            "State": "OPEN", "PID": "P-1", "ProblemTitle": "Response time degradation",
            "project": "sockshop", "stage": "production", "service": "carts"
        }))
        .unwrap();
        let r = open.to_remediation_triggered();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"project": "sockshop", "stage": "production", "service": "carts",
                   "problem": {"State": "OPEN", "PID": "P-1",
                               "ProblemTitle": "Response time degradation"}})
        );
    }

    /// Bad names and enum values are rejected with the offending value in the message.
    #[test]
    fn event_data_rejects_bad_values() {
        let err = serde_json::from_value::<EventData>(json!({"project": "Sock Shop"}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`Sock Shop` is not a valid Keptn project name"),
            "{err}"
        );
        let err = serde_json::from_value::<EventData>(json!({"result": "done"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `done`"), "{err}");
    }
}
