//! The shipyard controller: turns events into sequence state changes and the events that
//! follow from them, as Keptn's shipyard-controller does (with the 0.9+ queue and sequence
//! control).
//!
//! The controller is one state machine driven by one task: each input (an event from the bus,
//! a timer, a user's command) becomes one [`Effects`]: a [`Change`] the store writes in one
//! transaction, then the events to publish. Nothing is published before it is stored.

mod control;
mod payload;
mod problem;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keptn_spec::event::{
    EventId, EventType, KeptnEvent, Phase, Status, Task as EventTask, Verdict,
};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, ProjectName, StageName};
use serde_json::Value;

pub use payload::{CONTROLLER_SOURCE, REMEDIATION_SEQUENCE};
pub(crate) use state::{Controller, Effects, Input, Timer};

use crate::executor::TaskExecutor;
use crate::ids;
use crate::merge::merge_earlier_wins;
use crate::model::{SequenceRecord, SequenceState, TaskResult, TaskRun};
use crate::store::{SHIPYARD_URI, SequenceQuery, Store};
use crate::{Error, Result};

impl Controller {
    /// Loads shipyards and unfinished sequences from the store.
    pub(crate) async fn load(
        store: Arc<dyn Store>,
        executors: Vec<Arc<dyn TaskExecutor>>,
        start_timeout: Duration,
    ) -> Result<Self> {
        let mut controller = Self {
            store,
            shipyards: HashMap::new(),
            executors,
            start_timeout,
            active: BTreeMap::new(),
            abandoned: HashMap::new(),
        };
        for project in controller.store.projects().await? {
            controller.reload(&project).await?;
        }
        controller.reload_active().await?;
        Ok(controller)
    }

    /// Replaces the in-memory sequences with the store's (after a failed write): those not
    /// over, and the aborted ones still waiting for a task their abort left running.
    pub(crate) async fn reload_active(&mut self) -> Result<()> {
        self.active.clear();
        for record in self.store.sequences(&SequenceQuery::unfinished()).await? {
            self.active.insert(record.id.clone(), record);
        }
        self.abandoned.clear();
        for record in self.store.sequences(&SequenceQuery::after_abort()).await? {
            if let Some(after) = &record.after_abort {
                self.abandoned.insert(after.triggered_id.clone(), record);
            }
        }
        Ok(())
    }

    async fn reload(&mut self, project: &ProjectName) -> Result<()> {
        let scope = crate::ResourceScope::project(project.clone());
        match self.store.resource(&scope, SHIPYARD_URI).await? {
            Some(src) => {
                let shipyard = parse_shipyard(project, &src)?;
                self.shipyards.insert(project.clone(), shipyard);
            }
            None => {
                self.shipyards.remove(project);
            }
        }
        Ok(())
    }

    /// What a restart must do for the sequences that were in flight: re-send each open task's
    /// `.triggered` event (same id) and re-arm its timers; re-send the task each aborted
    /// sequence still waits for. Nothing is written.
    pub(crate) async fn resume(&mut self) -> Result<Effects> {
        let mut fx = Effects::default();
        for triggered in self.abandoned.keys() {
            if let Some(event) = self.store.event(triggered).await? {
                fx.publish.push(event);
            }
        }
        let ids: Vec<EventId> = self.active.keys().cloned().collect();
        for id in ids {
            let Some(mut record) = self.active.get(&id).cloned() else {
                continue;
            };
            let current = record.current.clone();
            match (record.state, current) {
                (SequenceState::Started | SequenceState::Paused, Some(run)) => {
                    if let Some(due) = run.due {
                        let after = (due - Utc::now()).to_std().unwrap_or_default();
                        fx.timers.push(Timer {
                            after,
                            input: Input::Dispatch(record.id.clone(), run.triggered_id.clone()),
                        });
                    } else if let Some(event) = self.store.event(&run.triggered_id).await? {
                        fx.publish.push(event);
                        if run.started.is_empty() && run.finished.is_empty() {
                            fx.timers.push(self.deadline(&record, &run.triggered_id));
                        }
                    }
                }
                (SequenceState::Started, None) => {
                    self.trigger_next(&mut record, &mut fx);
                    self.active.insert(record.id.clone(), record);
                }
                _ => {}
            }
        }
        Ok(fx)
    }

