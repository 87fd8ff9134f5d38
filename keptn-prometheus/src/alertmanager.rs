//! Problem intake: Alertmanager's webhook payload (version 4) → Keptn problem events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use keptn_spec::event::{
    EventType, KeptnContext, KeptnEvent, ProblemDetails, ProblemEventData, ProblemState,
};
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `source` of the Keptn events this module creates.
pub const EVENT_SOURCE: &str = "keptn-prometheus";

/// Whether a group's alerts fire or have all resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// At least one alert of the group fires.
    Firing,
    /// Every alert of the group has resolved.
    Resolved,
}

/// One alert of a webhook notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// The alert's labels (`alertname`, `project`, `stage`, `service`, …).
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations (`summary`, `description`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved (Alertmanager sends `0001-01-01T00:00:00Z` while it fires).
    pub ends_at: DateTime<Utc>,
    /// The link to the expression in Prometheus.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    /// The alert's identity (a hash of its labels).
    #[serde(default)]
    pub fingerprint: String,
}

/// Alertmanager's webhook payload, version 4: one alert group.
///
/// ```
/// use keptn_prometheus::{AlertStatus, WebhookPayload};
///
/// let p = WebhookPayload::parse(r#"{"version":"4","groupKey":"{}:{alertname=\"error_rate\"}",
///   "truncatedAlerts":0,"status":"firing","receiver":"keptn",
///   "groupLabels":{"alertname":"error_rate"},
///   "commonLabels":{"alertname":"error_rate","project":"sockshop","stage":"production","service":"carts"},
///   "commonAnnotations":{"summary":"Failure rate increase"},"externalURL":"http://am:9093",
///   "alerts":[{"status":"firing","labels":{"alertname":"error_rate","project":"sockshop",
///     "stage":"production","service":"carts"},"annotations":{"summary":"Failure rate increase"},
///     "startsAt":"2024-03-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
///     "generatorURL":"http://prom:9090/graph","fingerprint":"3b15fd163a7b9b5e"}]}"#)?;
/// assert_eq!(p.status, AlertStatus::Firing);
/// let event = p.to_problem_event()?;
/// assert_eq!(event.ty.to_string(), "sh.keptn.event.problem.open");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookPayload {
    /// The payload version: `4`.
    pub version: String,
    /// The group's identity: the seed of the Keptn context.
    pub group_key: String,
    /// How many alerts were left out (`max_alerts`).
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// The labels the group is formed by.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels all alerts share.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations all alerts share.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's URL.
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<Alert>,
}

