//! The typed data of an event, chosen by its type.

use super::data::*;
use super::envelope::KeptnEvent;
use super::types::{EventType, Phase, Task};
use crate::error::{Error, Result};
use crate::evaluation::EvaluationFinishedData;

/// The data of an event, typed by its [`EventType`] (see [`KeptnEvent::payload`]).
///
/// Events without a payload type of their own (`.started` events, `approval.finished`,
/// `remediation.finished`, custom tasks, sequence events, …) read as [`Payload::Common`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Payload {
    /// `deployment.triggered`.
    DeploymentTriggered(DeploymentTriggeredData),
    /// `deployment.finished`.
    DeploymentFinished(DeploymentFinishedData),
    /// `test.triggered`.
    TestTriggered(TestTriggeredData),
    /// `test.finished`.
    TestFinished(TestFinishedData),
    /// `evaluation.triggered`.
    EvaluationTriggered(EvaluationTriggeredData),
    /// `evaluation.finished`.
    EvaluationFinished(Box<EvaluationFinishedData>),
    /// `release.triggered`.
    ReleaseTriggered(ReleaseTriggeredData),
    /// `release.finished`.
    ReleaseFinished(ReleaseFinishedData),
    /// `rollback.triggered`.
    RollbackTriggered(RollbackTriggeredData),
    /// `get-sli.triggered`.
    GetSliTriggered(GetSliTriggeredData),
    /// `get-sli.finished`.
    GetSliFinished(GetSliFinishedData),
    /// `approval.triggered`.
    ApprovalTriggered(ApprovalTriggeredData),
    /// `remediation.triggered` and `<stage>.remediation.triggered`.
    RemediationTriggered(RemediationTriggeredData),
    /// `remediation.status.changed`.
    RemediationStatusChanged(RemediationStatusChangedData),
    /// `get-action.triggered`.
    GetActionTriggered(GetActionTriggeredData),
    /// `get-action.finished`.
    GetActionFinished(GetActionFinishedData),
    /// `action.triggered`.
    ActionTriggered(ActionTriggeredData),
    /// `action.finished`.
    ActionFinished(ActionFinishedData),
    /// `configure-monitoring.triggered`.
    ConfigureMonitoringTriggered(ConfigureMonitoringTriggeredData),
    /// `problem.open` and `sh.keptn.events.problem`.
    Problem(ProblemEventData),
    /// Any other event: the common fields only.
    Common(EventData),
}

impl Payload {
    /// The common fields (project, stage, service, labels, status, result, message), whatever
    /// the payload.
    pub fn common(&self) -> EventData {
        match self {
            Payload::DeploymentTriggered(d) => d.common.clone(),
            Payload::DeploymentFinished(d) => d.common.clone(),
            Payload::TestTriggered(d) => d.common.clone(),
            Payload::TestFinished(d) => d.common.clone(),
            Payload::EvaluationTriggered(d) => d.common.clone(),
            Payload::EvaluationFinished(d) => {
                let mut common = EventData {
                    project: d.project.parse().ok(),
                    stage: d.stage.parse().ok(),
                    service: d.service.parse().ok(),
                    labels: d.labels.clone(),
                    status: Some(d.status),
                    result: Some(d.result),
                    message: None,
                };
                if !d.message.is_empty() {
                    common.message = Some(d.message.clone());
                }
                common
            }
            Payload::ReleaseTriggered(d) | Payload::RollbackTriggered(d) => d.common.clone(),
            Payload::ReleaseFinished(d) => d.common.clone(),
            Payload::GetSliTriggered(d) => d.common.clone(),
            Payload::GetSliFinished(d) => d.common.clone(),
            Payload::ApprovalTriggered(d) => d.common.clone(),
            Payload::RemediationTriggered(d) => d.common.clone(),
            Payload::RemediationStatusChanged(d) => d.common.clone(),
            Payload::GetActionTriggered(d) => d.common.clone(),
            Payload::GetActionFinished(d) => d.common.clone(),
            Payload::ActionTriggered(d) => d.common.clone(),
            Payload::ActionFinished(d) => d.common.clone(),
            Payload::ConfigureMonitoringTriggered(d) => d.common.clone(),
            Payload::Problem(d) => d.common.clone(),
            Payload::Common(d) => d.clone(),
        }
    }
}

