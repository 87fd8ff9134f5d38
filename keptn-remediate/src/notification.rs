//! Problem notifications from Keptn events: `problem.open`, `sh.keptn.events.problem`
//! (OPEN/RESOLVED/CLOSED) and `remediation.triggered`.

use keptn_spec::event::{EventType, KeptnEvent, Payload, ProblemState};
use keptn_spec::{Problem, ProjectName, ServiceName, StageName};

use crate::error::{Error, Result};
use crate::report::EVENT_SOURCE;

/// What a problem event asks the workflow to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemNotification {
    /// A problem opened: remediate it.
    Open(Problem),
    /// A problem was resolved (RESOLVED or CLOSED): stop remediating it.
    Resolved {
        /// The problem's PID.
        pid: String,
    },
}

impl ProblemNotification {
    /// Reads a problem notification from a Keptn event.
    ///
    /// Understood: `sh.keptn.event.problem.open`, `sh.keptn.events.problem` (`State` OPEN,
    /// RESOLVED or CLOSED), `sh.keptn.event.remediation.triggered` and
    /// `sh.keptn.event.<stage>.remediation.triggered` (the problem under `problem`). Project,
    /// stage and service come from the data, else from the `keptn_project`/`keptn_stage`/
    /// `keptn_service` tags, the stage else from the sequence event's type. The PID is
    /// `PID`, else `ProblemID`, else the event's Keptn context. Returns `Ok(None)` for other
    /// events, for events this crate emitted itself, and for unknown problem states.
    ///
    /// # Errors
    /// [`Error::InvalidProblem`] when the data does not parse, or an OPEN problem has no
    /// title, project or stage.
    pub fn from_event(event: &KeptnEvent) -> Result<Option<Self>> {
        if event.source == EVENT_SOURCE {
            return Ok(None);
        }
        let is_remediation_trigger = match &event.ty {
            EventType::Sequence { sequence, .. } => {
                sequence == "remediation" && event.ty.is_triggered()
            }
            EventType::Task { .. } => {
                event.ty.is_triggered()
                    && event.ty.task_name().map(|t| t.as_str()) == Some("remediation")
            }
            EventType::ProblemOpen | EventType::Problem => true,
            _ => false,
        };
        if !is_remediation_trigger {
            return Ok(None);
        }
        let invalid = |message: String| Error::InvalidProblem {
            event_id: event.id.to_string(),
            message,
        };
        let (problem, common) = match event.payload().map_err(|e| invalid(e.to_string()))? {
            Payload::Problem(data) => (data.problem, data.common),
            Payload::RemediationTriggered(data) => (data.problem, data.common),
            _ => return Ok(None),
        };
        let pid = problem
            .pid
            .clone()
            .or_else(|| problem.problem_id.clone())
            .or_else(|| event.shkeptncontext.map(|c| c.to_string()))
            .ok_or_else(|| {
                invalid("the problem has no `PID`, `ProblemID` or Keptn context".to_owned())
            })?;
        let state = match (&event.ty, &problem.state) {
            (EventType::ProblemOpen, _) => ProblemState::Open,
            (EventType::Problem, Some(state)) => state.clone(),
            (EventType::Problem, None) => {
                return Err(invalid(
                    "`sh.keptn.events.problem` without `State`".to_owned(),
                ));
            }
            _ => ProblemState::Open,
        };
        match state {
            ProblemState::Resolved | ProblemState::Closed => {
                return Ok(Some(Self::Resolved { pid }));
            }
            ProblemState::Open => {}
            _ => return Ok(None),
        }
        let tag = |key: &str| problem.tag(key).map(str::trim).filter(|v| !v.is_empty());
        let project: ProjectName = match common.project {
            Some(p) => p,
            None => tag("keptn_project")
                .ok_or_else(|| invalid("no `project` and no `keptn_project` tag".to_owned()))?
                .parse()
                .map_err(|e| invalid(format!("tag `keptn_project`: {e}")))?,
        };
        let stage: StageName = match (common.stage, &event.ty) {
            (Some(s), _) => s,
            (None, EventType::Sequence { stage, .. }) => stage.clone(),
            (None, _) => tag("keptn_stage")
                .ok_or_else(|| invalid("no `stage` and no `keptn_stage` tag".to_owned()))?
                .parse()
                .map_err(|e| invalid(format!("tag `keptn_stage`: {e}")))?,
        };
        let service: Option<ServiceName> = match common.service {
            Some(s) => Some(s),
            None => tag("keptn_service")
                .map(|s| {
                    s.parse()
                        .map_err(|e| invalid(format!("tag `keptn_service`: {e}")))
                })
                .transpose()?,
        };
        let title = problem
            .problem_title
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the problem has no `ProblemTitle`".to_owned()))?;
        let mut out = Problem::new(pid, title, project, stage);
        out.service = service;
        out.problem_id = problem.problem_id;
        out.root_cause = problem.root_cause;
        out.url = problem.problem_url;
        out.impacted_entity = problem.impacted_entity;
        Ok(Some(Self::Open(out)))
    }
}
