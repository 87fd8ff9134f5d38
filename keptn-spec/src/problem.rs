//! The problem model: a problem a monitoring tool reported, as the remediation sequence sees it.
//!
//! [`Problem`] is the one domain value for a problem across the workspace. Events carry problems
//! in Keptn's wire shape, [`ProblemDetails`](crate::event::ProblemDetails) (capitalized Dynatrace
//! field names, every field optional); [`Problem`] is what is left once that has been read and
//! checked: an id, a title, where it happened, and what is known besides.
//!
//! ```
//! use keptn_spec::Problem;
//!
//! let problem = Problem::new("PID-1", "Failure rate increase", "sockshop".parse()?, "production".parse()?)
//!     .with_service("carts".parse()?)
//!     .with_root_cause("Failure rate increase");
//! assert_eq!(problem.service.as_ref().map(|s| s.as_str()), Some("carts"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;

use crate::names::{ProjectName, ServiceName, StageName};

/// A problem reported by a monitoring tool, read and checked (the wire shape is
/// [`ProblemDetails`](crate::event::ProblemDetails)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Problem {
    /// The problem's id at the monitoring tool (Dynatrace `PID`). OPEN and RESOLVED
    /// notifications of one problem share it; the workflow uses it to drop duplicates.
    pub pid: String,
    /// The display id (Dynatrace `ProblemID`, such as `P-1234`), when known.
    pub problem_id: Option<String>,
    /// The title, such as `Failure rate increase`.
    pub title: String,
    /// The root cause, when the monitoring tool names one (`rootCause`).
    pub root_cause: Option<String>,
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service, when the problem names one.
    pub service: Option<ServiceName>,
    /// A link to the problem at the monitoring tool.
    pub url: Option<String>,
    /// The impacted entity, such as `Web request /carts`.
    pub impacted_entity: Option<String>,
}

impl Problem {
    /// A problem with an id and a title in one project and stage.
    pub fn new(
        pid: impl Into<String>,
        title: impl Into<String>,
        project: ProjectName,
        stage: StageName,
    ) -> Self {
        Self {
            pid: pid.into(),
            problem_id: None,
            title: title.into(),
            root_cause: None,
            project,
            stage,
            service: None,
            url: None,
            impacted_entity: None,
        }
    }

    /// Sets the service.
    #[must_use]
    pub fn with_service(mut self, service: ServiceName) -> Self {
        self.service = Some(service);
        self
    }

    /// Sets the root cause.
    #[must_use]
    pub fn with_root_cause(mut self, root_cause: impl Into<String>) -> Self {
        self.root_cause = Some(root_cause.into());
        self
    }

    /// Sets the display id (`ProblemID`).
    #[must_use]
    pub fn with_problem_id(mut self, problem_id: impl Into<String>) -> Self {
        self.problem_id = Some(problem_id.into());
        self
    }

    /// Sets the link to the problem.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
}