    /// Acts on one input.
    pub(crate) async fn handle(&mut self, input: Input) -> Result<Effects> {
        let mut fx = Effects::default();
        match input {
            Input::Event(event) => self.on_event(*event, &mut fx).await?,
            Input::Control(context, stage, control) => {
                self.on_control(context, stage.as_ref(), control, &mut fx)?;
            }
            Input::StartDeadline(seq, task) => self.on_deadline(&seq, &task, &mut fx),
            Input::Dispatch(seq, task) => {
                if let Some(mut record) = self.take_current(&seq, &task) {
                    self.dispatch(&mut record, &mut fx);
                    self.active.insert(record.id.clone(), record);
                }
            }
            Input::ReloadProject(project) => self.reload(&project).await?,
        }
        Ok(fx)
    }

    /// Forgets sequences that are over (after their change was written).
    pub(crate) fn settle(&mut self) {
        self.active.retain(|_, r| !r.state.is_done());
    }

    async fn on_event(&mut self, event: KeptnEvent, fx: &mut Effects) -> Result<()> {
        if event.source == CONTROLLER_SOURCE || self.store.has_event(&event.id).await? {
            return Ok(()); // our own (already stored) or a repeated delivery
        }
        fx.change.events.push(event.clone());
        match &event.ty {
            EventType::Sequence {
                phase: Phase::Triggered,
                ..
            } => self.start_sequence(&event, fx),
            EventType::Task {
                task,
                phase: Phase::Started,
            } => self.on_started(task, &event, fx),
            EventType::Task {
                task,
                phase: Phase::Finished,
            } => self.on_finished(task, &event, fx),
            EventType::ProblemOpen | EventType::Problem => self.on_problem(&event, fx),
            _ => {}
        }
        Ok(())
    }

    /// Starts (or queues) the sequence `event` triggers.
    fn start_sequence(&mut self, event: &KeptnEvent, fx: &mut Effects) {
        let EventType::Sequence {
            stage, sequence, ..
        } = &event.ty
        else {
            return;
        };
        let common = event.common().unwrap_or_default();
        let (Some(context), Some(project), Some(service)) =
            (event.shkeptncontext, common.project, common.service)
        else {
            tracing::warn!(id = %event.id, ty = %event.ty, "sequence event without context, project or service ignored");
            return;
        };
        let mut record = SequenceRecord {
            id: event.id.clone(),
            context,
            project: project.clone(),
            stage: stage.clone(),
            service,
            sequence: sequence.clone(),
            state: SequenceState::Waiting,
            created: Utc::now(),
            triggered_data: event.data.clone(),
            current: None,
            tasks: Vec::new(),
            finished_data: Vec::new(),
            status: Status::Succeeded,
            result: Verdict::Pass,
            message: String::new(),
            after_abort: None,
        };
        let problem = match self.shipyards.get(&project) {
            None => Some(format!("project `{project}` does not exist")),
            Some(shipyard) => match shipyard.stage(stage.as_str()) {
                None => Some(format!("project `{project}` has no stage `{stage}`")),
                Some(st) if st.sequence_or_builtin(sequence).is_none() => {
                    Some(format!("stage `{stage}` has no sequence `{sequence}`"))
                }
                Some(_) => None,
            },
        };
        if let Some(message) = problem {
            record.status = Status::Errored;
            record.result = Verdict::Fail;
            record.message = message;
            self.finish(&mut record, SequenceState::Finished, fx);
            return;
        }
        let busy = self
            .active
            .values()
            .any(|r| r.same_queue(&record) && r.state != SequenceState::Waiting);
        if busy {
            fx.save(&record);
            self.active.insert(record.id.clone(), record);
        } else {
            self.begin(record, fx);
        }
    }

    fn begin(&mut self, mut record: SequenceRecord, fx: &mut Effects) {
        record.state = SequenceState::Started;
        fx.emit(payload::sequence_event(
            &record,
            Phase::Started,
            &payload::sequence_common(&record),
        ));
        self.trigger_next(&mut record, fx);
        self.active.insert(record.id.clone(), record);
    }

    fn task_list(&self, record: &SequenceRecord) -> Vec<keptn_spec::shipyard::Task> {
        self.shipyards
            .get(&record.project)
            .and_then(|s| s.stage(record.stage.as_str()))
            .and_then(|st| st.sequence_or_builtin(&record.sequence))
            .map(|s| s.into_owned().tasks)
            .unwrap_or_default()
    }

