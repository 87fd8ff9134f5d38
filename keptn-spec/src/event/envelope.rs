//! The CloudEvents envelope of Keptn events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::context::{EventId, KeptnContext};
use super::types::{EventType, Phase};
use crate::error::{Error, Location, Result};

/// The CloudEvents `specversion` of generation-2 Keptn events.
pub const CLOUDEVENTS_SPEC_VERSION: &str = "1.0";

/// The `shkeptnspecversion` this crate writes (Keptn spec 0.2.1, go-utils 0.8.5's default).
pub const KEPTN_SPEC_VERSION: &str = "0.2.1";

/// The `datacontenttype` this crate writes.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// A Keptn event: a CloudEvents 1.0 envelope with Keptn's extensions and JSON `data`.
///
/// Field names are the wire names. Incoming events are read tolerantly: attributes this type
/// does not know (such as the generation-1 `contenttype`, or extensions of other tools) are kept
/// in [`KeptnEvent::extra`] and written back, so an event round-trips unchanged. The CloudEvents
/// required attributes `specversion`, `id`, `source` and `type` must be present; `type` must be a
/// Keptn event type ([`EventType`]) and `shkeptncontext` a UUID ([`KeptnContext`]; an empty string
/// reads as absent).
///
/// `data` stays JSON; read it typed with [`KeptnEvent::data_as`], e.g.
/// `event.data_as::<DeploymentTriggeredData>()`.
///
/// Create events with [`KeptnEvent::new`] (or [`KeptnEvent::triggered`]) and answer a
/// `.triggered` event with [`KeptnEvent::started`], [`KeptnEvent::status_changed`] and
/// [`KeptnEvent::finished`], which copy the context and set `triggeredid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeptnEvent {
    /// CloudEvents spec version: `1.0` (generation 2) or `0.2` (generation 1).
    pub specversion: String,
    /// The event's id (a UUID when Keptn creates it).
    pub id: EventId,
    /// Who sent the event, such as `shipyard-controller` or `dynatrace`.
    pub source: String,
    /// The event type.
    #[serde(rename = "type")]
    pub ty: EventType,
    /// When the event was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// The content type of `data`, normally `application/json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    /// The Keptn context tying all events of one flow together.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub shkeptncontext: Option<KeptnContext>,
    /// The id of the `.triggered` event this `.started`/`.status.changed`/`.finished` event
    /// answers; absent on `.triggered` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggeredid: Option<EventId>,
    /// The Keptn spec version of the event, such as `0.2.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shkeptnspecversion: Option<String>,
    /// The git commit of the Keptn configuration the event refers to (Keptn 0.10+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitcommitid: Option<String>,
    /// The event's payload: JSON, read typed with [`KeptnEvent::data_as`].
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Attributes and extensions this type does not know, kept so the event round-trips.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn empty_as_none<'de, D>(deserializer: D) -> std::result::Result<Option<KeptnContext>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s: Option<String> = Option::deserialize(deserializer)?;
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// A value that can be the `data` of a [`KeptnEvent`]: the typed payloads of this module and
/// raw JSON.
///
/// The trait is sealed: every implementation serializes to JSON without error (all map keys are
/// strings), which is what lets the event constructors be infallible. For a payload type of
/// your own, serialize it with `serde_json::to_value` and pass the [`Value`].
pub trait EventPayload: Serialize + private::Sealed {
    /// The payload as JSON.
    fn to_data(&self) -> Value;
}

pub(crate) mod private {
    /// Seals [`super::EventPayload`].
    pub trait Sealed {}
}

impl private::Sealed for Value {}
impl EventPayload for Value {
    fn to_data(&self) -> Value {
        self.clone()
    }
}

impl private::Sealed for serde_json::Map<String, Value> {}
impl EventPayload for serde_json::Map<String, Value> {
    fn to_data(&self) -> Value {
        Value::Object(self.clone())
    }
}

/// Implements [`EventPayload`] for payload structs of this crate (string-keyed maps only, so
/// serialization cannot fail).
macro_rules! event_payload {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::event::envelope::private::Sealed for $ty {}
            impl $crate::event::envelope::EventPayload for $ty {
                fn to_data(&self) -> serde_json::Value {
                    // Infallible: the type has only string-keyed maps and no custom `Serialize`
                    // that can fail; the unit tests serialize every payload type.
                    serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
                }
            }
        )*
    };
}
pub(crate) use event_payload;

