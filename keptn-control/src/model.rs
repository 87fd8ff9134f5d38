//! What the control plane remembers: sequences, their tasks, resources; and the typed outcome
//! of a sequence.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use keptn_spec::event::{DeploymentDetails, EventId, KeptnContext, Status, Verdict};
use keptn_spec::{EvaluationFinishedData, ProjectName, ServiceName, StageName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a resource lives: a project, one of its stages, or one service in a stage (Keptn's
/// configuration layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceScope {
    /// The project.
    pub project: ProjectName,
    /// The stage, for stage and service resources.
    pub stage: Option<StageName>,
    /// The service, for service resources (needs `stage`).
    pub service: Option<ServiceName>,
}

impl ResourceScope {
    /// The project level (where the shipyard lives).
    pub fn project(project: ProjectName) -> Self {
        Self {
            project,
            stage: None,
            service: None,
        }
    }

    /// A stage.
    pub fn stage(project: ProjectName, stage: StageName) -> Self {
        Self {
            project,
            stage: Some(stage),
            service: None,
        }
    }

    /// A service in a stage.
    pub fn service(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project,
            stage: Some(stage),
            service: Some(service),
        }
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "project {}", self.project)?;
        if let Some(stage) = &self.stage {
            write!(f, ", stage {stage}")?;
        }
        if let Some(service) = &self.service {
            write!(f, ", service {service}")?;
        }
        Ok(())
    }
}

/// Where a sequence is in its life (Keptn's sequence states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SequenceState {
    /// Queued behind another sequence of the same project, stage and service.
    Waiting,
    /// Running its tasks.
    Started,
    /// Paused by a user: the running task may finish, no further task starts until resumed.
    Paused,
    /// All tasks done, or stopped by a failing task.
    Finished,
    /// Stopped by a user.
    Aborted,
}

impl SequenceState {
    /// Whether the sequence is over (finished or aborted).
    pub fn is_done(self) -> bool {
        matches!(self, SequenceState::Finished | SequenceState::Aborted)
    }

    /// The lowercase name, as Keptn's API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceState::Waiting => "waiting",
            SequenceState::Started => "started",
            SequenceState::Paused => "paused",
            SequenceState::Finished => "finished",
            SequenceState::Aborted => "aborted",
        }
    }
}

/// A user's command to a running sequence (Keptn's sequence control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequenceControl {
    /// Stop the sequence: it finishes with status `aborted`; nothing it would trigger starts.
    Abort,
    /// Start no further task until resumed.
    Pause,
    /// Continue a paused sequence.
    Resume,
}

/// The result of one task of a sequence, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskResult {
    /// The task name, such as `deployment`.
    pub task: String,
    /// The id of the task's `.triggered` event.
    pub triggered_id: EventId,
    /// The worst status of all executors' `.finished` events.
    pub status: Status,
    /// The worst result of all executors' `.finished` events.
    pub result: Verdict,
    /// The message that came with the worst result (or the last one).
    pub message: String,
    /// Who executed the task (the `source` of each `.finished` event).
    pub executors: Vec<String>,
    /// What a deployment task deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetails>,
    /// What an evaluation task decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Box<EvaluationFinishedData>>,
    /// The version serving after a release or rollback task, as its executor reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<String>,
}

/// The task a sequence is at: triggered (or due to be), answered by whom so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskRun {
    /// The task's index in the sequence.
    pub index: usize,
    /// The task's name.
    pub name: String,
    /// The id of its `.triggered` event (fixed before it is sent, so a restart re-sends the
    /// same id).
    pub triggered_id: EventId,
    /// When the `.triggered` event is to be sent (`triggeredAfter`); `None` once sent.
    pub due: Option<DateTime<Utc>>,
    /// When the `.triggered` event was sent.
    pub triggered_at: Option<DateTime<Utc>>,
    /// How many executors of this process accept the task (each must finish it).
    pub expected: usize,
    /// Sources that sent `.started`.
    pub started: BTreeSet<String>,
    /// Sources that sent `.finished`, with their results in arrival order.
    pub finished: Vec<TaskResult>,
}

