//! Dynatrace problem notifications → Keptn problem events.

use keptn_spec::event::{
    EventType, KeptnContext, KeptnEvent, ProblemDetails, ProblemEventData, ProblemState,
};
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The `source` of the Keptn events this module creates.
pub const EVENT_SOURCE: &str = "keptn-dynatrace";

/// Whether a notification opens or closes a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemStatus {
    /// `State: OPEN`.
    Open,
    /// `State: RESOLVED` (or `CLOSED`).
    Resolved,
}

/// A problem notification as Dynatrace sends it through Keptn's webhook template
/// ([`PROBLEM_PAYLOAD_TEMPLATE`](crate::PROBLEM_PAYLOAD_TEMPLATE)), old (CloudEvents 0.2, no
/// `ProblemURL`) or new (1.0), or just its `data` object.
///
/// ```
/// use keptn_dynatrace::{ProblemNotification, ProblemStatus};
///
/// let n = ProblemNotification::parse(r#"{"specversion":"1.0","type":"sh.keptn.events.problem",
///   "source":"dynatrace","id":"-123_456V2","shkeptncontext":"-123_456V2",
///   "data":{"State":"OPEN","ProblemID":"42","PID":"-123_456V2","ProblemTitle":"Failure rate increase",
///     "ProblemURL":"https://abc.live.dynatrace.com/#problems/problemdetails;pid=-123_456V2",
///     "ProblemDetails":{"id":"-123_456V2"},"ImpactedEntities":[],"ImpactedEntity":"carts",
///     "Tags":"keptn_project:sockshop, keptn_stage:production, keptn_service:carts, keptn_deployment:primary"}}"#)?;
/// assert_eq!(n.status()?, ProblemStatus::Open);
/// assert_eq!(n.tag("keptn_stage"), Some("production"));
/// let event = n.to_keptn_event()?;
/// assert_eq!(event.ty.to_string(), "sh.keptn.event.problem.open");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ProblemNotification {
    /// `OPEN` or `RESOLVED`.
    #[serde(rename = "State")]
    pub state: String,
    /// The problem's display id.
    #[serde(rename = "ProblemID", default)]
    pub problem_id: Option<String>,
    /// The problem's id: the seed of the Keptn context.
    #[serde(rename = "PID")]
    pub pid: String,
    /// The title, such as `Response time degradation`.
    #[serde(rename = "ProblemTitle", default)]
    pub problem_title: Option<String>,
    /// The problem details (`{ProblemDetailsJSON}`), raw.
    #[serde(rename = "ProblemDetails", default)]
    pub problem_details: Option<Value>,
    /// The affected entities (`{ImpactedEntities}`), raw.
    #[serde(rename = "ImpactedEntities", default)]
    pub impacted_entities: Option<Value>,
    /// The most affected entity's name.
    #[serde(rename = "ImpactedEntity", default)]
    pub impacted_entity: Option<String>,
    /// Comma-separated `key:value` tags of the affected entities.
    #[serde(rename = "Tags", default)]
    pub tags: Option<String>,
    /// The link to the problem (new template only).
    #[serde(rename = "ProblemURL", default)]
    pub problem_url: Option<String>,
    /// `KeptnProject` of templates that set it (overridden by the `keptn_project` tag).
    #[serde(rename = "KeptnProject", default)]
    pub keptn_project: Option<String>,
    /// `KeptnStage` (overridden by the `keptn_stage` tag).
    #[serde(rename = "KeptnStage", default)]
    pub keptn_stage: Option<String>,
    /// `KeptnService` (overridden by the `keptn_service` tag).
    #[serde(rename = "KeptnService", default)]
    pub keptn_service: Option<String>,
}

impl ProblemNotification {
    /// Parses a notification body: the whole CloudEvent of Keptn's template or its `data`.
    ///
    /// # Errors
    /// [`Error::Problem`] naming the line and column of invalid JSON, or the missing or
    /// mistyped field (`State`, `PID`, …).
    pub fn parse(body: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(body).map_err(|e| Error::Problem {
            message: format!(
                "the body is not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        })?;
        let data = match v.get("data") {
            Some(d @ Value::Object(_)) => d.clone(),
            Some(_) => {
                return Err(Error::Problem {
                    message: "`data` must be an object with the problem fields".to_owned(),
                });
            }
            None => v,
        };
        if !data.is_object() {
            return Err(Error::Problem {
                message: "expected a JSON object with `State`, `PID`, `ProblemTitle`, …".to_owned(),
            });
        }
        let n: Self = serde_json::from_value(data).map_err(|e| Error::Problem {
            message: e.to_string(),
        })?;
        if n.pid.trim().is_empty() {
            return Err(Error::Problem {
                message: "`PID` is empty: the notification template must send `{PID}`".to_owned(),
            });
        }
        Ok(n)
    }

    /// `OPEN` → open; `RESOLVED` (or `CLOSED`) → resolved.
    ///
    /// # Errors
    /// [`Error::Problem`] for any other state (Keptn treated every other state as open;
    /// here it is rejected so that, e.g., a `MERGED` problem does not start a remediation).
    pub fn status(&self) -> Result<ProblemStatus> {
        match self.state.as_str() {
            "OPEN" => Ok(ProblemStatus::Open),
            "RESOLVED" | "CLOSED" => Ok(ProblemStatus::Resolved),
            other => Err(Error::Problem {
                message: format!("unknown `State` `{other}` (expected OPEN or RESOLVED)"),
            }),
        }
    }

    /// The value of tag `key` (tags are `key:value`, comma-separated). A value that itself
    /// contains `:` is kept whole (deliberate difference: Keptn cut it at the second `:`).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.as_deref()?.split(',').find_map(|t| {
            let (k, v) = t.trim().split_once(':')?;
            (k.trim() == key).then_some(v.trim())
        })
    }

