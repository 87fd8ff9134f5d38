//! Problem, remediation, action and monitoring payloads.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventData, Extra};
use crate::evaluation::Status;

/// The state of a problem: `OPEN`, `RESOLVED` (Dynatrace) or `CLOSED` (Keptn's closing event).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum ProblemState {
    /// `OPEN`.
    Open,
    /// `RESOLVED`.
    Resolved,
    /// `CLOSED`.
    Closed,
    /// Any other state a problem source sends (kept verbatim).
    Other(String),
}

impl ProblemState {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ProblemState::Open => "OPEN",
            ProblemState::Resolved => "RESOLVED",
            ProblemState::Closed => "CLOSED",
            ProblemState::Other(s) => s,
        }
    }
}

impl From<String> for ProblemState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "OPEN" => ProblemState::Open,
            "RESOLVED" => ProblemState::Resolved,
            "CLOSED" => ProblemState::Closed,
            _ => ProblemState::Other(s),
        }
    }
}

impl From<ProblemState> for String {
    fn from(s: ProblemState) -> String {
        match s {
            ProblemState::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for ProblemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem in an event, in Keptn's wire shape (go-utils' `ProblemDetails`): the capitalized
/// fields of Dynatrace's problem notification plus Keptn's lowercase `rootCause`, every field
/// optional. Once read and checked, a problem is a [`Problem`](crate::Problem).
///
/// Field case is exactly Keptn's (`State`, `ProblemID`, `PID`, `ProblemTitle`, …). Keptn's Go
/// services read JSON case-insensitively, so some senders write `problemTitle`: the
/// lower-camel-case spellings are accepted on input as aliases and written back capitalized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProblemDetails {
    /// `OPEN`, `RESOLVED` or `CLOSED`.
    #[serde(
        rename = "State",
        alias = "state",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub state: Option<ProblemState>,
    /// The problem id (Dynatrace: the display id, such as `1234`).
    #[serde(
        rename = "ProblemID",
        alias = "problemID",
        alias = "problemId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub problem_id: Option<String>,
    /// Dynatrace's problem id: the seed of the Keptn context ([`KeptnContext::derive`](crate::event::KeptnContext::derive)).
    #[serde(
        rename = "PID",
        alias = "pid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pid: Option<String>,
    /// The title, such as `Response time degradation` (matched against remediation
    /// `problemType`s).
    #[serde(
        rename = "ProblemTitle",
        alias = "problemTitle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub problem_title: Option<String>,
    /// The problem details, raw JSON as the problem source sent them.
    #[serde(
        rename = "ProblemDetails",
        alias = "problemDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub problem_details: Option<Value>,
    /// A link to the problem in the monitoring tool.
    #[serde(
        rename = "ProblemURL",
        alias = "problemURL",
        alias = "problemUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub problem_url: Option<String>,
    /// The most affected entity's name.
    #[serde(
        rename = "ImpactedEntity",
        alias = "impactedEntity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub impacted_entity: Option<String>,
    /// All affected entities, raw JSON (Dynatrace sends a list of `{type, name, entity}`).
    #[serde(
        rename = "ImpactedEntities",
        alias = "impactedEntities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub impacted_entities: Option<Value>,
    /// Comma-separated tags, such as `keptn_project:sockshop, keptn_stage:production`.
    #[serde(
        rename = "Tags",
        alias = "tags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tags: Option<String>,
    /// The root cause, when the source knows it (matched first against remediation
    /// `problemType`s).
    #[serde(
        rename = "rootCause",
        alias = "RootCause",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub root_cause: Option<String>,
}

impl ProblemDetails {
    /// The value of tag `key` in [`ProblemDetails::tags`]: the tags are split at `,` and trimmed,
    /// each tag at its first `:`, and the whole rest is the value (so `url:http://x` gives
    /// `http://x`), the same reading as `keptn_dynatrace::ProblemNotification::tag`.
    ///
    /// Deliberate difference: dynatrace-service splits at every `:` and keeps only the
    /// second piece, which cuts such a value. Keptn entity names cannot contain `:`, so the
    /// `keptn_project`/`keptn_stage`/`keptn_service` tags read the same either way;
    /// [`ProblemDetails::tag_as_keptn`] gives Keptn's reading.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.as_deref()?.split(',').find_map(|tag| {
            let (k, v) = tag.trim().split_once(':')?;
            (k.trim() == key).then_some(v.trim())
        })
    }

    /// The value of tag `key` read exactly as dynatrace-service does: split at `,`,
    /// trim, split each tag at every `:` and take the second piece, so a value that itself
    /// contains `:` is cut there.
    pub fn tag_as_keptn(&self, key: &str) -> Option<&str> {
        self.tags.as_deref()?.split(',').find_map(|tag| {
            let mut parts = tag.trim().split(':');
            (parts.next() == Some(key)).then(|| parts.next()).flatten()
        })
    }
}

