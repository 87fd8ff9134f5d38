//! Task executors: whoever answers `sh.keptn.event.<task>.triggered` with `.started` and
//! `.finished`, and the runner that connects an in-process executor to the bus.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keptn_spec::event::{
    EventData, EventPayload, EventType, KeptnEvent, Payload, Phase, Task, Verdict,
};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bus::{EventBus, Topic};
use crate::ids;
use crate::model::SequenceState;
use crate::store::{SequenceQuery, Store};
use crate::{Error, Result};

/// Executes one task: receives its `.triggered` event and returns the data of its `.finished`
/// event. The runner sends `.started` before and `.finished` after, with ids derived from the
/// `.triggered` id, so a task executed again (after a restart) logs no second copy.
///
/// Implementations must treat a repeated `.triggered` id as the same task: after a restart the
/// controller re-sends open tasks with their old ids. Deployers, for example, check whether the
/// requested version is already deployed.
#[async_trait]
pub trait TaskExecutor: Send + Sync + fmt::Debug {
    /// The task executed, such as [`Task::Deployment`].
    fn task(&self) -> Task;

    /// The CloudEvents `source` of the answers, such as `helm-service`.
    fn source(&self) -> &str;

    /// Whether this executor takes `triggered` (default: every one). An executor that declines
    /// sends nothing, and the controller does not wait for it. Must be fast and pure.
    fn accepts(&self, triggered: &KeptnEvent) -> bool {
        let _ = triggered;
        true
    }

    /// Executes the task. The returned payload's `status`, `result` and `message` decide the
    /// task; missing `project`/`stage`/`service` are copied from `triggered`.
    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload;
}

/// What an executor may use while it runs: the bus (to ask other executors, as the lighthouse
/// asks for SLIs), the store (resources, evaluation history) and the approval desk.
#[derive(Debug, Clone)]
pub struct ExecutorContext {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
    approvals: ApprovalDesk,
}

impl ExecutorContext {
    /// A context over a bus, a store and an approval desk.
    pub fn new(bus: Arc<dyn EventBus>, store: Arc<dyn Store>, approvals: ApprovalDesk) -> Self {
        Self {
            bus,
            store,
            approvals,
        }
    }

    /// The event bus.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where manual approvals wait.
    pub fn approvals(&self) -> &ApprovalDesk {
        &self.approvals
    }

    /// Whether the sequence of `triggered` was aborted while this task ran (cooperative
    /// cancellation): an executor asks before an irreversible step, as the release does before
    /// it promotes. True for a `deployment` or `release` an abort left running (see
    /// [`SequenceRecord::after_abort`](crate::SequenceRecord::after_abort)).
    ///
    /// # Errors
    /// When the store cannot be read (an executor should then not take the step).
    pub async fn aborted(&self, triggered: &KeptnEvent) -> Result<bool> {
        let Some(context) = triggered.shkeptncontext else {
            return Ok(false);
        };
        let sequences = self
            .store
            .sequences(&SequenceQuery::context(context))
            .await?;
        Ok(sequences.iter().any(|r| {
            r.state == SequenceState::Aborted
                && r.after_abort
                    .as_ref()
                    .is_some_and(|a| a.triggered_id == triggered.id)
        }))
    }
}

/// Manual approvals waiting for a person, by the id of their `approval.triggered` event.
#[derive(Debug, Clone, Default)]
pub struct ApprovalDesk {
    pending: Arc<Mutex<HashMap<keptn_spec::event::EventId, oneshot::Sender<Verdict>>>>,
}

