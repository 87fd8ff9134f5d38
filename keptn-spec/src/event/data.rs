//! Typed `data` of Keptn events: the fields every event shares ([`EventData`]) and the task
//! payloads of §4.3, field by field as on the wire.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::names::{ProjectName, ServiceName, StageName};

use super::envelope::event_payload;

/// The `status` of a `.finished` (or `.status.changed`) event: did the task run?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum TaskStatus {
    /// `succeeded`: the task ran (its `result` says how it went).
    Succeeded,
    /// `errored`: the task could not run; `message` says why.
    Errored,
    /// `aborted`: the task was aborted (Keptn 0.10+).
    Aborted,
    /// `unknown`.
    Unknown,
}

impl TaskStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Errored => "errored",
            TaskStatus::Aborted => "aborted",
            TaskStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "succeeded" => TaskStatus::Succeeded,
            "errored" => TaskStatus::Errored,
            "aborted" => TaskStatus::Aborted,
            "unknown" => TaskStatus::Unknown,
            _ => {
                return Err(parse_error(format!(
                    "invalid status `{s}`: expected succeeded, errored, aborted or unknown"
                )));
            }
        })
    }
}

impl TryFrom<String> for TaskStatus {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TaskStatus> for String {
    fn from(s: TaskStatus) -> String {
        s.as_str().to_owned()
    }
}

/// The `result` of a task: how it went.
///
/// Generation 1 also wrote `failed` (§10.8); it reads as [`TaskResult::Fail`] and is written
/// back as `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TaskResult {
    /// `pass`.
    Pass,
    /// `warning`.
    Warning,
    /// `fail` (generation-1 `failed` reads as this).
    Fail,
}

impl TaskResult {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskResult::Pass => "pass",
            TaskResult::Warning => "warning",
            TaskResult::Fail => "fail",
        }
    }
}

impl fmt::Display for TaskResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskResult {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pass" => TaskResult::Pass,
            "warning" => TaskResult::Warning,
            "fail" | "failed" => TaskResult::Fail,
            _ => {
                return Err(parse_error(format!(
                    "invalid result `{s}`: expected pass, warning or fail"
                )));
            }
        })
    }
}

impl TryFrom<String> for TaskResult {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TaskResult> for String {
    fn from(r: TaskResult) -> String {
        r.as_str().to_owned()
    }
}

fn parse_error(message: String) -> Error {
    Error::Parse {
        file: None,
        location: None,
        message,
    }
}

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

/// The fields every Keptn event's `data` shares (go-utils `EventData`, §4.1).
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
    /// Whether the task ran (`.finished`, `.status.changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// How the task went (`.finished`; on `.triggered` the result of the previous task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskResult>,
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
    pub fn with_outcome(mut self, status: TaskStatus, result: TaskResult) -> Self {
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

    /// `status: errored, result: fail` with `message`: how a task reports that it could not run
    /// (§10.7).
    #[must_use]
    pub fn errored(mut self, message: impl Into<String>) -> Self {
        self.status = Some(TaskStatus::Errored);
        self.result = Some(TaskResult::Fail);
        self.message = Some(message.into());
        self
    }
}

event_payload!(EventData);

/// Keeps a payload's unknown fields (`extra`) so events from other tools round-trip.
pub type Extra = BTreeMap<String, Value>;

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
        assert_eq!(d.result, Some(TaskResult::Fail));
        assert_eq!(d.labels["buildId"], "17");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"project": "sockshop", "service": "carts", "labels": {"buildId": "17"},
                   "status": "succeeded", "result": "fail", "message": "tests failed"})
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
        let err = serde_json::from_value::<EventData>(json!({"status": "done"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid status `done`"), "{err}");
    }
}
