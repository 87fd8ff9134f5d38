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
use crate::model::{AfterAbort, SequenceControl, SequenceRecord, SequenceState, TaskResult};
use crate::{Error, Result};

/// The task name of a deployment in a shipyard.
const DEPLOYMENT: &str = "deployment";
/// The task name of a release.
const RELEASE: &str = "release";
/// The task name of a rollback.
const ROLLBACK: &str = "rollback";

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

/// What aborting `record` now leaves to wait for: its deployment or release still running,
/// or the canary a finished blue/green deployment left (then the rollback is sent now).
fn left_running(record: &SequenceRecord) -> Option<Left> {
    if let Some(run) = &record.current
        && matches!(run.name.as_str(), DEPLOYMENT | RELEASE)
        && run.triggered_at.is_some()
    {
        return Some(Left::Running(AfterAbort::new(
            run.name.clone(),
            run.triggered_id.clone(),
        )));
    }
    let last_deployment = record.tasks.iter().rposition(|t| t.task == DEPLOYMENT)?;
    let settled = record.tasks[last_deployment + 1..]
        .iter()
        .any(|t| matches!(t.task.as_str(), RELEASE | ROLLBACK));
    (!settled && deployed_canary(&record.tasks[last_deployment])).then_some(Left::Canary)
}

/// What an abort leaves of a sequence's blue/green deployment.
enum Left {
    /// A canary was deployed and neither released nor rolled back: roll it back now.
    Canary,
    /// This deployment or release still runs: act on its answer.
    Running(AfterAbort),
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
                    let left = left_running(&record);
                    record.status = Status::Aborted;
                    record.result = Verdict::Fail;
                    record.message = "aborted by a user".to_owned();
                    record.after_abort = match left {
                        Some(Left::Canary) => {
                            let rollback = rollback_event(&record);
                            let after = AfterAbort::new(ROLLBACK, rollback.id.clone());
                            fx.emit(rollback);
                            Some(after)
                        }
                        Some(Left::Running(after)) => Some(after),
                        None => None,
                    };
                    self.finish(&mut record, SequenceState::Aborted, fx);
                    if let Some(after) = &record.after_abort {
                        self.abandoned.insert(after.triggered_id.clone(), record);
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
    /// A `.finished` answer to a task no running sequence owns: when an aborted sequence waits
    /// for it, its result is added to the sequence's tasks; a deployment that left a
    /// blue/green canary, or a release that did not promote, is followed by a rollback.
    pub(super) fn on_abandoned_finished(
        &mut self,
        task: &EventTask,
        event: &KeptnEvent,
        fx: &mut Effects,
    ) {
        let Some(triggered) = event.triggeredid.as_ref() else {
            return;
        };
        let Some(mut record) = self.abandoned.remove(triggered) else {
            return;
        };
        let Some(after) = record.after_abort.take() else {
            return;
        };
        if after.task != task.to_string() {
            self.abandoned.insert(triggered.clone(), record);
            return;
        }
        let result = payload::task_result(&after.task, triggered, event);
        let roll_back = match after.task.as_str() {
            DEPLOYMENT => deployed_canary(&result),
            RELEASE => {
                let promoted = result.status == Status::Succeeded && result.result != Verdict::Fail;
                if promoted {
                    record.message = format!(
                        "aborted by a user after the release had promoted {}",
                        result.serving.as_deref().unwrap_or("nothing")
                    );
                }
                !promoted
            }
            _ => false,
        };
        record.tasks.push(result);
        if roll_back {
            let rollback = rollback_event(&record);
            let id = rollback.id.clone();
            record.after_abort = Some(AfterAbort::new(ROLLBACK, id.clone()));
            fx.emit(rollback);
            fx.save(&record);
            self.abandoned.insert(id, record);
        } else {
            fx.save(&record);
        }
    }
}
