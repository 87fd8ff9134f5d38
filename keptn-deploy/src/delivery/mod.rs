//! The shipyard delivery sequence: Keptn's shipyard-controller (0.8+ rules) driving a [`Deployer`], a [`TestRunner`], an [`Evaluator`], an
//! [`Approver`] and custom [`TaskHandler`]s, emitting Keptn CloudEvents to an [`EventSink`].
//!
//! Rules, as Keptn 0.8+ runs them:
//! - a delivery starts `<stage>.<sequence>.triggered` (first stage and `delivery` by default)
//!   with `configurationChange.values.image`; one keptn context for the whole delivery;
//! - tasks run in order, each as `<task>.triggered` → `.started` → `.finished` (every started
//!   task finishes, even on error); the `.triggered` data is Keptn's merge of the task
//!   properties, earlier `.finished` data and the sequence's `.triggered` data;
//! - a task finishing with `status: errored` or `result: fail` stops the sequence, which
//!   finishes with that status and result (`warning` does not stop);
//! - when a sequence finishes, every sequence whose `triggeredOn` names it and whose selector
//!   matches (`result`, `<last task>.result`; no selector = `pass` or `warning`) is triggered
//!   with the same context and the previous sequence's data;
//! - `triggeredAfter` delays a task; `approval` is automatic or asks the [`Approver`];
//!   no evaluator (or no SLO) means the evaluation passes, as in Keptn;
//! - sequences of one service in one stage are queued, never run at once;
//! - an [`AbortHandle`] stops a delivery: the running sequence finishes with status `aborted`,
//!   a pending blue/green canary is rolled back so the serving version is untouched, and no
//!   further sequence starts.
//!
//! Deliberate differences from Keptn: tasks nobody handles (no test runner, no handler for a
//! custom task, manual approval without an approver) finish `errored` instead of waiting
//! forever; a sequence with no tasks finishes with `pass` instead of crashing.

mod merge;
mod ports;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use keptn_spec::event::{
    EventSink, EventType, KeptnContext, KeptnEvent, Phase, Status, Task as EventTask, Verdict,
};
use keptn_spec::shipyard::{Sequence, Shipyard, Task, TaskKind};
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use ports::{
    ApprovalRequest, Approver, EvaluationOutcome, EvaluationRequest, Evaluator, FnApprover,
    GateEvaluator, TaskHandler, TaskOutcome,
};

use crate::{
    Artifact, Deployer, DeploymentRequest, DeploymentStrategy, Error, Progress, Result,
    StageService, TestOutcome, TestRequest, TestRunner, TestStrategy,
};
use merge::merge_earlier_wins;

/// The CloudEvents `source` of the events the controller itself sends.
pub const CONTROLLER_SOURCE: &str = "shipyard-controller";

/// At most this many sequences run in one delivery (guards against `triggeredOn` cycles).
pub const MAX_SEQUENCES_PER_DELIVERY: usize = 100;

/// What starts a delivery: Keptn's `keptn trigger delivery` / `send event new-artifact`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryTrigger {
    /// The project.
    pub project: ProjectName,
    /// The service.
    pub service: ServiceName,
    /// The new artifact.
    pub artifact: Artifact,
    /// The stage to start in (default: the shipyard's first stage).
    pub stage: Option<StageName>,
    /// The sequence to start (default `delivery`).
    pub sequence: String,
    /// Labels carried by every event.
    pub labels: BTreeMap<String, String>,
    /// More `configurationChange.values` besides `image`.
    pub values: serde_json::Map<String, Value>,
}

impl DeliveryTrigger {
    /// Delivers `artifact` of `service` in `project` through the `delivery` sequences, starting
    /// in the first stage.
    pub fn new(project: ProjectName, service: ServiceName, artifact: Artifact) -> Self {
        Self {
            project,
            service,
            artifact,
            stage: None,
            sequence: "delivery".into(),
            labels: BTreeMap::new(),
            values: serde_json::Map::new(),
        }
    }

    /// Starts in `stage` instead of the first stage.
    #[must_use]
    pub fn stage(mut self, stage: StageName) -> Self {
        self.stage = Some(stage);
        self
    }

