//! Which events a target receives: event types (with wildcards) and project/stage/service.

use keptn_spec::webhook::EventTypePattern;
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde_json::Value;

/// Selects events by type and by `data.project` / `data.stage` / `data.service`.
///
/// Every list that is empty matches everything; a non-empty list matches when any entry
/// matches. An event without `data.stage` (a project-wide event) does not match a filter that
/// names stages; the same holds for projects and services.
///
/// ```
/// use keptn_notify::EventFilter;
/// let filter = EventFilter::all()
///     .event_type("sh.keptn.event.*.finished".parse()?)
///     .stage("production".parse()?);
/// let event = serde_json::json!({"type": "sh.keptn.event.evaluation.finished",
///                                "data": {"project": "sockshop", "stage": "production"}});
/// assert!(filter.matches(&event));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    event_types: Vec<EventTypePattern>,
    projects: Vec<ProjectName>,
    stages: Vec<StageName>,
    services: Vec<ServiceName>,
}

impl EventFilter {
    /// A filter that lets every event through.
    pub fn all() -> Self {
        Self::default()
    }

    /// Also accepts events whose type matches `pattern` (and no longer all types).
    #[must_use]
    pub fn event_type(mut self, pattern: EventTypePattern) -> Self {
        self.event_types.push(pattern);
        self
    }

    /// Also accepts events of `project` (and no longer all projects).
    #[must_use]
    pub fn project(mut self, project: ProjectName) -> Self {
        self.projects.push(project);
        self
    }

    /// Also accepts events of `stage` (and no longer all stages).
    #[must_use]
    pub fn stage(mut self, stage: StageName) -> Self {
        self.stages.push(stage);
        self
    }

    /// Also accepts events of `service` (and no longer all services).
    #[must_use]
    pub fn service(mut self, service: ServiceName) -> Self {
        self.services.push(service);
        self
    }

    /// Whether `event` (a CloudEvent as JSON) passes the filter.
    pub fn matches(&self, event: &Value) -> bool {
        let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
        self.matches_parts(
            event_type,
            data_str(event, "project"),
            data_str(event, "stage"),
            data_str(event, "service"),
        )
    }

    pub(crate) fn matches_parts(
        &self,
        event_type: &str,
        project: Option<&str>,
        stage: Option<&str>,
        service: Option<&str>,
    ) -> bool {
        (self.event_types.is_empty() || self.event_types.iter().any(|p| p.matches(event_type)))
            && one_of(&self.projects, project, ProjectName::as_str)
            && one_of(&self.stages, stage, StageName::as_str)
            && one_of(&self.services, service, ServiceName::as_str)
    }
}

fn one_of<T>(allowed: &[T], actual: Option<&str>, as_str: fn(&T) -> &str) -> bool {
    allowed.is_empty() || actual.is_some_and(|a| allowed.iter().any(|x| as_str(x) == a))
}

pub(crate) fn data_str<'v>(event: &'v Value, key: &str) -> Option<&'v str> {
    event.get("data")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(t: &str, project: &str, stage: Option<&str>) -> Value {
        let mut data = json!({"project": project, "service": "carts"});
        if let Some(s) = stage {
            data["stage"] = json!(s);
        }
        json!({"type": t, "data": data})
    }

    /// An empty filter lets everything through.
    #[test]
    fn empty_filter_matches_everything() {
        assert!(EventFilter::all().matches(&json!({})));
        assert!(EventFilter::all().matches(&event("x", "p", None)));
    }

    /// Type patterns, projects and stages combine with AND; entries of one list with OR.
    #[test]
    fn lists_combine() {
        let f = EventFilter::all()
            .event_type("sh.keptn.event.*.finished".parse().unwrap())
            .event_type("sh.keptn.events.problem".parse().unwrap())
            .project("sockshop".parse().unwrap())
            .stage("staging".parse().unwrap())
            .stage("production".parse().unwrap());
        assert!(f.matches(&event(
            "sh.keptn.event.evaluation.finished",
            "sockshop",
            Some("staging")
        )));
        assert!(f.matches(&event(
            "sh.keptn.events.problem",
            "sockshop",
            Some("production")
        )));
        assert!(!f.matches(&event(
            "sh.keptn.event.evaluation.started",
            "sockshop",
            Some("staging")
        )));
        assert!(!f.matches(&event(
            "sh.keptn.event.evaluation.finished",
            "other",
            Some("staging")
        )));
        assert!(!f.matches(&event(
            "sh.keptn.event.evaluation.finished",
            "sockshop",
            Some("dev")
        )));
        // no stage on the event: a stage filter does not match
        assert!(!f.matches(&event(
            "sh.keptn.event.evaluation.finished",
            "sockshop",
            None
        )));
    }

    /// Service filters read `data.service`.
    #[test]
    fn service_filter() {
        let f = EventFilter::all().service("carts-db".parse().unwrap());
        assert!(!f.matches(&event("t", "p", None)));
        let f = EventFilter::all().service("carts".parse().unwrap());
        assert!(f.matches(&event("t", "p", None)));
    }
}
