//! The Problems API v2 (`GET /api/v2/problems`, `GET /api/v2/problems/{problemId}`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::DynatraceClient;
use crate::error::{Error, Result};
use crate::problem::ProblemNotification;

/// A monitored entity as problems list it (`EntityStub`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EntityStub {
    /// The entity id and type (`{"id","type"}`).
    #[serde(default)]
    pub entity_id: Option<Value>,
    /// The entity's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A tag of an affected entity (`METag`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EntityTag {
    /// `CONTEXTLESS` for custom tags.
    #[serde(default)]
    pub context: Option<String>,
    /// The key.
    #[serde(default)]
    pub key: Option<String>,
    /// The value.
    #[serde(default)]
    pub value: Option<String>,
    /// `key:value` as Dynatrace writes it.
    #[serde(default)]
    pub string_representation: Option<String>,
}

/// One problem of the Problems API v2 (`Problem` in the published document; fields this crate
/// does not read are kept in [`DynatraceProblem::raw`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DynatraceProblem {
    /// The problem's id (what webhook notifications call `PID`).
    pub problem_id: String,
    /// The display id, such as `P-2301234`.
    pub display_id: String,
    /// The title.
    pub title: String,
    /// `OPEN` or `CLOSED`.
    pub status: String,
    /// `AVAILABILITY`, `ERROR`, `PERFORMANCE`, `RESOURCE_CONTENTION`, `CUSTOM_ALERT`, …
    pub severity_level: String,
    /// `APPLICATION`, `ENVIRONMENT`, `INFRASTRUCTURE` or `SERVICES`.
    pub impact_level: String,
    /// Start, UTC milliseconds.
    pub start_time: i64,
    /// End, UTC milliseconds; `-1` while open.
    pub end_time: i64,
    /// The affected entities.
    #[serde(default)]
    pub affected_entities: Vec<EntityStub>,
    /// The impacted entities.
    #[serde(default)]
    pub impacted_entities: Vec<EntityStub>,
    /// The tags of the affected entities.
    #[serde(default)]
    pub entity_tags: Vec<EntityTag>,
    /// The whole problem as Dynatrace sent it.
    #[serde(skip)]
    pub raw: Value,
}

impl DynatraceProblem {
    /// Whether the problem is open.
    pub fn is_open(&self) -> bool {
        self.status == "OPEN"
    }

    /// When it started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.start_time)
    }

    /// When it ended (`None` while open).
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        (self.end_time >= 0)
            .then(|| DateTime::from_timestamp_millis(self.end_time))
            .flatten()
    }

    /// The entity tags as a webhook's `{Tags}` placeholder writes them (`key:value, …`).
    pub fn tags(&self) -> String {
        self.entity_tags
            .iter()
            .filter_map(|t| {
                t.string_representation.clone().or_else(|| {
                    let k = t.key.as_deref()?;
                    Some(match t.value.as_deref() {
                        Some(v) => format!("{k}:{v}"),
                        None => k.to_owned(),
                    })
                })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The problem notification a webhook with Keptn's payload template
    /// ([`PROBLEM_PAYLOAD_TEMPLATE`](crate::PROBLEM_PAYLOAD_TEMPLATE)) would carry for this
    /// problem's current state, so polled problems take the same path as pushed ones
    /// ([`ProblemNotification::to_keptn_event`]).
    ///
    /// `extra_tags` (`key:value, …`) are appended to the entity tags: problems of metric events
    /// on custom metrics have no entity and hence no tags, so a caller that knows the scope
    /// (`keptn_project:…, keptn_stage:…, keptn_service:…`) passes it here. `base_url` is the
    /// tenant's URL, for `ProblemURL`.
    pub fn to_notification(&self, base_url: &str, extra_tags: Option<&str>) -> ProblemNotification {
        let mut tags = self.tags();
        if let Some(extra) = extra_tags.filter(|t| !t.trim().is_empty()) {
            if !tags.is_empty() {
                tags.push_str(", ");
            }
            tags.push_str(extra.trim());
        }
        let impacted = self
            .impacted_entities
            .iter()
            .map(|e| {
                json!({
                    "type": e.entity_id.as_ref().and_then(|i| i.get("type")).cloned().unwrap_or(Value::Null),
                    "name": e.name,
                    "entity": e.entity_id.as_ref().and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null),
                })
            })
            .collect::<Vec<_>>();
        ProblemNotification {
            state: if self.is_open() { "OPEN" } else { "RESOLVED" }.to_owned(),
            problem_id: Some(self.display_id.clone()),
            pid: self.problem_id.clone(),
            problem_title: Some(self.title.clone()),
            problem_details: Some(self.raw.clone()),
            impacted_entities: Some(Value::Array(impacted)),
            impacted_entity: self
                .impacted_entities
                .first()
                .and_then(|e| e.name.clone())
                .or_else(|| Some(self.title.clone())),
            tags: Some(tags),
            problem_url: Some(format!(
                "{}/#problems/problemdetails;pid={}",
                base_url.trim_end_matches('/'),
                self.problem_id
            )),
            keptn_project: None,
            keptn_stage: None,
            keptn_service: None,
        }
    }
}

fn decode_problem(endpoint: &str, v: Value) -> Result<DynatraceProblem> {
    let mut p: DynatraceProblem = serde_json::from_value(v.clone()).map_err(|e| Error::Decode {
        endpoint: endpoint.to_owned(),
        message: format!("not a problem: {e}"),
    })?;
    p.raw = v;
    Ok(p)
}

/// Escapes a value for a quoted selector argument (`~` and `"` are escaped with `~`).
pub fn quote_selector_value(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        if c == '~' || c == '"' {
            s.push('~');
        }
        s.push(c);
    }
    s.push('"');
    s
}