    /// Triggers the next task, or finishes the sequence when none is left.
    fn trigger_next(&mut self, record: &mut SequenceRecord, fx: &mut Effects) {
        let tasks = self.task_list(record);
        let index = record.tasks.len();
        let Some(task) = tasks.get(index) else {
            self.finish(record, SequenceState::Finished, fx);
            return;
        };
        let triggered_id = ids::derive(&record.id, &format!("task:{index}"));
        let due = task
            .triggered_after
            .as_ref()
            .map(|d| Utc::now() + chrono::Duration::from_std(d.as_duration()).unwrap_or_default());
        record.current = Some(TaskRun {
            index,
            name: task.name.to_string(),
            triggered_id: triggered_id.clone(),
            due,
            triggered_at: None,
            expected: 0,
            started: Default::default(),
            finished: Vec::new(),
        });
        match &task.triggered_after {
            Some(after) => {
                fx.save(record);
                fx.timers.push(Timer {
                    after: after.as_duration(),
                    input: Input::Dispatch(record.id.clone(), triggered_id),
                });
            }
            None => self.dispatch(record, fx),
        }
    }

    /// Sends the current task's `.triggered` event.
    fn dispatch(&self, record: &mut SequenceRecord, fx: &mut Effects) {
        let tasks = self.task_list(record);
        let Some(run) = record.current.as_ref() else {
            return;
        };
        let Some(task) = tasks.get(run.index) else {
            return;
        };
        let properties = Value::Object(task.properties.clone().into_iter().collect());
        let data = payload::task_payload(record, task.name.as_str(), &properties);
        let event_task = EventTask::from_str(task.name.as_str())
            .unwrap_or_else(|_| EventTask::Custom(task.name.to_string()));
        let event = payload::triggered_event(
            EventType::task(event_task.clone(), Phase::Triggered),
            run.triggered_id.clone(),
            record.context,
            &data,
        );
        let expected = self
            .executors
            .iter()
            .filter(|e| e.task() == event_task && e.accepts(&event))
            .count();
        let triggered_id = run.triggered_id.clone();
        if let Some(run) = record.current.as_mut() {
            run.due = None;
            run.triggered_at = Some(Utc::now());
            run.expected = expected;
        }
        fx.emit(event);
        fx.save(record);
        fx.timers.push(self.deadline(record, &triggered_id));
    }

    fn deadline(&self, record: &SequenceRecord, task: &EventId) -> Timer {
        Timer {
            after: self.start_timeout,
            input: Input::StartDeadline(record.id.clone(), task.clone()),
        }
    }

    /// The active sequence whose current task has this `.triggered` id.
    fn owner_of(&self, triggered_id: &EventId) -> Option<EventId> {
        self.active
            .values()
            .find(|r| {
                r.current
                    .as_ref()
                    .is_some_and(|c| c.triggered_id == *triggered_id)
            })
            .map(|r| r.id.clone())
    }

    fn take_current(&mut self, seq: &EventId, task: &EventId) -> Option<SequenceRecord> {
        let record = self.active.get(seq)?;
        let current = record.current.as_ref()?;
        (current.triggered_id == *task).then(|| record.clone())
    }

    fn on_started(&mut self, _task: &EventTask, event: &KeptnEvent, fx: &mut Effects) {
        let Some(seq) = event.triggeredid.as_ref().and_then(|t| self.owner_of(t)) else {
            return;
        };
        if let Some(record) = self.active.get_mut(&seq) {
            if let Some(run) = record.current.as_mut() {
                run.started.insert(event.source.clone());
            }
            fx.save(record);
        }
    }

    fn on_finished(&mut self, task: &EventTask, event: &KeptnEvent, fx: &mut Effects) {
        let Some(seq) = event.triggeredid.as_ref().and_then(|t| self.owner_of(t)) else {
            self.on_abandoned_finished(task, event, fx);
            return;
        };
        let Some(mut record) = self.active.get(&seq).cloned() else {
            return;
        };
        let Some(run) = record.current.as_mut() else {
            return;
        };
        if run
            .finished
            .iter()
            .any(|r| r.executors.contains(&event.source))
        {
            return; // this executor already finished the task
        }
        run.started.insert(event.source.clone());
        run.finished
            .push(payload::task_result(&run.name, &run.triggered_id, event));
        record.finished_data.push(event.data.clone());
        let run = record.current.clone();
        let complete = run.as_ref().is_some_and(|run| {
            let finished: std::collections::BTreeSet<&String> = run
                .finished
                .iter()
                .flat_map(|r| r.executors.iter())
                .collect();
            run.started.iter().all(|s| finished.contains(s))
                && finished.len() >= run.expected.max(1)
        });
        if complete {
            if let Some(result) = run.and_then(|r| payload::worst(&r.finished)) {
                self.complete_task(&mut record, result, fx);
            }
        } else {
            fx.save(&record);
        }
        self.active.insert(record.id.clone(), record);
    }