impl KeptnEvent {
    /// A new event of type `ty` from `source` in `context`: a fresh random id, the current time,
    /// `specversion` 1.0, `datacontenttype` `application/json` and `shkeptnspecversion`
    /// [`KEPTN_SPEC_VERSION`]. No `triggeredid`: use [`KeptnEvent::started`],
    /// [`KeptnEvent::status_changed`] or [`KeptnEvent::finished`] to answer a `.triggered` event.
    pub fn new(
        ty: EventType,
        source: impl Into<String>,
        context: KeptnContext,
        data: &impl EventPayload,
    ) -> Self {
        Self {
            specversion: CLOUDEVENTS_SPEC_VERSION.to_owned(),
            id: EventId::new_random(),
            source: source.into(),
            ty,
            time: Some(Utc::now()),
            datacontenttype: Some(JSON_CONTENT_TYPE.to_owned()),
            shkeptncontext: Some(context),
            triggeredid: None,
            shkeptnspecversion: Some(KEPTN_SPEC_VERSION.to_owned()),
            gitcommitid: None,
            data: data.to_data(),
            extra: BTreeMap::new(),
        }
    }

    /// A new `.triggered` event of a task or sequence (`ty` with its phase set to `triggered`)
    /// in `context`; otherwise like [`KeptnEvent::new`].
    ///
    /// # Errors
    /// [`Error::Parse`] when `ty` is neither a task nor a sequence event.
    pub fn triggered(
        ty: &EventType,
        source: impl Into<String>,
        context: KeptnContext,
        data: &impl EventPayload,
    ) -> Result<Self> {
        let ty = ty
            .with_phase(Phase::Triggered)
            .ok_or_else(|| Error::Parse {
                file: None,
                location: None,
                message: format!(
                    "`{ty}` is not a task or sequence event, so it has no `.triggered` phase"
                ),
            })?;
        Ok(Self::new(ty, source, context, data))
    }

    /// The `.started` answer to this `.triggered` event: same task or sequence, same context,
    /// `triggeredid` = this event's id.
    ///
    /// # Errors
    /// [`Error::Parse`] when this event is not a task or sequence `.triggered` event, or has no
    /// Keptn context.
    pub fn started(&self, source: impl Into<String>, data: &impl EventPayload) -> Result<Self> {
        self.answer(Phase::Started, source.into(), data)
    }

    /// The `.status.changed` answer to this `.triggered` task event (see [`KeptnEvent::started`]).
    ///
    /// # Errors
    /// As [`KeptnEvent::started`]; also when this is a sequence event (sequences have no
    /// `status.changed`).
    pub fn status_changed(
        &self,
        source: impl Into<String>,
        data: &impl EventPayload,
    ) -> Result<Self> {
        self.answer(Phase::StatusChanged, source.into(), data)
    }

    /// The `.finished` answer to this `.triggered` event (see [`KeptnEvent::started`]).
    ///
    /// # Errors
    /// As [`KeptnEvent::started`].
    pub fn finished(&self, source: impl Into<String>, data: &impl EventPayload) -> Result<Self> {
        self.answer(Phase::Finished, source.into(), data)
    }

    fn answer(&self, phase: Phase, source: String, data: &impl EventPayload) -> Result<Self> {
        let not_answerable = |why: &str| Error::Parse {
            file: None,
            location: None,
            message: format!(
                "cannot answer event {} of type `{}` with `.{phase}`: {why}",
                self.id, self.ty
            ),
        };
        if !self.ty.is_triggered() {
            return Err(not_answerable("it is not a `.triggered` event"));
        }
        let ty = self
            .ty
            .with_phase(phase)
            .ok_or_else(|| not_answerable("that phase does not exist for it"))?;
        let context = self
            .shkeptncontext
            .ok_or_else(|| not_answerable("it has no `shkeptncontext`"))?;
        let mut event = Self::new(ty, source, context, data);
        event.triggeredid = Some(self.id.clone());
        event.gitcommitid.clone_from(&self.gitcommitid);
        Ok(event)
    }

    /// Sets the time (for reproducible output and tests).
    #[must_use]
    pub fn with_time(mut self, time: DateTime<Utc>) -> Self {
        self.time = Some(time);
        self
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: EventId) -> Self {
        self.id = id;
        self
    }

    /// The Keptn context, if the event has one.
    pub fn context(&self) -> Option<&KeptnContext> {
        self.shkeptncontext.as_ref()
    }