impl DynatraceClient {
    /// Lists problems (`GET /api/v2/problems`), following `nextPageKey` to the last page.
    ///
    /// `problem_selector` is Dynatrace's problem selector, such as `status("open")`;
    /// `from` bounds the time frame's start (Dynatrace's default is the last 2 hours).
    ///
    /// # Errors
    /// Client errors as they come ([`Error::Status`] for a bad selector or token,
    /// [`Error::Decode`] for an answer without the documented shape).
    pub async fn problems(
        &self,
        problem_selector: Option<&str>,
        from: Option<DateTime<Utc>>,
    ) -> Result<Vec<DynatraceProblem>> {
        const PATH: &str = "/api/v2/problems";
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(s) = problem_selector {
            params.push(("problemSelector".to_owned(), s.to_owned()));
        }
        if let Some(f) = from {
            params.push(("from".to_owned(), f.timestamp_millis().to_string()));
        }
        let mut out = Vec::new();
        for _page in 0..100 {
            let page: Value = self.get_json(PATH, &params).await?;
            let problems = page
                .get("problems")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::Decode {
                    endpoint: PATH.to_owned(),
                    message: "the answer has no `problems` array".to_owned(),
                })?;
            for p in problems {
                out.push(decode_problem(PATH, p.clone())?);
            }
            match page.get("nextPageKey").and_then(Value::as_str) {
                // with nextPageKey, all other parameters must be left out
                Some(key) if !key.is_empty() => {
                    params = vec![("nextPageKey".to_owned(), key.to_owned())];
                }
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// Reads one problem (`GET /api/v2/problems/{problemId}`).
    ///
    /// # Errors
    /// Client errors as they come ([`Error::Status`] 404 for an unknown id).
    pub async fn problem(&self, problem_id: &str) -> Result<DynatraceProblem> {
        let encoded: String = problem_id
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let path = format!("/api/v2/problems/{encoded}");
        let v: Value = self.get_json(&path, &[]).await?;
        decode_problem("/api/v2/problems/{problemId}", v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: &str) -> DynatraceProblem {
        let v = json!({
            "problemId": "-42_1700000000000V2", "displayId": "P-42", "title": "Failure rate increase",
            "status": status, "severityLevel": "ERROR", "impactLevel": "ENVIRONMENT",
            "startTime": 1_700_000_000_000_i64, "endTime": if status == "OPEN" { -1 } else { 1_700_000_060_000_i64 },
            "affectedEntities": [], "impactedEntities": [], "managementZones": [], "problemFilters": [],
            "entityTags": [{"context": "CONTEXTLESS", "key": "owner", "value": "team-a", "stringRepresentation": "owner:team-a"}]
        });
        decode_problem("/x", v).unwrap()
    }

    /// An open and a closed problem become OPEN and RESOLVED notifications that Keptn reads.
    #[test]
    fn problems_become_notifications() {
        let scope = "keptn_project:sockshop, keptn_stage:production, keptn_service:carts";
        let open = problem("OPEN").to_notification("https://t.example/", Some(scope));
        assert_eq!(open.state, "OPEN");
        assert_eq!(open.pid, "-42_1700000000000V2");
        assert_eq!(open.tag("owner"), Some("team-a"));
        assert_eq!(open.tag("keptn_stage"), Some("production"));
        assert_eq!(
            open.problem_url.as_deref(),
            Some("https://t.example/#problems/problemdetails;pid=-42_1700000000000V2")
        );
        let e = open.to_keptn_event().unwrap();
        assert_eq!(e.ty.to_string(), "sh.keptn.event.problem.open");
        let closed = problem("CLOSED").to_notification("https://t.example", Some(scope));
        let c = closed.to_keptn_event().unwrap();
        assert_eq!(c.data["State"], "CLOSED");
        assert_eq!(e.shkeptncontext, c.shkeptncontext);
        assert!(problem("CLOSED").ended_at().is_some());
        assert!(problem("OPEN").ended_at().is_none());
    }

    /// Selector values are quoted and escaped with `~`.
    #[test]
    fn selector_quoting() {
        assert_eq!(quote_selector_value("a\"b~c"), "\"a~\"b~~c\"");
    }
}
