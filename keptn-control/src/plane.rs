//! [`ControlPlane`]: the controller loop, the executors and the store, wired together.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use keptn_deploy::Deployer;
use keptn_spec::event::{
    EventId, EventSink, EventType, KeptnContext, KeptnEvent, Phase, Task, Verdict,
};
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::bus::{EventBus, InProcessBus, Topic};
use crate::controller::{self, Controller, Effects, Input};
use crate::executor::{ApprovalDesk, ExecutorContext, TaskExecutor, spawn_runner};
use crate::executors::{ApprovalExecutor, DeploymentExecutor, ReleaseExecutor, RollbackExecutor};
use crate::model::{ResourceScope, SequenceControl, SequenceOutcome};
use crate::store::{EventQuery, MemoryStore, SequenceQuery, Store};
use crate::{Error, Result};

/// How long a triggered task may wait for its first `.started` by default.
pub const DEFAULT_TASK_START_TIMEOUT: Duration = Duration::from_secs(120);

type Command = (Input, Option<oneshot::Sender<Result<()>>>);

/// Builds a [`ControlPlane`]: projects, executors, store, bus, sinks.
#[must_use]
pub struct ControlPlaneBuilder {
    store: Option<Arc<dyn Store>>,
    bus: Option<Arc<dyn EventBus>>,
    projects: Vec<(ProjectName, String)>,
    executors: Vec<Arc<dyn TaskExecutor>>,
    sinks: Vec<Arc<dyn EventSink>>,
    start_timeout: Duration,
    builtin_approval: bool,
}

impl fmt::Debug for ControlPlaneBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlaneBuilder")
            .field("store", &self.store)
            .field(
                "projects",
                &self.projects.iter().map(|p| &p.0).collect::<Vec<_>>(),
            )
            .field("executors", &self.executors)
            .field("start_timeout", &self.start_timeout)
            .finish_non_exhaustive()
    }
}

impl ControlPlaneBuilder {
    /// Keeps state in `store` (default: a [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Carries events on `bus` (default: a new [`InProcessBus`]).
    pub fn bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Creates (or updates) a project with its shipyard (0.1 or 0.2 YAML), checked at build.
    pub fn project(mut self, project: ProjectName, shipyard_yaml: impl Into<String>) -> Self {
        self.projects.push((project, shipyard_yaml.into()));
        self
    }

    /// Adds an executor; several may execute the same task.
    pub fn executor(mut self, executor: impl TaskExecutor + 'static) -> Self {
        self.executors.push(Arc::new(executor));
        self
    }

    /// Deploys, releases and rolls back with `deployer`: adds its
    /// [`DeploymentExecutor`], [`ReleaseExecutor`] and [`RollbackExecutor`] (the tasks
    /// `deployment`, `release` and `rollback`).
    pub fn deployer(self, deployer: Arc<dyn Deployer>) -> Self {
        self.executor(DeploymentExecutor::new(deployer.clone()))
            .executor(ReleaseExecutor::new(deployer.clone()))
            .executor(RollbackExecutor::new(deployer))
    }

    /// Adds a shared executor.
    pub fn shared_executor(mut self, executor: Arc<dyn TaskExecutor>) -> Self {
        self.executors.push(executor);
        self
    }

    /// Also sends every logged event to `sink` (a terminal timeline, a JSON-lines file, …).
    pub fn sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// How long a triggered task may go without any `.started` before the sequence fails with
    /// a message naming the task (default [`DEFAULT_TASK_START_TIMEOUT`]).
    pub fn task_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Leaves `approval` to other executors instead of the built-in [`ApprovalExecutor`].
    pub fn without_builtin_approval(mut self) -> Self {
        self.builtin_approval = false;
        self
    }