    /// Reads `data` as `T`, such as [`EventData`](super::EventData) or a task payload.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the event type, the field path and what was expected when `data`
    /// does not have the shape of `T`.
    /// Absent (`null`) data reads as an empty object, so payload types whose fields are all
    /// optional read from events without data.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T> {
        let empty = Value::Object(serde_json::Map::new());
        let data = if self.data.is_null() {
            &empty
        } else {
            &self.data
        };
        serde_path_to_error::deserialize(data).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            Error::Parse {
                file: None,
                location: None,
                message: format!(
                    "data of event `{}` ({}){at}: {}",
                    self.ty,
                    self.id,
                    e.inner()
                ),
            }
        })
    }

    /// The common fields of `data` (project, stage, service, labels, status, result, message).
    ///
    /// # Errors
    /// As [`KeptnEvent::data_as`].
    pub fn common(&self) -> Result<super::EventData> {
        self.data_as()
    }

    /// Parses an event from CloudEvents JSON (structured mode).
    ///
    /// # Errors
    /// [`Error::Parse`] with the line and column of the problem when `src` is not JSON, lacks a
    /// required attribute (`specversion`, `id`, `source`, `type`), or has an invalid `type`,
    /// `shkeptncontext` or `time`.
    ///
    /// ```
    /// use keptn_spec::event::KeptnEvent;
    ///
    /// let err = KeptnEvent::from_json_str(r#"{
    ///   "specversion": "1.0", "id": "1", "source": "cli",
    ///   "type": "sh.keptn.event.deployment.done"
    /// }"#).unwrap_err();
    /// assert!(err.to_string().contains("unknown phase `done`"), "{err}");
    /// ```
    pub fn from_json_str(src: &str) -> Result<Self> {
        serde_json::from_str(src).map_err(|e| json_error(&e))
    }

    /// Serializes the event as compact CloudEvents JSON.
    pub fn to_json_string(&self) -> String {
        // Infallible: the envelope has only string-keyed maps.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Converts a serde_json error into a located [`Error::Parse`] without repeating the position
/// in the message.
pub(crate) fn json_error(e: &serde_json::Error) -> Error {
    let text = e.to_string();
    let (line, column) = (e.line(), e.column());
    let suffix = format!(" at line {line} column {column}");
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    // serde_json reports column 0 for an error before the first character of a line.
    let location = (line > 0).then(|| Location {
        line: line as u64,
        column: column.max(1) as u64,
    });
    Error::Parse {
        file: None,
        location,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::types::Task;
    use serde_json::json;

    fn ctx() -> KeptnContext {
        "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e".parse().unwrap()
    }

    /// A generation-2 `deployment.triggered` as the shipyard-controller sends it, read and
    /// written back unchanged (including an unknown extension).
    #[test]
    fn gen2_event_round_trips_with_unknown_fields() {
        let src = r#"{
          "specversion": "1.0",
          "id": "f2b878d3-03c0-4e8f-bc3f-454bc1b3d79b",
          "source": "shipyard-controller",
          "type": "sh.keptn.event.deployment.triggered",
          "time": "2021-03-04T10:11:12.123Z",
          "datacontenttype": "application/json",
          "shkeptncontext": "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e",
          "shkeptnspecversion": "0.2.1",
          "traceparent": "00-abc-def-01",
          "data": {"project": "sockshop", "stage": "dev", "service": "carts",
                   "configurationChange": {"values": {"image": "docker.io/keptnexamples/carts:0.11.1"}},
                   "deployment": {"deploymentstrategy": "direct"}}
        }"#;
        let ev = KeptnEvent::from_json_str(src).unwrap();
        assert_eq!(ev.ty, EventType::task(Task::Deployment, Phase::Triggered));
        assert_eq!(ev.extra.get("traceparent"), Some(&json!("00-abc-def-01")));
        let again = KeptnEvent::from_json_str(&ev.to_json_string()).unwrap();
        assert_eq!(again, ev);
        let as_value: Value = serde_json::from_str(&ev.to_json_string()).unwrap();
        let original: Value = serde_json::from_str(src).unwrap();
        assert_eq!(as_value, original);
    }

    /// A generation-1 (CloudEvents 0.2) event with `contenttype` parses; the old attribute is kept.
    #[test]
    fn gen1_envelope_is_accepted() {
        let src = r#"{"specversion":"0.2","id":"1","source":"https://github.com/keptn/keptn/cli",
          "type":"sh.keptn.event.configuration.change","contenttype":"application/json",
          "shkeptncontext":"","data":{"project":"sockshop","service":"carts","stage":"",
          "valuesCanary":{"image":"docker.io/keptnexamples/carts:0.11.1"},
          "canary":{"action":"set","value":100}}}"#;
        let ev = KeptnEvent::from_json_str(src).unwrap();
        assert!(ev.ty.is_gen1());
        assert_eq!(ev.shkeptncontext, None);
        assert_eq!(ev.extra["contenttype"], json!("application/json"));
    }

    /// Answers copy the context and point `triggeredid` at the triggered event.
    #[test]
    fn answers_carry_context_and_triggeredid() {
        let triggered = KeptnEvent::triggered(
            &EventType::task(Task::Deployment, Phase::Finished),
            "shipyard-controller",
            ctx(),
            &json!({"project": "sockshop"}),
        )
        .unwrap();
        assert_eq!(
            triggered.ty.to_string(),
            "sh.keptn.event.deployment.triggered"
        );
        assert_eq!(triggered.triggeredid, None);
        for (answer, ty) in [
            (
                triggered.started("helm-service", &json!({})).unwrap(),
                "started",
            ),
            (
                triggered
                    .status_changed("helm-service", &json!({}))
                    .unwrap(),
                "status.changed",
            ),
            (
                triggered.finished("helm-service", &json!({})).unwrap(),
                "finished",
            ),
        ] {
            assert_eq!(
                answer.ty.to_string(),
                format!("sh.keptn.event.deployment.{ty}")
            );
            assert_eq!(answer.shkeptncontext, Some(ctx()));
            assert_eq!(answer.triggeredid.as_ref(), Some(&triggered.id));
            assert_ne!(answer.id, triggered.id);
            assert_eq!(answer.source, "helm-service");
        }
        let finished = triggered.finished("helm-service", &json!({})).unwrap();
        let err = finished.finished("x", &json!({})).unwrap_err();
        assert!(
            err.to_string().contains("it is not a `.triggered` event"),
            "{err}"
        );
    }

    /// A sequence `.triggered` can be started and finished but has no `status.changed`.
    #[test]
    fn sequence_answers() {
        let ty: EventType = "sh.keptn.event.dev.delivery.triggered".parse().unwrap();
        let t = KeptnEvent::new(ty, "cli", ctx(), &json!({}));
        assert_eq!(
            t.finished("shipyard-controller", &json!({}))
                .unwrap()
                .ty
                .to_string(),
            "sh.keptn.event.dev.delivery.finished"
        );
        assert!(t.status_changed("shipyard-controller", &json!({})).is_err());
    }

    /// Missing required attributes and bad values are reported with line and column.
    #[test]
    fn parse_errors_are_located() {
        let err = KeptnEvent::from_json_str("{\n  \"specversion\": \"1.0\",\n  \"id\": \"1\"\n}")
            .unwrap_err();
        insta::assert_snapshot!(err, @r#"4:1: missing field `source`"#);
        let err = KeptnEvent::from_json_str(
            "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\n\"type\":\"sh.keptn.event.deployment.triggered\",\n\"shkeptncontext\":\"PID-1\"}",
        )
        .unwrap_err();
        insta::assert_snapshot!(err, @r#"3:25: `PID-1` is not a valid Keptn context: expected a UUID such as `5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e` (Keptn's API derives one from other strings; see KeptnContext::derive)"#);
        let err = KeptnEvent::from_json_str("{\"specversion\":\"1.0\",\"id\":\"\"}").unwrap_err();
        insta::assert_snapshot!(err, @r#"1:29: an event id must not be empty (CloudEvents 1.0 `id`)"#);
        let err = KeptnEvent::from_json_str("[1, 2").unwrap_err();
        insta::assert_snapshot!(err, @r#"1:1: invalid type: sequence, expected struct KeptnEvent"#);
    }

    /// `data_as` names the event when the data has the wrong shape.
    #[test]
    fn data_as_reports_the_event() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            project: String,
        }
        let ev = KeptnEvent::new(EventType::ProblemOpen, "dt", ctx(), &json!({"project": 3}))
            .with_id(EventId::new("e1").unwrap());
        let err = ev.data_as::<Needs>().unwrap_err();
        insta::assert_snapshot!(err, @r#"data of event `sh.keptn.event.problem.open` (e1) at `project`: invalid type: integer `3`, expected a string"#);
    }
}