/// Data of `sh.keptn.event.problem.open` and `sh.keptn.events.problem`: the problem's fields at
/// the top level, beside lowercase `project`/`stage`/`service`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProblemEventData {
    /// The problem.
    #[serde(flatten)]
    pub problem: ProblemDetails,
    /// Project, stage, service, labels.
    #[serde(flatten)]
    pub common: EventData,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ProblemEventData {
    /// The data of the `sh.keptn.event.<stage>.remediation.triggered` event that Keptn 0.8.4+
    /// problem sources send instead of `problem.open`: the same project, stage,
    /// service and labels, with the problem under `problem`. Unknown fields stay at the top level.
    pub fn to_remediation_triggered(&self) -> RemediationTriggeredData {
        RemediationTriggeredData {
            common: self.common.clone(),
            problem: self.problem.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// Data of `sh.keptn.event.remediation.triggered` (and of
/// `sh.keptn.event.<stage>.remediation.triggered`): the problem to remediate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemediationTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The problem.
    #[serde(default)]
    pub problem: ProblemDetails,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `result` of a `remediation.status.changed`: which action runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemediationActionRef {
    /// The index of the action in the remediation's action list.
    #[serde(rename = "actionIndex", default)]
    pub action_index: u32,
    /// The action's `action` (such as `toggle-feature`).
    #[serde(rename = "actionName", default)]
    pub action_name: String,
}

/// The `remediation` object of `remediation.status.changed` (Keptn 0.7).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemediationProgress {
    /// The status of the remediation so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The action being run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RemediationActionRef>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.remediation.status.changed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemediationStatusChangedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// Which action runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationProgress>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A remediation action as events carry it: `{name, action, description, value}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionDetails {
    /// A human-readable name, such as `Toggle feature flag`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What to do, such as `toggle-feature` or `scaling`: selects the action provider.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// A description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The action's argument: a string (`"1"`) or a map (`{"EnableItemCache": "on"}`), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The git commit of the changed configuration (`action.finished`).
    #[serde(rename = "gitCommit", default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.get-action.triggered`: the problem and the index of the action to
/// pick next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetActionTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The problem.
    #[serde(default)]
    pub problem: ProblemDetails,
    /// The index of the next action to choose (0 on the first round).
    #[serde(rename = "actionIndex", default)]
    pub action_index: u32,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.get-action.finished`: the chosen action and the index to use next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetActionFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The chosen action (absent when none is left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionDetails>,
    /// The incoming index plus one.
    #[serde(rename = "actionIndex", default)]
    pub action_index: u32,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.action.triggered`: the action to run and the problem it answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// The action.
    #[serde(default)]
    pub action: ActionDetails,
    /// The problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<ProblemDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of `sh.keptn.event.action.finished` (`common.status`/`common.result` say how it went).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionFinishedData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// `gitCommit` of the changed configuration, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionDetails>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `configureMonitoring` object of `configure-monitoring.triggered`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigureMonitoring {
    /// The monitoring provider, such as `dynatrace` or `prometheus`.
    #[serde(rename = "type", default)]
    pub provider: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Data of `sh.keptn.event.configure-monitoring.triggered` (go-utils' gen-2 shape; the
/// generation-1 `monitoring.configure` had `type` at the top level).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigureMonitoringTriggeredData {
    /// Project, stage, service, labels, status, result, message.
    #[serde(flatten)]
    pub common: EventData,
    /// Which provider to configure.
    #[serde(
        rename = "configureMonitoring",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configure_monitoring: Option<ConfigureMonitoring>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