    /// Writes the projects, starts the controller and the executors, and resumes every
    /// sequence the store holds unfinished (open tasks are re-sent with their ids).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a shipyard that does not parse; store errors.
    pub async fn build(mut self) -> Result<ControlPlane> {
        let store = self
            .store
            .take()
            .unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let bus = self
            .bus
            .take()
            .unwrap_or_else(|| Arc::new(InProcessBus::new()));
        for (project, yaml) in &self.projects {
            controller::parse_shipyard(project, yaml)?;
            store.put_project(project, yaml).await?;
        }
        if self.builtin_approval {
            self.executors.push(Arc::new(ApprovalExecutor));
        }
        let approvals = ApprovalDesk::new();
        let cx = ExecutorContext::new(bus.clone(), store.clone(), approvals.clone());
        let mut controller =
            Controller::load(store.clone(), self.executors.clone(), self.start_timeout).await?;
        let mut tasks = Vec::new();
        let events = bus.subscribe(Topic::All).await?;
        for executor in &self.executors {
            tasks.push(spawn_runner(executor.clone(), cx.clone()).await?);
        }
        let (tx, rx) = mpsc::unbounded_channel::<Command>();
        let (changed_tx, changed) = watch::channel(0u64);
        let resumed = controller.resume().await?;
        let looper = Loop {
            controller,
            store: store.clone(),
            bus: bus.clone(),
            sinks: self.sinks,
            commands: tx.clone(),
            changed: changed_tx,
        };
        tasks.push(tokio::spawn(looper.run(events, rx, resumed)));
        Ok(ControlPlane {
            inner: Arc::new(Inner {
                store,
                bus,
                commands: tx,
                changed,
                approvals,
                tasks,
            }),
        })
    }
}