impl ApprovalDesk {
    /// An empty desk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an approval and returns what will receive the decision.
    pub fn wait_for(&self, id: keptn_spec::event::EventId) -> oneshot::Receiver<Verdict> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        rx
    }

    /// Decides an open approval (`Pass` approves, `Fail` rejects).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no approval with this id waits here.
    pub fn decide(&self, id: &keptn_spec::event::EventId, verdict: Verdict) -> Result<()> {
        let tx = self
            .lock()
            .remove(id)
            .ok_or_else(|| Error::NotFound(format!("open approval {id}")))?;
        tx.send(verdict)
            .map_err(|_| Error::NotFound(format!("open approval {id}")))
    }

    /// The ids of the approvals waiting.
    pub fn open(&self) -> Vec<keptn_spec::event::EventId> {
        let mut pending = self.lock();
        pending.retain(|_, tx| !tx.is_closed());
        pending.keys().cloned().collect()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<keptn_spec::event::EventId, oneshot::Sender<Verdict>>>
    {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The JSON of a typed payload.
pub(crate) fn payload_data(payload: &Payload) -> Value {
    match payload {
        Payload::DeploymentTriggered(d) => d.to_data(),
        Payload::DeploymentFinished(d) => d.to_data(),
        Payload::TestTriggered(d) => d.to_data(),
        Payload::TestFinished(d) => d.to_data(),
        Payload::EvaluationTriggered(d) => d.to_data(),
        Payload::EvaluationFinished(d) => d.to_data(),
        Payload::ReleaseTriggered(d) | Payload::RollbackTriggered(d) => d.to_data(),
        Payload::ReleaseFinished(d) => d.to_data(),
        Payload::GetSliTriggered(d) => d.to_data(),
        Payload::GetSliFinished(d) => d.to_data(),
        Payload::ApprovalTriggered(d) => d.to_data(),
        Payload::RemediationTriggered(d) => d.to_data(),
        Payload::RemediationStatusChanged(d) => d.to_data(),
        Payload::GetActionTriggered(d) => d.to_data(),
        Payload::GetActionFinished(d) => d.to_data(),
        Payload::ActionTriggered(d) => d.to_data(),
        Payload::ActionFinished(d) => d.to_data(),
        Payload::ConfigureMonitoringTriggered(d) => d.to_data(),
        Payload::Problem(d) => d.to_data(),
        Payload::Common(d) => d.to_data(),
        _ => Value::Null,
    }
}

/// The answer `phase` of `source` to `triggered`, with the derived id.
pub(crate) fn answer(
    triggered: &KeptnEvent,
    source: &str,
    phase: Phase,
    data: &Value,
) -> Result<KeptnEvent> {
    let event = match phase {
        Phase::Started => triggered.started(source, data)?,
        _ => triggered.finished(source, data)?,
    };
    Ok(event.with_id(ids::derive(&triggered.id, &format!("{phase}:{source}"))))
}

/// Fills `project`, `stage`, `service` and `labels` the executor left out from the
/// `.triggered` event.
fn with_common(mut data: Value, triggered: &KeptnEvent) -> Value {
    let mut base: EventData = triggered.common().unwrap_or_default();
    base.status = None;
    base.result = None;
    base.message = None;
    if !data.is_object() {
        data = Value::Object(serde_json::Map::new());
    }
    crate::merge::merge_earlier_wins(&mut data, &base.to_data());
    data
}

/// Subscribes `executor` to its task and answers every `.triggered` event it accepts. Returns
/// the task running the subscription.
pub(crate) async fn spawn_runner(
    executor: Arc<dyn TaskExecutor>,
    cx: ExecutorContext,
) -> Result<JoinHandle<()>> {
    let ty = EventType::task(executor.task(), Phase::Triggered);
    let mut sub = cx.bus.subscribe(Topic::Type(ty)).await?;
    let in_flight: Arc<Mutex<HashSet<keptn_spec::event::EventId>>> = Arc::default();
    Ok(tokio::spawn(async move {
        while let Some(triggered) = sub.next().await {
            if !executor.accepts(&triggered) {
                continue;
            }
            let fresh = in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(triggered.id.clone());
            if !fresh {
                continue; // the same task again while it runs
            }
            let executor = executor.clone();
            let cx = cx.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                run_one(executor.as_ref(), &triggered, &cx).await;
                in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&triggered.id);
            });
        }
    }))
}

async fn run_one(executor: &dyn TaskExecutor, triggered: &KeptnEvent, cx: &ExecutorContext) {
    let source = executor.source();
    let started = with_common(Value::Null, triggered);
    match answer(triggered, source, Phase::Started, &started) {
        Ok(e) => {
            if cx.bus.publish(&e).await.is_err() {
                return;
            }
        }
        Err(e) => {
            tracing::warn!(%source, "cannot answer {}: {e}", triggered.id);
            return;
        }
    }
    let payload = executor.execute(triggered, cx).await;
    let data = with_common(payload_data(&payload), triggered);
    match answer(triggered, source, Phase::Finished, &data) {
        Ok(e) => {
            let _ = cx.bus.publish(&e).await;
        }
        Err(e) => tracing::warn!(%source, "cannot answer {}: {e}", triggered.id),
    }
}