    /// Starts the sequence `name` instead of `delivery`.
    #[must_use]
    pub fn sequence(mut self, name: impl Into<String>) -> Self {
        self.sequence = name.into();
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a configuration value.
    #[must_use]
    pub fn value(mut self, key: impl Into<String>, value: Value) -> Self {
        self.values.insert(key.into(), value);
        self
    }
}

/// What one task did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task name.
    pub name: String,
    /// Its finished status.
    pub status: Status,
    /// Its result.
    pub result: Verdict,
    /// Its message.
    pub message: String,
    /// Its task property in the `.finished` event.
    pub data: Value,
}

/// What one sequence did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SequenceReport {
    /// The stage.
    pub stage: StageName,
    /// The sequence name.
    pub sequence: String,
    /// `succeeded`, `errored` or `aborted`.
    pub status: Status,
    /// The result of the last task that ran (or of the failing one).
    pub result: Verdict,
    /// Why it stopped, when it did.
    pub message: String,
    /// The tasks that ran, in order.
    pub tasks: Vec<TaskReport>,
}

impl SequenceReport {
    /// The report of task `name`, if it ran.
    pub fn task(&self, name: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// What a delivery did: every sequence that ran, in order, under one keptn context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The keptn context shared by all events of this delivery.
    pub context: KeptnContext,
    /// The sequences in the order they ran.
    pub sequences: Vec<SequenceReport>,
}

impl DeliveryReport {
    /// The report of `sequence` in `stage`, if it ran.
    pub fn sequence(&self, stage: &str, sequence: &str) -> Option<&SequenceReport> {
        self.sequences
            .iter()
            .find(|s| s.stage.as_str() == stage && s.sequence == sequence)
    }