/// Keptn's control plane as a library: it reacts to events, runs every sequence of a project's
/// shipyard the same way through executors on an [`EventBus`], remembers everything in a
/// [`Store`] and resumes what was in flight after a restart.
///
/// Cloning is cheap; the background tasks stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    commands: mpsc::UnboundedSender<Command>,
    changed: watch::Receiver<u64>,
    approvals: ApprovalDesk,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ControlPlane {
    /// A builder with an in-memory store and an in-process bus.
    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder {
            store: None,
            bus: None,
            projects: Vec::new(),
            executors: Vec::new(),
            sinks: Vec::new(),
            start_timeout: DEFAULT_TASK_START_TIMEOUT,
            builtin_approval: true,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The bus.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.inner.bus
    }

    /// Creates or updates a project from its shipyard YAML.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the shipyard does not parse; store errors.
    pub async fn put_project(&self, project: &ProjectName, shipyard_yaml: &str) -> Result<()> {
        controller::parse_shipyard(project, shipyard_yaml)?;
        self.inner.store.put_project(project, shipyard_yaml).await?;
        self.command(Input::ReloadProject(project.clone())).await
    }

    /// Deletes a project with its resources; its sequences and events stay in the log, and no
    /// new sequence of it starts.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project; store errors.
    pub async fn delete_project(&self, project: &ProjectName) -> Result<()> {
        self.inner.store.delete_project(project).await?;
        self.command(Input::ReloadProject(project.clone())).await
    }

    /// Adds or replaces a resource (such as `slo.yaml` of a service in a stage).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project; store errors.
    pub async fn put_resource(
        &self,
        scope: &ResourceScope,
        uri: &str,
        content: &str,
    ) -> Result<()> {
        self.inner.store.put_resource(scope, uri, content).await
    }

    /// Sends an event into the control plane, as Keptn's `POST /v1/event` does: an event
    /// without `shkeptncontext` starts a new context. Returns the context.
    ///
    /// # Errors
    /// [`Error::BusClosed`] after shutdown.
    pub async fn send(&self, mut event: KeptnEvent) -> Result<KeptnContext> {
        if event.shkeptncontext.is_none() {
            event.shkeptncontext =
                Some(problem_context(&event).unwrap_or_else(KeptnContext::new_random));
        }
        let context = event
            .shkeptncontext
            .unwrap_or_else(KeptnContext::new_random);
        self.inner.bus.publish(&event).await?;
        Ok(context)
    }

    /// Triggers `<stage>.<sequence>.triggered` for `service` with
    /// `configurationChange.values.image = image` (what `keptn trigger delivery` sends).
    ///
    /// # Errors
    /// As [`ControlPlane::send`].
    pub async fn trigger_delivery(
        &self,
        project: &ProjectName,
        stage: &StageName,
        sequence: &str,
        service: &ServiceName,
        image: &str,
    ) -> Result<KeptnContext> {
        let ty = EventType::sequence(stage.clone(), sequence, Phase::Triggered)?;
        let data = json!({
            "project": project, "stage": stage, "service": service,
            "configurationChange": {"values": {"image": image}},
        });
        let event = KeptnEvent::new(ty, "keptn-control/api", KeptnContext::new_random(), &data);
        self.send(event).await
    }

    /// Aborts, pauses or resumes the unfinished sequences of `context` (in `stage`, or all).
    ///
    /// # Errors
    /// [`Error::NotFound`] when none is unfinished.
    pub async fn control(
        &self,
        context: KeptnContext,
        stage: Option<StageName>,
        control: SequenceControl,
    ) -> Result<()> {
        self.command(Input::Control(context, stage, control)).await
    }

    /// Decides the manual approval whose `approval.triggered` event has id `triggered`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such approval waits.
    pub fn approve(&self, triggered: &EventId, verdict: Verdict) -> Result<()> {
        self.inner.approvals.decide(triggered, verdict)
    }

    /// The ids of the `approval.triggered` events waiting for a person.
    pub fn open_approvals(&self) -> Vec<EventId> {
        self.inner.approvals.open()
    }

    /// The open `.triggered` events of `task`, oldest first: what a remote executor polling for
    /// work reads (Keptn's `GET /api/controlPlane/v1/event/triggered/<task>.triggered`). A task
    /// of a sequence is open while it is the sequence's current task and the sequence is not
    /// over; any other `.triggered` event (such as the lighthouse's `get-sli`) while it has no
    /// `.finished` answer.
    ///
    /// # Errors
    /// Store errors.
    pub async fn open_triggered(&self, task: &Task) -> Result<Vec<KeptnEvent>> {
        let store = &self.inner.store;
        let triggered = EventType::task(task.clone(), Phase::Triggered);
        let finished = EventType::task(task.clone(), Phase::Finished);
        let mut owned = std::collections::HashSet::new();
        let mut current = std::collections::HashSet::new();
        for record in store.sequences(&SequenceQuery::all()).await? {
            owned.extend(record.tasks.iter().map(|t| t.triggered_id.clone()));
            if let Some(run) = &record.current {
                owned.insert(run.triggered_id.clone());
                if !record.state.is_done() && run.due.is_none() {
                    current.insert(run.triggered_id.clone());
                }
            }
        }
        let mut open = Vec::new();
        for event in store.events(&EventQuery::all().of_type(triggered)).await? {
            let is_open = if owned.contains(&event.id) {
                current.contains(&event.id)
            } else {
                let mut answers = EventQuery::all().of_type(finished.clone());
                answers.triggered_id = Some(event.id.clone());
                answers.limit = Some(1);
                store.events(&answers).await?.is_empty()
            };
            if is_open {
                open.push(event);
            }
        }
        Ok(open)
    }

    /// The sequences of `context` so far, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn outcomes(&self, context: KeptnContext) -> Result<Vec<SequenceOutcome>> {
        let records = self
            .inner
            .store
            .sequences(&SequenceQuery::context(context))
            .await?;
        Ok(records.iter().map(|r| r.outcome()).collect())
    }

    /// Waits until every sequence of `context` is over (including those their `triggeredOn`
    /// started) and returns their outcomes, oldest first.
    ///
    /// # Errors
    /// [`Error::Timeout`] after `timeout`; store errors.
    pub async fn wait(
        &self,
        context: KeptnContext,
        timeout: Duration,
    ) -> Result<Vec<SequenceOutcome>> {
        self.wait_until(context, timeout, |o| {
            !o.is_empty() && o.iter().all(|s| s.state.is_done())
        })
        .await
    }

    /// Waits until `done` holds for the outcomes of `context`, and returns them.
    ///
    /// # Errors
    /// [`Error::Timeout`] after `timeout`; store errors.
    pub async fn wait_until(
        &self,
        context: KeptnContext,
        timeout: Duration,
        mut done: impl FnMut(&[SequenceOutcome]) -> bool,
    ) -> Result<Vec<SequenceOutcome>> {
        let mut changed = self.inner.changed.clone();
        let wait = async {
            loop {
                let _ = changed.borrow_and_update();
                let outcomes = self.outcomes(context).await?;
                if done(&outcomes) {
                    return Ok(outcomes);
                }
                if changed.changed().await.is_err() {
                    return Err(Error::BusClosed);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout(timeout, format!("the sequences of context {context}")))?
    }

    /// Aborts the unfinished sequences of `context` and waits until what the abort left
    /// running has answered: a deployment that was under way, and the `rollback` of the
    /// blue/green canary a sequence left. Returns whether anything was unfinished.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the answers take longer than `timeout`; store errors.
    pub async fn abort_and_settle(&self, context: KeptnContext, timeout: Duration) -> Result<bool> {
        match self.control(context, None, SequenceControl::Abort).await {
            Ok(()) => {}
            Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.wait_answered(context, &[Task::Deployment, Task::Rollback], timeout)
            .await?;
        Ok(true)
    }

    /// Waits until every `.triggered` event of `context` for one of `tasks` has a `.finished`
    /// answer: such as the `rollback` an abort sends for the blue/green canary its sequence
    /// left, or a deployment that still ran when its sequence was aborted.
    ///
    /// # Errors
    /// [`Error::Timeout`] after `timeout`; store errors.
    pub async fn wait_answered(
        &self,
        context: KeptnContext,
        tasks: &[Task],
        timeout: Duration,
    ) -> Result<()> {
        let mut changed = self.inner.changed.clone();
        let wait = async {
            loop {
                let _ = changed.borrow_and_update();
                let events = self
                    .inner
                    .store
                    .events(&EventQuery::context(context))
                    .await?;
                let answered: std::collections::HashSet<&EventId> = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            &e.ty,
                            EventType::Task {
                                phase: Phase::Finished,
                                ..
                            }
                        )
                    })
                    .filter_map(|e| e.triggeredid.as_ref())
                    .collect();
                let open = events.iter().any(|e| {
                    matches!(&e.ty, EventType::Task { task, phase: Phase::Triggered } if tasks.contains(task))
                        && !answered.contains(&e.id)
                });
                if !open {
                    return Ok(());
                }
                if changed.changed().await.is_err() {
                    return Err(Error::BusClosed);
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::Timeout(
                timeout,
                format!("the answers to the tasks of context {context}"),
            )
        })?
    }

    async fn command(&self, input: Input) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send((input, Some(tx)))
            .map_err(|_| Error::BusClosed)?;
        rx.await.map_err(|_| Error::BusClosed)?
    }
}