/// FNV-1a, 64 bit: a stable 16-hex-digit seed from a group key of any length.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl WebhookPayload {
    /// Parses a webhook body.
    ///
    /// # Errors
    /// [`Error::Alert`] with line and column of invalid JSON, the missing or mistyped field,
    /// a version other than `4`, or a group without alerts.
    pub fn parse(body: &str) -> Result<Self> {
        let p: Self = serde_json::from_str(body).map_err(|e| Error::Alert {
            message: if e.is_syntax() || e.is_eof() {
                format!(
                    "the body is not JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                )
            } else {
                e.to_string()
            },
        })?;
        if p.version != "4" {
            return Err(Error::Alert {
                message: format!(
                    "`version` is `{}`; expected `4` (Alertmanager ≥ 0.16)",
                    p.version
                ),
            });
        }
        if p.alerts.is_empty() {
            return Err(Error::Alert {
                message: "`alerts` is empty; a notification carries at least one alert".to_owned(),
            });
        }
        if p.group_key.is_empty() {
            return Err(Error::Alert {
                message: "`groupKey` is empty".to_owned(),
            });
        }
        Ok(p)
    }

    /// The group's Keptn context: derived from a hash of `groupKey`, so every notification of
    /// one group (firing, repeated, resolved) shares it, and different groups never do.
    pub fn keptn_context(&self) -> KeptnContext {
        KeptnContext::derive(&format!("{:016x}", fnv1a(&self.group_key)))
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.common_labels
            .get(key)
            .or_else(|| self.group_labels.get(key))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The Keptn problem event of this notification: `firing` → `sh.keptn.event.problem.open`
    /// with `State: OPEN`; `resolved` → `sh.keptn.events.problem` with `State: CLOSED`. Project,
    /// stage and service come from the labels all alerts share; the title from the `summary`
    /// annotation (else the alert name); the details list every alert.
    ///
    /// # Errors
    /// [`Error::Alert`] when the alerts do not share `project`, `stage` and `service` labels
    /// (group by them) or a value is not a valid Keptn name.
    pub fn to_problem_event(&self) -> Result<KeptnEvent> {
        let missing = |label: &str| Error::Alert {
            message: format!(
                "the alerts do not share a `{label}` label: generate the rules with `alert_rules` and group by project, stage and service"
            ),
        };
        let invalid = |e: keptn_spec::names::InvalidName| Error::Alert {
            message: e.to_string(),
        };
        let project = ProjectName::new(self.label("project").ok_or_else(|| missing("project"))?)
            .map_err(invalid)?;
        let stage = StageName::new(self.label("stage").ok_or_else(|| missing("stage"))?)
            .map_err(invalid)?;
        let service = ServiceName::new(self.label("service").ok_or_else(|| missing("service"))?)
            .map_err(invalid)?;
        let first = &self.alerts[0];
        let title = self
            .common_annotations
            .get("summary")
            .or_else(|| first.annotations.get("summary"))
            .map(String::as_str)
            .or_else(|| self.label("alertname"))
            .unwrap_or("Prometheus alert")
            .to_owned();
        let mut problem = ProblemDetails::default();
        problem.state = Some(match self.status {
            AlertStatus::Firing => ProblemState::Open,
            AlertStatus::Resolved => ProblemState::Closed,
        });
        let context = self.keptn_context();
        problem.pid = Some(context.to_string());
        problem.problem_id = Some(format!("{:016x}", fnv1a(&self.group_key)));
        problem.problem_title = Some(title);
        problem.problem_details = Some(serde_json::json!({
            "groupKey": self.group_key,
            "alerts": self.alerts,
        }));
        problem.problem_url = Some(if first.generator_url.is_empty() {
            self.external_url.clone()
        } else {
            first.generator_url.clone()
        });
        problem.impacted_entity = Some(service.to_string());
        problem.tags = Some(format!(
            "keptn_project:{project}, keptn_stage:{stage}, keptn_service:{service}"
        ));
        let mut data = ProblemEventData::default();
        data.problem = problem;
        data.common.project = Some(project);
        data.common.stage = Some(stage);
        data.common.service = Some(service);
        let ty = match self.status {
            AlertStatus::Firing => EventType::ProblemOpen,
            AlertStatus::Resolved => EventType::Problem,
        };
        Ok(KeptnEvent::new(ty, EVENT_SOURCE, context, &data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(status: &str, labels: &str) -> String {
        format!(
            r#"{{"version":"4","groupKey":"{{}}/{{severity=\"webhook\"}}:{{alertname=\"error_rate\", project=\"sockshop\"}}","truncatedAlerts":0,"status":"{status}","receiver":"keptn","groupLabels":{{"alertname":"error_rate"}},"commonLabels":{labels},"commonAnnotations":{{"summary":"Failure rate increase"}},"externalURL":"http://127.0.0.1:9093","alerts":[{{"status":"{status}","labels":{labels},"annotations":{{}},"startsAt":"2024-03-01T10:00:00Z","endsAt":"2024-03-01T10:05:00Z","generatorURL":"http://prom/graph","fingerprint":"3b15fd163a7b9b5e"}}]}}"#
        )
    }

    const LABELS: &str =
        r#"{"alertname":"error_rate","project":"sockshop","stage":"production","service":"carts"}"#;

    /// Firing opens, resolved closes, in one context per group.
    #[test]
    fn firing_opens_and_resolved_closes() {
        let open = WebhookPayload::parse(&body("firing", LABELS))
            .unwrap()
            .to_problem_event()
            .unwrap();
        let closed = WebhookPayload::parse(&body("resolved", LABELS))
            .unwrap()
            .to_problem_event()
            .unwrap();
        assert_eq!(open.ty, EventType::ProblemOpen);
        assert_eq!(closed.ty, EventType::Problem);
        assert_eq!(open.shkeptncontext, closed.shkeptncontext);
        let d: ProblemEventData = open.data_as().unwrap();
        assert_eq!(d.problem.state, Some(ProblemState::Open));
        assert_eq!(
            d.problem.problem_title.as_deref(),
            Some("Failure rate increase")
        );
        assert_eq!(d.common.stage.unwrap().as_str(), "production");
        assert_eq!(d.problem.tag("keptn_service"), Some("carts"));
        let d: ProblemEventData = closed.data_as().unwrap();
        assert_eq!(d.problem.state, Some(ProblemState::Closed));
        let other = body("firing", LABELS).replace("error_rate\\\"", "response_time_p95\\\"");
        let other = WebhookPayload::parse(&other).unwrap();
        assert_ne!(Some(other.keptn_context()), open.shkeptncontext);
    }

    /// Malformed payloads are clear errors, never panics.
    #[test]
    fn malformed_payloads() {
        let cases = [
            (String::new(), "not JSON (line 1"),
            ("{".to_owned(), "not JSON"),
            (
                "7".to_owned(),
                "invalid type: integer `7`, expected struct WebhookPayload",
            ),
            (
                body("firing", LABELS).replace("\"version\":\"4\"", "\"version\":\"3\""),
                "expected `4`",
            ),
            (body("pending", LABELS), "unknown variant `pending`"),
            (
                body("firing", LABELS).replace("2024-03-01T10:00:00Z", "yesterday"),
                "input contains invalid characters",
            ),
            (
                r#"{"version":"4","groupKey":"k","status":"firing","alerts":[]}"#.to_owned(),
                "`alerts` is empty",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[]}"#.to_owned(),
                "missing field `groupKey`",
            ),
        ];
        for (b, want) in cases {
            let err = WebhookPayload::parse(&b).unwrap_err().to_string();
            assert!(err.contains(want), "{b}: {err}");
        }
        let unlabelled = WebhookPayload::parse(&body("firing", r#"{"alertname":"x"}"#)).unwrap();
        let err = unlabelled.to_problem_event().unwrap_err().to_string();
        assert!(err.contains("do not share a `project` label"), "{err}");
        let bad = WebhookPayload::parse(&body("firing", &LABELS.replace("sockshop", "Sock Shop")))
            .unwrap();
        assert!(
            bad.to_problem_event()
                .unwrap_err()
                .to_string()
                .contains("not a valid Keptn project name")
        );
    }
}
