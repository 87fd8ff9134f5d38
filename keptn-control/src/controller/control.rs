//! A user's sequence control: abort, pause, resume; and the rollback of the blue/green canary
//! an aborted sequence leaves.

use keptn_spec::StageName;
use keptn_spec::event::{
    EventId, EventType, KeptnContext, KeptnEvent, Phase, Status, Task as EventTask, Verdict,
};
use keptn_spec::shipyard::DeploymentStrategy;
use serde_json::json;

use super::payload;
use super::state::{Controller, Effects};
use crate::ids;
use crate::model::{SequenceControl, SequenceRecord, SequenceState, TaskResult};
use crate::{Error, Result};

/// The task name of a deployment in a shipyard.
const DEPLOYMENT: &str = "deployment";

/// What an abort leaves of a sequence's blue/green deployment.
enum Canary {
    /// A canary was deployed and neither released nor rolled back: roll it back now.
    Pending,
    /// The deployment with this `.triggered` id still runs: roll back what it leaves.
    Deploying(EventId),
}

/// Whether `result` is a successful blue/green deployment (which leaves a canary).
fn deployed_canary(result: &TaskResult) -> bool {
    result.task == DEPLOYMENT
        && result.status != Status::Errored
        && result.result != Verdict::Fail
        && result
            .deployment
            .as_ref()
            .and_then(|d| d.deploymentstrategy.as_deref())
            == Some(DeploymentStrategy::BlueGreenService.as_str())
}

/// The canary `record` leaves when it is aborted now, if any.
fn canary_of(record: &SequenceRecord) -> Option<Canary> {
    if let Some(run) = &record.current
        && run.name == DEPLOYMENT
        && run.triggered_at.is_some()
    {
        return Some(Canary::Deploying(run.triggered_id.clone()));
    }
    let last_deployment = record.tasks.iter().rposition(|t| t.task == DEPLOYMENT)?;
    let settled = record.tasks[last_deployment + 1..]
        .iter()
        .any(|t| matches!(t.task.as_str(), "release" | "rollback"));
    (!settled && deployed_canary(&record.tasks[last_deployment])).then_some(Canary::Pending)
}

/// `rollback.triggered` for the canary of aborted `record` (no task of the sequence: the
/// sequence is over; its id derives from the sequence's, so it is sent once).
fn rollback_event(record: &SequenceRecord) -> KeptnEvent {
    let mut data = payload::task_payload(record, "rollback", &json!({}));
    data["message"] = json!("the sequence was aborted: its canary is rolled back");
    payload::triggered_event(
        EventType::task(EventTask::Rollback, Phase::Triggered),
        ids::derive(&record.id, "abort:rollback"),
        record.context,
        &data,
    )
}

impl Controller {
    pub(super) fn on_control(
        &mut self,
        context: KeptnContext,
        stage: Option<&StageName>,
        control: SequenceControl,
        fx: &mut Effects,
    ) -> Result<()> {
        let targets: Vec<EventId> = self
            .active
            .values()
            .filter(|r| r.context == context && stage.is_none_or(|s| *s == r.stage))
            .map(|r| r.id.clone())
            .collect();
        if targets.is_empty() {
            return Err(Error::NotFound(format!(
                "an unfinished sequence in context {context}"
            )));
        }
        for id in targets {
            let Some(mut record) = self.active.get(&id).cloned() else {
                continue;
            };
            match control {
                SequenceControl::Abort => {
                    let canary = canary_of(&record);
                    record.status = Status::Aborted;
                    record.result = Verdict::Fail;
                    record.message = "aborted by a user".to_owned();
                    self.finish(&mut record, SequenceState::Aborted, fx);
                    match canary {
                        Some(Canary::Pending) => fx.emit(rollback_event(&record)),
                        Some(Canary::Deploying(triggered)) => {
                            self.abandoned.insert(triggered, record);
                        }
                        None => {}
                    }
                }
                SequenceControl::Pause if record.state == SequenceState::Started => {
                    record.state = SequenceState::Paused;
                    fx.save(&record);
                    self.active.insert(id, record);
                }
                SequenceControl::Resume if record.state == SequenceState::Paused => {
                    record.state = SequenceState::Started;
                    if record.current.is_none() {
                        self.trigger_next(&mut record, fx);
                    } else {
                        fx.save(&record);
                    }
                    self.active.insert(id, record);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Controller {
    /// A `.finished` answer to a task no running sequence owns: when it is the deployment an
    /// abort interrupted and it left a blue/green canary, that canary is rolled back.
    pub(super) fn on_abandoned_finished(
        &mut self,
        task: &EventTask,
        event: &KeptnEvent,
        fx: &mut Effects,
    ) {
        if *task != EventTask::Deployment {
            return;
        }
        let Some(triggered) = event.triggeredid.as_ref() else {
            return;
        };
        let Some(record) = self.abandoned.remove(triggered) else {
            return;
        };
        if deployed_canary(&payload::task_result(DEPLOYMENT, triggered, event)) {
            fx.emit(rollback_event(&record));
        }
    }
}