/// A problem notification without a context gets the one derived from its `PID`, so its
/// opening and its resolution share a context (as Keptn's API derives it from a PID).
fn problem_context(event: &KeptnEvent) -> Option<KeptnContext> {
    if !matches!(event.ty, EventType::ProblemOpen | EventType::Problem) {
        return None;
    }
    let data: keptn_spec::event::ProblemEventData = event.data_as().ok()?;
    let pid = data.problem.pid.or(data.problem.problem_id)?;
    Some(KeptnContext::from_ingress(&pid))
}

/// The controller task: one input at a time, stored before published.
struct Loop {
    controller: Controller,
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    sinks: Vec<Arc<dyn EventSink>>,
    commands: mpsc::UnboundedSender<Command>,
    changed: watch::Sender<u64>,
}

impl Loop {
    async fn run(
        mut self,
        mut events: crate::bus::Subscription,
        mut commands: mpsc::UnboundedReceiver<Command>,
        resumed: Effects,
    ) {
        if let Err(e) = self.apply(resumed).await {
            tracing::error!("control plane: cannot resume: {e}");
        }
        loop {
            let (input, reply) = tokio::select! {
                Some(event) = events.next() => (Input::Event(Box::new(event)), None),
                Some(command) = commands.recv() => command,
                else => break,
            };
            let result = match self.controller.handle(input).await {
                Ok(fx) => self.apply(fx).await,
                Err(e) => Err(e),
            };
            if let Err(e) = &result {
                tracing::error!("control plane: {e}");
            }
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }

    /// Writes, then publishes and arms timers.
    async fn apply(&mut self, fx: Effects) -> Result<()> {
        if let Err(e) = self.store.commit(&fx.change).await {
            // Forget what was not written: reload the in-flight state from the store.
            tracing::error!("control plane: state change not written: {e}");
            if let Err(reload) = self.controller.reload_active().await {
                tracing::error!("control plane: cannot reload the sequences: {reload}");
            }
            return Err(e);
        }
        self.controller.settle();
        for event in &fx.change.events {
            for sink in &self.sinks {
                sink.emit(event);
            }
        }
        for event in &fx.publish {
            if let Err(e) = self.bus.publish(event).await {
                tracing::warn!("control plane: cannot publish {}: {e}", event.ty);
            }
        }
        for timer in fx.timers {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timer.after).await;
                let _ = commands.send((timer.input, None));
            });
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }
}