    /// Records a task's combined result and moves on.
    fn complete_task(&mut self, record: &mut SequenceRecord, result: TaskResult, fx: &mut Effects) {
        record.status = result.status;
        record.result = result.result;
        record.message.clone_from(&result.message);
        record.current = None;
        let stop = result.status == Status::Errored || result.result == Verdict::Fail;
        record.tasks.push(result);
        if stop {
            self.finish(record, SequenceState::Finished, fx);
        } else if record.state == SequenceState::Paused {
            fx.save(record);
        } else {
            self.trigger_next(record, fx);
        }
    }

    fn on_deadline(&mut self, seq: &EventId, task: &EventId, fx: &mut Effects) {
        let Some(mut record) = self.take_current(seq, task) else {
            return;
        };
        let Some(run) = record.current.clone() else {
            return;
        };
        if !run.started.is_empty() || !run.finished.is_empty() || run.due.is_some() {
            return;
        }
        let message = format!(
            "task `{}` was not started by any executor within {:?}",
            run.name, self.start_timeout
        );
        tracing::warn!(sequence = %record.sequence, stage = %record.stage, "{message}");
        let result = TaskResult {
            task: run.name.clone(),
            triggered_id: run.triggered_id.clone(),
            status: Status::Errored,
            result: Verdict::Fail,
            message,
            executors: Vec::new(),
            deployment: None,
            evaluation: None,
            serving: None,
        };
        self.complete_task(&mut record, result, fx);
        self.active.insert(record.id.clone(), record);
    }

    /// Ends a sequence: its `.finished` event, then (unless aborted) the sequences its
    /// `triggeredOn` selectors start, then the next sequence waiting in its queue.
    fn finish(&mut self, record: &mut SequenceRecord, state: SequenceState, fx: &mut Effects) {
        record.state = state;
        record.current = None;
        let mut data = payload::sequence_common(record);
        data.status = Some(record.status);
        data.result = Some(record.result);
        data.message = Some(record.message.clone());
        fx.emit(payload::sequence_event(record, Phase::Finished, &data));
        fx.save(record);
        self.active.insert(record.id.clone(), record.clone());
        if state == SequenceState::Finished {
            self.chain(record, fx);
        }
        self.dequeue(record, fx);
    }

    fn chain(&mut self, record: &SequenceRecord, fx: &mut Effects) {
        let Some(shipyard) = self.shipyards.get(&record.project) else {
            return;
        };
        let last_task = record.tasks.last().map(|t| t.task.clone());
        let next: Vec<(StageName, String)> = shipyard
            .triggered_by(
                record.stage.as_str(),
                &record.sequence,
                record.result.as_str(),
                last_task.as_deref(),
            )
            .into_iter()
            .map(|(st, seq)| (st.name.clone(), seq.name.to_string()))
            .collect();
        for (stage, sequence) in next {
            let Ok(ty) = EventType::sequence(stage.clone(), sequence.clone(), Phase::Triggered)
            else {
                continue;
            };
            let mut data = serde_json::json!({
                "project": record.project, "stage": stage, "service": record.service,
            });
            merge_earlier_wins(&mut data, &record.triggered_data);
            let id = ids::derive(&record.id, &format!("next:{stage}.{sequence}"));
            let event = payload::triggered_event(ty, id, record.context, &data);
            fx.emit(event.clone());
            self.start_sequence(&event, fx);
        }
    }

    fn dequeue(&mut self, record: &SequenceRecord, fx: &mut Effects) {
        let busy = self.active.values().any(|r| {
            r.same_queue(record)
                && matches!(r.state, SequenceState::Started | SequenceState::Paused)
        });
        if busy {
            return;
        }
        let next = self
            .active
            .values()
            .filter(|r| r.same_queue(record) && r.state == SequenceState::Waiting)
            .min_by_key(|r| r.created)
            .cloned();
        if let Some(next) = next {
            self.begin(next, fx);
        }
    }
}

/// Parses a stored shipyard.
pub(crate) fn parse_shipyard(project: &ProjectName, src: &str) -> Result<Shipyard> {
    let file = format!("{project}/shipyard.yaml");
    let parsed = Shipyard::parse(src, &ParseOptions::new().file(&file))
        .map_err(|e| Error::Invalid(format!("shipyard of project `{project}`: {e}")))?;
    Ok(parsed.value)
}