    /// Whether the delivery was aborted.
    pub fn aborted(&self) -> bool {
        self.sequences.iter().any(|s| s.status == Status::Aborted)
    }
}

/// Stops a running delivery (see the [module docs](self)). Clones control the same delivery.
#[derive(Debug, Clone)]
pub struct AbortHandle {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for AbortHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl AbortHandle {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Aborts the delivery (idempotent).
    pub fn abort(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`abort`](Self::abort) was called.
    pub fn is_aborted(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once [`abort`](Self::abort) is called.
    pub async fn aborted(&self) {
        let mut rx = self.tx.subscribe();
        // the sender lives in `self`, so the channel cannot close while we wait
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Runs deliveries through a shipyard (see the [module docs](self)).
///
/// The example uses the in-memory doubles of the `testing` feature (it is compiled and run
/// when that feature is on):
///
#[cfg_attr(feature = "testing", doc = "```")]
#[cfg_attr(not(feature = "testing"), doc = "```text")]
/// use std::sync::Arc;
/// use keptn_deploy::delivery::{Delivery, DeliveryTrigger};
/// use keptn_deploy::testing::{InMemoryDeployer, StaticTestRunner};
/// use keptn_deploy::{Artifact, TestOutcome};
/// use keptn_spec::{ParseOptions, event::MemoryEventSink, shipyard::Shipyard};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let shipyard = Shipyard::parse(
///     "stages:\n  - name: dev\n    deployment_strategy: direct\n    test_strategy: functional\n  - name: production\n    deployment_strategy: blue_green_service\n",
///     &ParseOptions::new(),
/// )?.value;
/// let deployer = InMemoryDeployer::new();
/// let events = MemoryEventSink::new();
/// let delivery = Delivery::new(shipyard, Arc::new(deployer.clone()), Arc::new(events.clone()))
///     .with_test_runner(Arc::new(StaticTestRunner::new(TestOutcome::Pass)));
/// let report = delivery
///     .deliver(DeliveryTrigger::new("sockshop".parse()?, "carts".parse()?, Artifact::new("carts:0.11.1")?))
///     .await?;
/// assert_eq!(report.sequences.len(), 2); // dev.delivery, then production.delivery
/// assert_eq!(events.in_context(&report.context).len(), events.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Delivery {
    shipyard: Arc<Shipyard>,
    deployer: Arc<dyn Deployer>,
    tester: Option<Arc<dyn TestRunner>>,
    evaluator: Option<Arc<dyn Evaluator>>,
    approver: Option<Arc<dyn Approver>>,
    handlers: BTreeMap<String, Arc<dyn TaskHandler>>,
    sink: Arc<dyn EventSink>,
    overrides: BTreeMap<ServiceName, DeploymentStrategy>,
    queues: Arc<Mutex<HashMap<StageService, Arc<tokio::sync::Mutex<()>>>>>,
    test_progress: Progress,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("shipyard", &self.shipyard.metadata.name)
            .field("deployer", &self.deployer)
            .field("tester", &self.tester)
            .field("evaluator", &self.evaluator)
            .field("approver", &self.approver)
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

/// Where a sequence is while it runs.
struct SequenceRun {
    target: StageService,
    sequence: String,
    context: KeptnContext,
    triggered_data: Value,
    finished: Vec<Value>,
    status: Status,
    result: Verdict,
    message: String,
    canary_pending: bool,
    tasks: Vec<TaskReport>,
}

fn labels_of(data: &Value) -> Value {
    data.get("labels").cloned().unwrap_or_else(|| json!({}))
}

fn error_chain(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

impl Delivery {
    /// A delivery controller for `shipyard` deploying with `deployer` and emitting to `sink`.
    pub fn new(shipyard: Shipyard, deployer: Arc<dyn Deployer>, sink: Arc<dyn EventSink>) -> Self {
        Self {
            shipyard: Arc::new(shipyard),
            deployer,
            tester: None,
            evaluator: None,
            approver: None,
            handlers: BTreeMap::new(),
            sink,
            overrides: BTreeMap::new(),
            queues: Arc::new(Mutex::new(HashMap::new())),
            test_progress: Progress::none(),
        }
    }

    /// Runs `test` tasks with `runner`.
    #[must_use]
    pub fn with_test_runner(mut self, runner: Arc<dyn TestRunner>) -> Self {
        self.tester = Some(runner);
        self
    }

    /// Runs `evaluation` tasks with `evaluator` (without one, evaluations pass as Keptn's do
    /// without an SLO).
    #[must_use]
    pub fn with_evaluator(mut self, evaluator: Arc<dyn Evaluator>) -> Self {
        self.evaluator = Some(evaluator);
        self
    }

    /// Asks `approver` for manual approvals.
    #[must_use]
    pub fn with_approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// Runs tasks called `task` with `handler` (custom tasks, or to take over a reserved one).
    #[must_use]
    pub fn with_task_handler(
        mut self,
        task: impl Into<String>,
        handler: Arc<dyn TaskHandler>,
    ) -> Self {
        self.handlers.insert(task.into(), handler);
        self
    }

    /// Deploys `service` with `strategy` in every stage, whatever the shipyard says (the Keptn tutorial's
    /// `keptn onboard service carts-db --deployment-strategy=direct`).
    #[must_use]
    pub fn with_strategy_override(
        mut self,
        service: ServiceName,
        strategy: DeploymentStrategy,
    ) -> Self {
        self.overrides.insert(service, strategy);
        self
    }

    /// Reports test progress to `progress`.
    #[must_use]
    pub fn with_test_progress(mut self, progress: Progress) -> Self {
        self.test_progress = progress;
        self
    }

    /// The shipyard.
    pub fn shipyard(&self) -> &Shipyard {
        &self.shipyard
    }

    /// Runs a delivery to its end (see the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::Sequence`] when the start stage or sequence does not exist. Everything that
    /// goes wrong later is reported in the [`DeliveryReport`] and the events, not as `Err`.
    pub async fn deliver(&self, trigger: DeliveryTrigger) -> Result<DeliveryReport> {
        self.deliver_with_abort(trigger, &AbortHandle::new()).await
    }

    /// As [`deliver`](Self::deliver), stoppable through `abort`.
    ///
    /// # Errors
    /// As [`deliver`](Self::deliver).
    pub async fn deliver_with_abort(
        &self,
        trigger: DeliveryTrigger,
        abort: &AbortHandle,
    ) -> Result<DeliveryReport> {
        let stage = match &trigger.stage {
            Some(s) => self
                .shipyard
                .stage(s.as_str())
                .ok_or_else(|| Error::Sequence {
                    message: format!("the shipyard has no stage `{s}`"),
                })?,
            None => self.shipyard.first_stage().ok_or_else(|| Error::Sequence {
                message: "the shipyard has no stages".into(),
            })?,
        };
        if stage.sequence_or_builtin(&trigger.sequence).is_none() {
            return Err(Error::Sequence {
                message: format!(
                    "stage `{}` has no sequence `{}`",
                    stage.name, trigger.sequence
                ),
            });
        }
        let mut values = trigger.values.clone();
        values.insert("image".into(), Value::String(trigger.artifact.to_string()));
        let data = json!({
            "project": trigger.project,
            "stage": stage.name,
            "service": trigger.service,
            "labels": trigger.labels,
            "configurationChange": { "values": values },
        });
        let context = KeptnContext::new_random();
        let mut report = DeliveryReport {
            context,
            sequences: Vec::new(),
        };
        let mut queue: VecDeque<(StageName, String, Value)> = VecDeque::new();
        queue.push_back((stage.name.clone(), trigger.sequence.clone(), data));
        while let Some((stage, sequence, data)) = queue.pop_front() {
            if report.sequences.len() >= MAX_SEQUENCES_PER_DELIVERY {
                tracing::warn!(%context, "delivery stopped: more than {MAX_SEQUENCES_PER_DELIVERY} sequences (a triggeredOn cycle?)");
                break;
            }
            let target = StageService::new(
                trigger.project.clone(),
                stage.clone(),
                trigger.service.clone(),
            );
            let seq_report = self
                .run_sequence(context, target, &sequence, data.clone(), abort)
                .await;
            let result = seq_report.result;
            let status = seq_report.status;
            let last_task = seq_report.tasks.last().map(|t| t.name.clone());
            report.sequences.push(seq_report);
            if status == Status::Aborted {
                break;
            }
            for (next_stage, next_seq) in self.shipyard.triggered_by(
                stage.as_str(),
                &sequence,
                result.as_str(),
                last_task.as_deref(),
            ) {
                let mut next = json!({
                    "project": trigger.project,
                    "stage": next_stage.name,
                    "service": trigger.service,
                });
                merge_earlier_wins(&mut next, &data);
                queue.push_back((next_stage.name.clone(), next_seq.name.to_string(), next));
            }
        }
        Ok(report)
    }

    fn queue_for(&self, target: &StageService) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(target.clone()).or_default().clone()
    }

    fn emit(&self, event: &KeptnEvent) {
        self.sink.emit(event);
    }

    async fn run_sequence(
        &self,
        context: KeptnContext,
        target: StageService,
        sequence_name: &str,
        data: Value,
        abort: &AbortHandle,
    ) -> SequenceReport {
        let Some(sequence) = self
            .shipyard
            .stage(target.stage.as_str())
            .and_then(|s| s.sequence_or_builtin(sequence_name))
            .map(std::borrow::Cow::into_owned)
        else {
            return SequenceReport {
                stage: target.stage.clone(),
                sequence: sequence_name.to_owned(),
                status: Status::Errored,
                result: Verdict::Fail,
                message: format!("stage `{}` has no sequence `{sequence_name}`", target.stage),
                tasks: Vec::new(),
            };
        };
        let sequence: Sequence = sequence;
        let mut run = SequenceRun {
            target: target.clone(),
            sequence: sequence_name.to_owned(),
            context,
            triggered_data: data,
            finished: Vec::new(),
            status: Status::Succeeded,
            result: Verdict::Pass,
            message: String::new(),
            canary_pending: false,
            tasks: Vec::new(),
        };
        let seq_type = |phase| EventType::sequence(target.stage.clone(), sequence_name, phase);
        let triggered = match seq_type(Phase::Triggered).and_then(|ty| {
            KeptnEvent::triggered(&ty, CONTROLLER_SOURCE, context, &run.triggered_data)
        }) {
            Ok(e) => e,
            Err(e) => {
                return SequenceReport {
                    stage: target.stage.clone(),
                    sequence: sequence_name.to_owned(),
                    status: Status::Errored,
                    result: Verdict::Fail,
                    message: format!("cannot start the sequence: {e}"),
                    tasks: Vec::new(),
                };
            }
        };
        self.emit(&triggered);

        // queue: one sequence per service and stage at a time
        let lock = self.queue_for(&target);
        let guard = tokio::select! {
            g = lock.lock_owned() => Some(g),
            () = abort.aborted() => None,
        };
        let common = json!({ "project": target.project, "stage": target.stage, "service": target.service, "labels": labels_of(&run.triggered_data) });
        if let Ok(started) = triggered.started(CONTROLLER_SOURCE, &common) {
            self.emit(&started);
        }
        if guard.is_none() {
            run.status = Status::Aborted;
            run.result = Verdict::Fail;
            run.message = "aborted while queued".into();
        } else {
            for task in &sequence.tasks {
                if abort.is_aborted() {
                    run.status = Status::Aborted;
                    run.result = Verdict::Fail;
                    run.message = format!("aborted before task `{}`", task.name);
                    break;
                }
                let stop = self.run_task(&mut run, task, abort).await;
                if stop {
                    break;
                }
            }
        }
        if run.status == Status::Aborted && run.canary_pending {
            match self.deployer.rollback(&target).await {
                Ok(_) => run.message.push_str(
                    "; the pending canary was rolled back, the serving version is untouched",
                ),
                Err(e) => run.message.push_str(&format!(
                    "; rolling back the pending canary failed: {}",
                    error_chain(&e)
                )),
            }
        }
        drop(guard);
        let mut finished_data = common;
        finished_data["status"] = json!(run.status);
        finished_data["result"] = json!(run.result);
        finished_data["message"] = json!(run.message);
        if let Ok(finished) = triggered.finished(CONTROLLER_SOURCE, &finished_data) {
            self.emit(&finished);
        }
        SequenceReport {
            stage: target.stage,
            sequence: run.sequence,
            status: run.status,
            result: run.result,
            message: run.message,
            tasks: run.tasks,
        }
    }

    /// The `.triggered` data of `task`: Keptn's merge.
    fn task_payload(run: &SequenceRun, task: &Task) -> Value {
        let props: serde_json::Map<String, Value> = task
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut payload = json!({
            "project": run.target.project,
            "stage": run.target.stage,
            "service": run.target.service,
        });
        payload[task.name.as_str()] = Value::Object(props);
        for f in &run.finished {
            merge_earlier_wins(&mut payload, f);
        }
        merge_earlier_wins(&mut payload, &run.triggered_data);
        payload["result"] = json!(run.result);
        payload["status"] = json!(run.status);
        payload["message"] = json!("");
        payload
    }

    /// Runs one task with its three events; returns whether the sequence stops.
    async fn run_task(&self, run: &mut SequenceRun, task: &Task, abort: &AbortHandle) -> bool {
        if let Some(after) = &task.triggered_after {
            let aborted = tokio::select! {
                () = tokio::time::sleep(after.as_duration()) => false,
                () = abort.aborted() => true,
            };
            if aborted {
                run.status = Status::Aborted;
                run.result = Verdict::Fail;
                run.message = format!(
                    "aborted while task `{}` waited for triggeredAfter",
                    task.name
                );
                return true;
            }
        }
        let payload = Self::task_payload(run, task);
        let event_task = EventTask::from_str(task.name.as_str())
            .unwrap_or_else(|_| EventTask::Custom(task.name.to_string()));
        let triggered = match KeptnEvent::triggered(
            &EventType::task(event_task, Phase::Triggered),
            CONTROLLER_SOURCE,
            run.context,
            &payload,
        ) {
            Ok(e) => e,
            Err(e) => {
                run.status = Status::Errored;
                run.result = Verdict::Fail;
                run.message = format!("cannot trigger task `{}`: {e}", task.name);
                return true;
            }
        };
        self.emit(&triggered);
        let source = format!("keptn-rs/{}", task.name);
        let common = json!({ "project": run.target.project, "stage": run.target.stage, "service": run.target.service, "labels": labels_of(&run.triggered_data) });
        if let Ok(started) = triggered.started(&source, &common) {
            self.emit(&started);
        }
        let kind = task.kind();
        let outcome = tokio::select! {
            o = self.execute(run, task, kind.as_ref().ok(), &payload) => o,
            () = abort.aborted() => TaskOutcome {
                status: Status::Aborted,
                result: Verdict::Fail,
                message: format!("task `{}` aborted", task.name),
                data: Value::Null,
            },
        };
        let outcome = match &kind {
            Err(e) => TaskOutcome::errored(format!("task `{}` is misconfigured: {e}", task.name)),
            Ok(_) => outcome,
        };
        // track whether a blue/green canary waits, for abort clean-up
        match &kind {
            Ok(TaskKind::Deployment(_)) => {
                let strategy = self.strategy_for(run, &kind);
                if strategy == DeploymentStrategy::BlueGreenService {
                    run.canary_pending = true;
                }
            }
            Ok(TaskKind::Release | TaskKind::Rollback) if outcome.status == Status::Succeeded => {
                run.canary_pending = false;
            }
            _ => {}
        }
        let mut finished_data = common;
        finished_data["status"] = json!(outcome.status);
        finished_data["result"] = json!(outcome.result);
        finished_data["message"] = json!(outcome.message);
        finished_data[task.name.as_str()] = outcome.data.clone();
        if let Ok(finished) = triggered.finished(&source, &finished_data) {
            self.emit(&finished);
        }
        run.finished.push(finished_data);
        run.status = outcome.status;
        run.result = outcome.result;
        run.message.clone_from(&outcome.message);
        run.tasks.push(TaskReport {
            name: task.name.to_string(),
            status: outcome.status,
            result: outcome.result,
            message: outcome.message,
            data: outcome.data,
        });
        matches!(run.status, Status::Errored | Status::Aborted) || run.result == Verdict::Fail
    }

    fn strategy_for(
        &self,
        run: &SequenceRun,
        kind: &keptn_spec::Result<TaskKind>,
    ) -> DeploymentStrategy {
        if let Some(s) = self.overrides.get(&run.target.service) {
            return *s;
        }
        match kind {
            Ok(TaskKind::Deployment(s)) => *s,
            _ => DeploymentStrategy::Direct,
        }
    }

    async fn execute(
        &self,
        run: &SequenceRun,
        task: &Task,
        kind: Option<&TaskKind>,
        payload: &Value,
    ) -> TaskOutcome {
        if let Some(handler) = self.handlers.get(task.name.as_str()) {
            return match handler.run(&run.target, payload).await {
                Ok(o) => o,
                Err(e) => TaskOutcome::errored(error_chain(&e)),
            };
        }
        let Some(kind) = kind else {
            return TaskOutcome::errored("misconfigured task");
        };
        match kind {
            TaskKind::Deployment(_) => self.deployment(run, kind, payload).await,
            TaskKind::Test(strategy) => self.test(run, strategy.as_ref(), payload).await,
            TaskKind::Evaluation { timeframe } => {
                self.evaluation(
                    run,
                    timeframe.as_ref().map(keptn_spec::GoDuration::as_duration),
                    payload,
                )
                .await
            }
            TaskKind::Approval(strategy) => self.approval(run, *strategy, payload).await,
            TaskKind::Release => self.release(run).await,
            TaskKind::Rollback => match self.deployer.rollback(&run.target).await {
                Ok(status) => TaskOutcome::pass(json!({ "serving": status.serving_image() }))
                    .with_message("the canary was discarded"),
                Err(e) => TaskOutcome::errored(error_chain(&e)),
            },
            _ => TaskOutcome::errored(format!(
                "no handler is registered for task `{}` (add one with Delivery::with_task_handler)",
                task.name
            )),
        }
    }

    async fn deployment(&self, run: &SequenceRun, kind: &TaskKind, payload: &Value) -> TaskOutcome {
        let strategy = self.strategy_for(run, &Ok(kind.clone()));
        let values = payload
            .pointer("/configurationChange/values")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let Some(image) = values.get("image").and_then(Value::as_str) else {
            return TaskOutcome::errored("no image in configurationChange.values.image");
        };
        let artifact = match Artifact::new(image) {
            Ok(a) => a,
            Err(e) => return TaskOutcome::errored(e.to_string()),
        };
        let labels: BTreeMap<String, String> = payload
            .get("labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let request = DeploymentRequest::new(run.target.clone(), artifact, strategy)
            .with_values(values)
            .with_labels(labels);
        match self.deployer.deploy(&request).await {
            Ok(result) => {
                let data = serde_json::to_value(&result).unwrap_or(Value::Null);
                TaskOutcome::pass(data)
                    .with_message(format!("deployed {} ({strategy})", result.image))
            }
            Err(e) => TaskOutcome::errored(error_chain(&e)),
        }
    }

    async fn test(
        &self,
        run: &SequenceRun,
        strategy: Option<&TestStrategy>,
        payload: &Value,
    ) -> TaskOutcome {
        let now = Utc::now();
        let Some(strategy) = strategy else {
            return TaskOutcome::pass(json!({ "start": now, "end": now }))
                .with_message("no tests configured");
        };
        let strategy = strategy.clone();
        let Some(tester) = &self.tester else {
            return TaskOutcome::errored(format!(
                "no test runner is configured for test strategy `{strategy}`"
            ));
        };
        let uris = |key: &str| -> Vec<String> {
            payload
                .pointer(&format!("/deployment/{key}"))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let mut targets = uris("deploymentURIsLocal");
        if targets.is_empty() {
            targets = uris("deploymentURIsPublic");
        }
        let request = TestRequest::new(run.target.clone(), strategy.clone(), targets);
        match tester.run(&request, &self.test_progress).await {
            Ok(report) => {
                let data = json!({
                    "start": report.start, "end": report.end, "teststrategy": strategy,
                    "requests": report.requests, "errors": report.errors,
                });
                let outcome = match report.outcome {
                    TestOutcome::Pass => TaskOutcome::pass(data),
                    TestOutcome::Fail => TaskOutcome::fail(String::new()).with_data(data),
                };
                outcome.with_message(report.message)
            }
            Err(e) => TaskOutcome::errored(error_chain(&e)),
        }
    }

    async fn evaluation(
        &self,
        run: &SequenceRun,
        timeframe: Option<Duration>,
        payload: &Value,
    ) -> TaskOutcome {
        let Some(evaluator) = &self.evaluator else {
            return TaskOutcome::pass(Value::Null)
                .with_message("no evaluation configured; the evaluation passes");
        };
        let parse = |p: &str| -> Option<DateTime<Utc>> {
            payload
                .pointer(p)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
        };
        let (start, end) = match (parse("/test/start"), parse("/test/end")) {
            (Some(s), Some(e)) if timeframe.is_none() => (s, e),
            _ => {
                let end = Utc::now();
                let tf = timeframe.unwrap_or(Duration::from_secs(300));
                let start =
                    end - chrono::Duration::from_std(tf).unwrap_or(chrono::Duration::minutes(5));
                (start, end)
            }
        };
        let deployment = payload
            .pointer("/deployment/deploymentNames/0")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let labels = payload
            .get("labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let request = EvaluationRequest {
            target: run.target.clone(),
            start,
            end,
            deployment,
            labels,
            context: run.context.to_string(),
        };
        match evaluator.evaluate(&request).await {
            Ok(o) => TaskOutcome {
                status: o.status,
                result: o.result,
                message: o.message,
                data: o.details,
            },
            Err(e) => TaskOutcome::errored(error_chain(&e)),
        }
    }

    async fn approval(
        &self,
        run: &SequenceRun,
        strategy: keptn_spec::shipyard::ApprovalStrategy,
        payload: &Value,
    ) -> TaskOutcome {
        use keptn_spec::shipyard::ApprovalMode;
        let data = json!({ "pass": strategy.pass.as_str(), "warning": strategy.warning.as_str() });
        let mode = match run.result {
            Verdict::Fail => return TaskOutcome::fail("the previous task failed").with_data(data),
            Verdict::Pass => strategy.pass,
            Verdict::Warning => strategy.warning,
        };
        if mode == ApprovalMode::Automatic {
            return TaskOutcome::pass(data).with_message("approved automatically");
        }
        let Some(approver) = &self.approver else {
            return TaskOutcome::errored("manual approval required, but no approver is configured")
                .with_data(data);
        };
        let request = ApprovalRequest {
            target: run.target.clone(),
            result: run.result,
            image: payload
                .pointer("/configurationChange/values/image")
                .and_then(Value::as_str)
                .map(str::to_owned),
            context: run.context.to_string(),
        };
        if approver.approve(&request).await {
            TaskOutcome::pass(data).with_message("approved manually")
        } else {
            TaskOutcome::fail("rejected manually").with_data(data)
        }
    }

    async fn release(&self, run: &SequenceRun) -> TaskOutcome {
        if run.result == Verdict::Fail {
            return TaskOutcome::fail("not released: the sequence failed");
        }
        match self.deployer.promote(&run.target).await {
            Ok(status) => {
                TaskOutcome::pass(json!({ "serving": status.serving_image() })).with_message(
                    format!("released {}", status.serving_image().unwrap_or("nothing")),
                )
            }
            Err(e) => TaskOutcome::errored(error_chain(&e)),
        }
    }
}
