//! Problems start and end the remediation sequence: an open problem becomes
//! `sh.keptn.event.<stage>.remediation.triggered`; the problem's resolution finishes it.

use keptn_spec::event::{
    EventType, KeptnContext, KeptnEvent, Phase, ProblemEventData, ProblemState, Status, Verdict,
};
use keptn_spec::{ProjectName, ServiceName, StageName};

use super::payload::{self, REMEDIATION_SEQUENCE};
use super::state::{Controller, Effects};
use crate::ids;
use crate::model::SequenceState;

impl Controller {
    pub(super) fn on_problem(&mut self, event: &KeptnEvent, fx: &mut Effects) {
        let data: ProblemEventData = match event.data_as() {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(id = %event.id, "problem event ignored: {e}");
                return;
            }
        };
        let problem = &data.problem;
        let pid = problem.pid.clone().or_else(|| problem.problem_id.clone());
        let context = event
            .shkeptncontext
            .or_else(|| pid.as_deref().map(KeptnContext::from_ingress));
        let Some(context) = context else {
            tracing::warn!(id = %event.id, "problem event without context or PID ignored");
            return;
        };
        let open = event.ty == EventType::ProblemOpen || problem.state == Some(ProblemState::Open);
        let closed = matches!(
            problem.state,
            Some(ProblemState::Resolved | ProblemState::Closed)
        );
        if closed {
            self.close_remediation(context, fx);
            return;
        }
        if !open {
            return;
        }
        let running = self
            .active
            .values()
            .any(|r| r.context == context && r.sequence == REMEDIATION_SEQUENCE);
        if running {
            return; // the same problem again
        }
        let pick = |field: Option<String>, tag: &str| {
            field.or_else(|| problem.tag_as_keptn(tag).map(str::to_owned))
        };
        let project = pick(
            data.common.project.as_ref().map(ToString::to_string),
            "keptn_project",
        )
        .and_then(|p| p.parse::<ProjectName>().ok());
        let stage = pick(
            data.common.stage.as_ref().map(ToString::to_string),
            "keptn_stage",
        )
        .and_then(|s| s.parse::<StageName>().ok());
        let service = pick(
            data.common.service.as_ref().map(ToString::to_string),
            "keptn_service",
        )
        .and_then(|s| s.parse::<ServiceName>().ok());
        let (Some(project), Some(stage), Some(service)) = (project, stage, service) else {
            tracing::warn!(id = %event.id, "problem without project, stage and service cannot be remediated");
            return;
        };
        let mut remediation = data.to_remediation_triggered();
        remediation.common.project = Some(project);
        remediation.common.stage = Some(stage.clone());
        remediation.common.service = Some(service);
        let Ok(ty) = EventType::sequence(stage, REMEDIATION_SEQUENCE, Phase::Triggered) else {
            return;
        };
        let data = serde_json::to_value(&remediation).unwrap_or_default();
        let triggered = payload::triggered_event(
            ty,
            ids::derive(&event.id, REMEDIATION_SEQUENCE),
            context,
            &data,
        );
        fx.emit(triggered.clone());
        self.start_sequence(&triggered, fx);
    }

    /// The problem is gone: its remediation sequences finish with `pass`.
    fn close_remediation(&mut self, context: KeptnContext, fx: &mut Effects) {
        let open: Vec<_> = self
            .active
            .values()
            .filter(|r| r.context == context && r.sequence == REMEDIATION_SEQUENCE)
            .map(|r| r.id.clone())
            .collect();
        for id in open {
            if let Some(mut record) = self.active.get(&id).cloned() {
                record.status = Status::Succeeded;
                record.result = Verdict::Pass;
                record.message = "the problem was closed".to_owned();
                self.finish(&mut record, SequenceState::Finished, fx);
            }
        }
    }
}
