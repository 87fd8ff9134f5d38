//! The configuration bodies the set-up writes: metric events ([`MetricEvent`]), auto-tags, the
//! alerting profile, management zones and the project dashboard.

use keptn_spec::{ProjectName, StageName};
use serde_json::{Value, json};

use super::ALERTING_PROFILE_NAME;

/// Which side of the threshold alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertCondition {
    /// Values above the threshold violate it.
    Above,
    /// Values below the threshold violate it.
    Below,
}

impl AlertCondition {
    fn as_str(self) -> &'static str {
        match self {
            AlertCondition::Above => "ABOVE",
            AlertCondition::Below => "BELOW",
        }
    }
}

/// A metric event with a static threshold (anomaly detection, Configuration API v1
/// `MetricEvent` with a `STATIC_THRESHOLD` monitoring strategy): Davis opens a problem titled
/// with the event's name when `violating_samples` of the last `samples` one-minute samples of
/// `metric_selector` are on the wrong side of `threshold`, and closes it when
/// `dealerting_samples` samples are back to normal.
///
/// ```
/// use keptn_dynatrace::MetricEvent;
///
/// let e = MetricEvent::static_threshold(
///     "Failure rate increase",
///     r#"keptn.tour.error_rate:filter(eq("keptn_stage","production"))"#,
///     10.0,
/// )
/// .with_samples(5, 3, 5);
/// assert_eq!(e.to_json()["monitoringStrategy"]["violatingSamples"], 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricEvent {
    /// The name; it is also the title of the problems the event opens.
    pub name: String,
    /// The description shown in Dynatrace.
    pub description: String,
    /// The metric selector evaluated (without a time aggregation).
    pub metric_selector: String,
    /// The threshold.
    pub threshold: f64,
    /// Above or below.
    pub alert_condition: AlertCondition,
    /// The sliding window, in one-minute samples (3–60).
    pub samples: u32,
    /// Violating samples in the window that open the event (≥ 1).
    pub violating_samples: u32,
    /// Normal samples in the window that close it (≥ 3).
    pub dealerting_samples: u32,
    /// `ERROR`, `PERFORMANCE`, `AVAILABILITY`, `RESOURCE_CONTENTION`, `CUSTOM_ALERT` or `INFO`.
    pub severity: String,
    /// The threshold's unit (`UNSPECIFIED`, `PERCENT`, `MILLI_SECOND`, …).
    pub unit: String,
    /// `queryOffset`: how many minutes (samples) evaluation waits for late data (1–60).
    pub query_offset: Option<u32>,
}

impl MetricEvent {
    /// An enabled `ERROR` event alerting above `threshold`, 3 violating of 5 samples, closing
    /// after 5 normal samples.
    pub fn static_threshold(
        name: impl Into<String>,
        metric_selector: impl Into<String>,
        threshold: f64,
    ) -> Self {
        let name = name.into();
        Self {
            description: format!("{name}: the metric is above {threshold}"),
            name,
            metric_selector: metric_selector.into(),
            threshold,
            alert_condition: AlertCondition::Above,
            samples: 5,
            violating_samples: 3,
            dealerting_samples: 5,
            severity: "ERROR".to_owned(),
            unit: "UNSPECIFIED".to_owned(),
            query_offset: None,
        }
    }

    /// Sets the window and the violating and dealerting sample counts.
    #[must_use]
    pub fn with_samples(mut self, samples: u32, violating: u32, dealerting: u32) -> Self {
        self.samples = samples;
        self.violating_samples = violating;
        self.dealerting_samples = dealerting;
        self
    }

    /// Sets the alert condition.
    #[must_use]
    pub fn with_condition(mut self, condition: AlertCondition) -> Self {
        self.alert_condition = condition;
        self
    }

    /// Sets `queryOffset`: evaluation waits this many minutes (samples) for late data.
    #[must_use]
    pub fn with_query_offset(mut self, minutes: u32) -> Self {
        self.query_offset = Some(minutes);
        self
    }

    /// Sets the severity (`ERROR`, `PERFORMANCE`, …).
    #[must_use]
    pub fn with_severity(mut self, severity: impl Into<String>) -> Self {
        self.severity = severity.into();
        self
    }

    /// The JSON body of the Configuration API (`MetricEvent`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "description": self.description,
            "enabled": true,
            "metricSelector": self.metric_selector,
            "severity": self.severity,
            "monitoringStrategy": {
                "type": "STATIC_THRESHOLD",
                "alertCondition": self.alert_condition.as_str(),
                "threshold": self.threshold,
                "samples": self.samples,
                "violatingSamples": self.violating_samples,
                "dealertingSamples": self.dealerting_samples,
                "unit": self.unit,
            },
        });
        if let Some(offset) = self.query_offset {
            v["queryOffset"] = json!(offset);
        }
        v
    }
}