impl KeptnEvent {
    /// The event's data, typed by its type: [`KeptnEvent::data_as`] with the payload type that
    /// belongs to [`KeptnEvent::ty`]. Generation-1 events are read through
    /// [`KeptnEvent::to_gen2`] first, so a `sh.keptn.events.deployment-finished` gives
    /// [`Payload::DeploymentFinished`].
    ///
    /// # Errors
    /// [`Error::Parse`] naming the event and the field when the data does not have the shape
    /// its type requires (a bad project name, a `result` that is not pass/warning/fail, a
    /// malformed time, …).
    ///
    /// ```
    /// use keptn_spec::event::{KeptnEvent, Payload};
    ///
    /// let ev = KeptnEvent::from_json_str(r#"{
    ///   "specversion": "1.0", "id": "9f0e5a4c-1b2d-4e3f-8a7b-6c5d4e3f2a1b", "source": "dynatrace",
    ///   "type": "sh.keptn.event.production.remediation.triggered",
    ///   "shkeptncontext": "2d323338-3935-4432-b032-333034303933",
    ///   "data": {"project": "sockshop", "stage": "production", "service": "carts",
    ///            "problem": {"State": "OPEN", "PID": "-2389542023040931083_1576063740000V2",
    ///                        "ProblemTitle": "Failure rate increase"}}
    /// }"#)?;
    /// let Payload::RemediationTriggered(data) = ev.payload()? else { unreachable!() };
    /// assert_eq!(data.problem.problem_title.as_deref(), Some("Failure rate increase"));
    /// # Ok::<(), keptn_spec::Error>(())
    /// ```
    pub fn payload(&self) -> Result<Payload> {
        if self.ty.is_gen1() || self.is_gen1_envelope() {
            return self.to_gen2().payload_gen2();
        }
        self.payload_gen2()
    }

    fn payload_gen2(&self) -> Result<Payload> {
        use Phase::{Finished, StatusChanged, Triggered};
        let (task, phase) = match &self.ty {
            EventType::Task { task, phase } => (task, *phase),
            EventType::ProblemOpen | EventType::Problem => {
                return self.data_as().map(Payload::Problem);
            }
            EventType::Sequence {
                sequence, phase, ..
            } if sequence == "remediation" && *phase == Triggered => {
                return self.data_as().map(Payload::RemediationTriggered);
            }
            _ => return self.data_as().map(Payload::Common),
        };
        Ok(match (task, phase) {
            (Task::Deployment, Triggered) => Payload::DeploymentTriggered(self.data_as()?),
            (Task::Deployment, Finished) => Payload::DeploymentFinished(self.data_as()?),
            (Task::Test, Triggered) => Payload::TestTriggered(self.data_as()?),
            (Task::Test, Finished) => Payload::TestFinished(self.data_as()?),
            (Task::Evaluation, Triggered) => Payload::EvaluationTriggered(self.data_as()?),
            (Task::Evaluation, Finished) => Payload::EvaluationFinished(self.data_as()?),
            (Task::Release, Triggered) => Payload::ReleaseTriggered(self.data_as()?),
            (Task::Release, Finished) => Payload::ReleaseFinished(self.data_as()?),
            (Task::Rollback, Triggered) => Payload::RollbackTriggered(self.data_as()?),
            (Task::GetSli, Triggered) => Payload::GetSliTriggered(self.data_as()?),
            (Task::GetSli, Finished) => Payload::GetSliFinished(self.data_as()?),
            (Task::Approval, Triggered) => Payload::ApprovalTriggered(self.data_as()?),
            (Task::Remediation, Triggered) => Payload::RemediationTriggered(self.data_as()?),
            (Task::Remediation, StatusChanged) => {
                Payload::RemediationStatusChanged(self.data_as()?)
            }
            (Task::GetAction, Triggered) => Payload::GetActionTriggered(self.data_as()?),
            (Task::GetAction, Finished) => Payload::GetActionFinished(self.data_as()?),
            (Task::Action, Triggered) => Payload::ActionTriggered(self.data_as()?),
            (Task::Action, Finished) => Payload::ActionFinished(self.data_as()?),
            (Task::ConfigureMonitoring, Triggered) => {
                Payload::ConfigureMonitoringTriggered(self.data_as()?)
            }
            _ => Payload::Common(self.data_as()?),
        })
    }

    /// Checks the event as a whole: its data has the shape its type requires
    /// ([`KeptnEvent::payload`]), and a generation-2 `.started`, `.status.changed` or
    /// `.finished` task event names the `.triggered` event it answers (`triggeredid`).
    ///
    /// # Errors
    /// [`Error::Parse`] describing the first problem found.
    pub fn validate(&self) -> Result<Payload> {
        let payload = self.payload()?;
        let answers = matches!(
            self.ty,
            EventType::Task {
                phase: Phase::Started | Phase::StatusChanged | Phase::Finished,
                ..
            }
        );
        if answers && !self.is_gen1_envelope() && self.triggeredid.is_none() {
            return Err(Error::Parse {
                file: None,
                location: None,
                message: format!(
                    "event {} of type `{}` has no `triggeredid`: a `.started`, \
                     `.status.changed` or `.finished` event must name the `.triggered` event \
                     it answers",
                    self.id, self.ty
                ),
            });
        }
        Ok(payload)
    }
}