    /// The Keptn context of this problem: derived from `PID` as Keptn's API did, so the
    /// OPEN and RESOLVED notifications of one problem share it.
    pub fn keptn_context(&self) -> KeptnContext {
        KeptnContext::from_ingress(&self.pid)
    }

    fn entity(&self, tag: &str, field: Option<&String>) -> Option<String> {
        self.tag(tag)
            .map(str::to_owned)
            .or_else(|| field.cloned())
            .filter(|s| !s.is_empty())
    }

    /// The Keptn problem event: `OPEN` → `sh.keptn.event.problem.open` with `State: OPEN`;
    /// `RESOLVED` → `sh.keptn.events.problem` with `State: CLOSED`; project, stage and service
    /// from the `keptn_*` tags (or the `Keptn*` fields).
    ///
    /// # Errors
    /// [`Error::Problem`] when the state is unknown, or the project, stage or service is
    /// missing or not a valid Keptn name.
    pub fn to_keptn_event(&self) -> Result<KeptnEvent> {
        let status = self.status()?;
        let name_err = |what: &str, tag: &str| Error::Problem {
            message: format!(
                "no {what}: the problem has no `{tag}` tag (is the entity tagged by Keptn's auto-tagging rules?)"
            ),
        };
        let invalid = |e: keptn_spec::names::InvalidName| Error::Problem {
            message: e.to_string(),
        };
        let project = self
            .entity("keptn_project", self.keptn_project.as_ref())
            .ok_or_else(|| name_err("project", "keptn_project"))?;
        let stage = self
            .entity("keptn_stage", self.keptn_stage.as_ref())
            .ok_or_else(|| name_err("stage", "keptn_stage"))?;
        let service = self
            .entity("keptn_service", self.keptn_service.as_ref())
            .ok_or_else(|| name_err("service", "keptn_service"))?;
        let mut problem = ProblemDetails::default();
        problem.state = Some(match status {
            ProblemStatus::Open => ProblemState::Open,
            ProblemStatus::Resolved => ProblemState::Closed,
        });
        problem.problem_id.clone_from(&self.problem_id);
        problem.pid = Some(self.pid.clone());
        problem.problem_title.clone_from(&self.problem_title);
        problem.problem_details.clone_from(&self.problem_details);
        problem.problem_url.clone_from(&self.problem_url);
        problem.impacted_entity.clone_from(&self.impacted_entity);
        problem
            .impacted_entities
            .clone_from(&self.impacted_entities);
        problem.tags.clone_from(&self.tags);
        let mut data = ProblemEventData::default();
        data.problem = problem;
        data.common.project = Some(ProjectName::new(project).map_err(invalid)?);
        data.common.stage = Some(StageName::new(stage).map_err(invalid)?);
        data.common.service = Some(ServiceName::new(service).map_err(invalid)?);
        if let Some(url) = &self.problem_url {
            data.common
                .labels
                .insert("Problem URL".to_owned(), url.clone());
        }
        let data = serde_json::to_value(&data).map_err(|e| Error::Problem {
            message: e.to_string(),
        })?;
        let ty = match status {
            ProblemStatus::Open => EventType::ProblemOpen,
            ProblemStatus::Resolved => EventType::Problem,
        };
        Ok(KeptnEvent::new(
            ty,
            EVENT_SOURCE,
            self.keptn_context(),
            &data,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"{"specversion":"0.2","type":"sh.keptn.events.problem","shkeptncontext":"-2389542023040931083_1576063740000V2","source":"dynatrace","id":"-2389542023040931083_1576063740000V2","time":"","contenttype":"application/json","data":{"State":"OPEN","ProblemID":"931","PID":"-2389542023040931083_1576063740000V2","ProblemTitle":"Response time degradation","ProblemDetails":{"id":"-2389542023040931083_1576063740000V2","displayName":"931","status":"OPEN","severityLevel":"PERFORMANCE"},"Tags":"keptn_deployment:primary, keptn_project:sockshop, keptn_service:carts, keptn_stage:production","ImpactedEntities":[{"type":"SERVICE","name":"ItemsController","entity":"SERVICE-1"}],"ImpactedEntity":"Response time degradation on Web request service ItemsController"}}"#;

    fn resolved_new() -> String {
        OLD.replace("\"specversion\":\"0.2\"", "\"specversion\":\"1.0\"")
            .replace(
                "\"State\":\"OPEN\"",
                "\"State\":\"RESOLVED\",\"ProblemURL\":\"https://dt/#problems;pid=x\"",
            )
    }

    /// The old template (0.2, no ProblemURL) gives a problem.open event with Keptn's fields.
    #[test]
    fn old_template_opens_a_problem() {
        let n = ProblemNotification::parse(OLD).unwrap();
        assert_eq!(n.status().unwrap(), ProblemStatus::Open);
        let e = n.to_keptn_event().unwrap();
        assert_eq!(e.ty, EventType::ProblemOpen);
        let d: ProblemEventData = e.data_as().unwrap();
        assert_eq!(d.problem.state, Some(ProblemState::Open));
        assert_eq!(
            d.problem.problem_title.as_deref(),
            Some("Response time degradation")
        );
        assert_eq!(d.common.project.unwrap().as_str(), "sockshop");
        assert_eq!(d.common.stage.unwrap().as_str(), "production");
        assert_eq!(d.common.service.unwrap().as_str(), "carts");
        assert_eq!(e.data["ImpactedEntities"][0]["entity"], "SERVICE-1");
    }

    /// RESOLVED (new template) closes it, in the same Keptn context as the OPEN notification.
    #[test]
    fn resolved_closes_in_the_same_context() {
        let open = ProblemNotification::parse(OLD)
            .unwrap()
            .to_keptn_event()
            .unwrap();
        let closed = ProblemNotification::parse(&resolved_new())
            .unwrap()
            .to_keptn_event()
            .unwrap();
        assert_eq!(closed.ty, EventType::Problem);
        assert_eq!(closed.data["State"], "CLOSED");
        assert_eq!(closed.data["ProblemURL"], "https://dt/#problems;pid=x");
        assert_eq!(open.shkeptncontext, closed.shkeptncontext);
        assert!(open.shkeptncontext.is_some());
    }

    /// Only the data object is accepted too; a tag value with `:` is kept whole.
    #[test]
    fn data_only_and_colon_values() {
        let n = ProblemNotification::parse(
            r#"{"State":"OPEN","PID":"p1","Tags":"keptn_project:sockshop,keptn_stage:dev,keptn_service:carts,owner:team:a"}"#,
        )
        .unwrap();
        assert_eq!(n.tag("owner"), Some("team:a"));
        assert_eq!(n.tag("keptn_stage"), Some("dev"));
        assert_eq!(n.tag("missing"), None);
    }

    /// Malformed payloads are clear errors, never panics.
    #[test]
    fn malformed_payloads() {
        let cases = [
            ("", "not JSON"),
            (
                "{\"data\":{\"State\":\"OPEN\",\"PID\":\"x\",\"ProblemDetails\":{ProblemDetailsJSON}}}",
                "not JSON",
            ),
            ("[]", "expected a JSON object"),
            ("{\"data\":\"x\"}", "`data` must be an object"),
            ("{\"State\":\"OPEN\"}", "missing field `PID`"),
            ("{\"State\":\"OPEN\",\"PID\":\"\"}", "`PID` is empty"),
            ("{\"State\":7,\"PID\":\"x\"}", "invalid type"),
        ];
        for (body, want) in cases {
            let err = ProblemNotification::parse(body).unwrap_err().to_string();
            assert!(err.contains(want), "{body}: {err}");
        }
        let merged = ProblemNotification::parse(r#"{"State":"MERGED","PID":"x"}"#).unwrap();
        assert!(
            merged
                .to_keptn_event()
                .unwrap_err()
                .to_string()
                .contains("unknown `State`")
        );
        let untagged = ProblemNotification::parse(r#"{"State":"OPEN","PID":"x"}"#).unwrap();
        assert!(
            untagged
                .to_keptn_event()
                .unwrap_err()
                .to_string()
                .contains("keptn_project")
        );
        let bad = ProblemNotification::parse(r#"{"State":"OPEN","PID":"x","Tags":"keptn_project:Sock Shop,keptn_stage:a,keptn_service:b"}"#).unwrap();
        assert!(
            bad.to_keptn_event()
                .unwrap_err()
                .to_string()
                .contains("not a valid Keptn project name")
        );
    }

    /// `KeptnProject`/`KeptnStage`/`KeptnService` fields are used when tags are absent.
    #[test]
    fn keptn_fields_fallback() {
        let n = ProblemNotification::parse(
            r#"{"State":"OPEN","PID":"x","KeptnProject":"sockshop","KeptnStage":"production","KeptnService":"carts","Tags":"keptn_stage:staging"}"#,
        )
        .unwrap();
        let d: ProblemEventData = n.to_keptn_event().unwrap().data_as().unwrap();
        assert_eq!(d.common.stage.unwrap().as_str(), "staging");
        assert_eq!(d.common.project.unwrap().as_str(), "sockshop");
    }
}