pub(super) fn auto_tag(name: &str) -> Value {
    json!({
        "name": name,
        "rules": [{
            "type": "SERVICE",
            "enabled": true,
            "valueFormat": format!("{{ProcessGroup:Environment:{name}}}"),
            "propagationTypes": ["SERVICE_TO_PROCESS_GROUP_LIKE"],
            "conditions": [{
                "key": {
                    "attribute": "PROCESS_GROUP_CUSTOM_METADATA",
                    "dynamicKey": {"source": "ENVIRONMENT", "key": name},
                    "type": "PROCESS_CUSTOM_METADATA_KEY"
                },
                "comparisonInfo": {"type": "STRING", "operator": "EXISTS", "value": null, "negate": false, "caseSensitive": null}
            }]
        }]
    })
}

pub(super) fn alerting_profile() -> Value {
    let rules: Vec<Value> = [
        "AVAILABILITY",
        "ERROR",
        "PERFORMANCE",
        "RESOURCE_CONTENTION",
        "CUSTOM_ALERT",
        "MONITORING_UNAVAILABLE",
    ]
    .iter()
    .map(|s| json!({"severityLevel": s, "tagFilter": {"includeMode": "NONE", "tagFilters": null}, "delayInMinutes": 0}))
    .collect();
    json!({"displayName": ALERTING_PROFILE_NAME, "rules": rules, "mzId": null})
}

fn tag_condition(key: &str, value: &str) -> Value {
    json!({
        "key": {"attribute": "SERVICE_TAGS"},
        "comparisonInfo": {
            "type": "TAG",
            "operator": "EQUALS",
            "value": {"context": "CONTEXTLESS", "key": key, "value": value},
            "negate": false
        }
    })
}

pub(super) fn management_zone(
    name: &str,
    project: &ProjectName,
    stage: Option<&StageName>,
) -> Value {
    let mut conditions = vec![tag_condition("keptn_project", project.as_str())];
    if let Some(stage) = stage {
        conditions.push(tag_condition("keptn_stage", stage.as_str()));
    }
    json!({
        "name": name,
        "rules": [{
            "type": "SERVICE",
            "enabled": true,
            "propagationTypes": ["SERVICE_TO_PROCESS_GROUP_LIKE", "SERVICE_TO_HOST_LIKE"],
            "conditions": conditions
        }]
    })
}

/// The name Keptn gives a project's dashboard.
pub fn dashboard_name(project: &ProjectName) -> String {
    format!("{project}@keptn: Digital Delivery & Operations Dashboard")
}

pub(super) fn dashboard(
    name: &str,
    project: &ProjectName,
    stages: &[(StageName, String, Option<String>)],
) -> Value {
    let bounds = |top: i32, left: i32, width: i32, height: i32| json!({"top": top, "left": left, "width": width, "height": height});
    let mut tiles = vec![
        json!({"name": "Markdown", "tileType": "MARKDOWN", "configured": true, "bounds": bounds(0, 0, 1254, 38),
               "markdown": format!("## Keptn project `{project}`: services by stage")}),
        json!({"name": "Hosts", "tileType": "HOSTS", "configured": true, "bounds": bounds(38, 0, 304, 304), "filterConfig": null, "chartVisible": true}),
        json!({"name": "Open problems", "tileType": "OPEN_PROBLEMS", "configured": true, "bounds": bounds(38, 304, 152, 152)}),
    ];
    for (i, (stage, zone_name, zone_id)) in stages.iter().enumerate() {
        let left = 494 + 342 * i32::try_from(i).unwrap_or(0);
        let filter = zone_id.as_ref().map_or(
            Value::Null,
            |id| json!({"managementZone": {"id": id, "name": zone_name}}),
        );
        tiles.push(json!({"name": stage.as_str(), "tileType": "HEADER", "configured": true, "bounds": bounds(38, left, 304, 38)}));
        tiles.push(json!({"name": "Services", "tileType": "SERVICES", "configured": true, "bounds": bounds(76, left, 304, 304),
                          "tileFilter": filter, "filterConfig": null, "chartVisible": true}));
    }
    json!({
        "dashboardMetadata": {
            "name": name,
            "shared": true,
            "owner": "keptn",
            "tags": ["keptn"],
            "dashboardFilter": {"timeframe": "l_7_DAYS", "managementZone": null}
        },
        "tiles": tiles
    })
}