/// A sequence as the store keeps it: everything needed to resume it after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SequenceRecord {
    /// The id of the sequence's `.triggered` event (the sequence's identity).
    pub id: EventId,
    /// The Keptn context it runs in.
    pub context: KeptnContext,
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The sequence name from the shipyard, such as `delivery`.
    pub sequence: String,
    /// Where it is.
    pub state: SequenceState,
    /// When it was triggered (queue order).
    pub created: DateTime<Utc>,
    /// The `data` of its `.triggered` event (merged into every task's payload).
    pub triggered_data: Value,
    /// The task in progress, if any.
    pub current: Option<TaskRun>,
    /// Finished tasks, in order.
    pub tasks: Vec<TaskResult>,
    /// The `data` of every task `.finished` event, in order (Keptn's payload merge input).
    pub finished_data: Vec<Value>,
    /// The sequence's status so far.
    pub status: Status,
    /// The sequence's result so far.
    pub result: Verdict,
    /// The sequence's message so far.
    pub message: String,
    /// For an aborted sequence: the task whose answer it still waits for (kept in the store,
    /// so a restart in between still acts on the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_abort: Option<AfterAbort>,
}

/// A task an abort left running — a `deployment` or `release` it interrupted, or the
/// `rollback` it sent for the blue/green canary — whose answer the aborted sequence still
/// waits for: a deployment that leaves a canary, or a release that did not promote, is
/// followed by a rollback (an abort means back to the stable version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AfterAbort {
    /// The task: `deployment`, `release` or `rollback`.
    pub task: String,
    /// The id of its `.triggered` event.
    pub triggered_id: EventId,
}

impl AfterAbort {
    /// Waits for the answer to the `task` whose `.triggered` event has id `triggered_id`.
    pub fn new(task: impl Into<String>, triggered_id: EventId) -> Self {
        Self {
            task: task.into(),
            triggered_id,
        }
    }
}

impl SequenceRecord {
    /// The typed outcome of this sequence so far.
    pub fn outcome(&self) -> SequenceOutcome {
        let evaluation = self
            .tasks
            .iter()
            .rev()
            .find_map(|t| t.evaluation.as_deref());
        SequenceOutcome {
            id: self.id.clone(),
            context: self.context,
            project: self.project.clone(),
            stage: self.stage.clone(),
            service: self.service.clone(),
            sequence: self.sequence.clone(),
            state: self.state,
            status: self.status,
            result: self.result,
            message: self.message.clone(),
            tasks: self.tasks.clone(),
            score: evaluation.map(|e| e.evaluation.score),
            serving: self.tasks.iter().rev().find_map(|t| t.serving.clone()),
        }
    }

    /// Whether `other` is queued on the same project, stage and service.
    pub fn same_queue(&self, other: &SequenceRecord) -> bool {
        self.project == other.project && self.stage == other.stage && self.service == other.service
    }
}

/// What a sequence did: the typed result callers read instead of digging in events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SequenceOutcome {
    /// The id of the sequence's `.triggered` event.
    pub id: EventId,
    /// The Keptn context.
    pub context: KeptnContext,
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The sequence name.
    pub sequence: String,
    /// Where it is.
    pub state: SequenceState,
    /// Its status (`succeeded`, `errored`, `aborted`).
    pub status: Status,
    /// Its result (`pass`, `warning`, `fail`).
    pub result: Verdict,
    /// Why, when it did not pass.
    pub message: String,
    /// Each finished task.
    pub tasks: Vec<TaskResult>,
    /// The score of its last evaluation, when it ran one.
    pub score: Option<f64>,
    /// The version serving after its last release or rollback, when it ran one.
    pub serving: Option<String>,
}

impl SequenceOutcome {
    /// The result of the task called `name` (the last one, if it ran twice).
    pub fn task(&self, name: &str) -> Option<&TaskResult> {
        self.tasks.iter().rev().find(|t| t.task == name)
    }
}
