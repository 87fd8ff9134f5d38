//! The controller's types: its inputs, its effects, its memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use keptn_spec::event::{EventId, KeptnContext, KeptnEvent};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ProjectName, StageName};

use crate::executor::TaskExecutor;
use crate::model::{SequenceControl, SequenceRecord};
use crate::store::{Change, Store};

/// Something that happened, for the controller to act on.
#[derive(Debug)]
pub(crate) enum Input {
    /// An event from the bus.
    Event(Box<KeptnEvent>),
    /// A user's sequence control for a context (and optionally one stage).
    Control(KeptnContext, Option<StageName>, SequenceControl),
    /// The start deadline of a task passed.
    StartDeadline(EventId, EventId),
    /// A task's `triggeredAfter` delay passed.
    Dispatch(EventId, EventId),
    /// A project's shipyard changed in the store.
    ReloadProject(ProjectName),
}

/// When to feed an input back to the controller.
#[derive(Debug)]
pub(crate) struct Timer {
    pub(crate) after: Duration,
    pub(crate) input: Input,
}

/// What one input caused.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Written in one transaction.
    pub(crate) change: Change,
    /// Published after the write.
    pub(crate) publish: Vec<KeptnEvent>,
    /// Armed after the write.
    pub(crate) timers: Vec<Timer>,
}

impl Effects {
    pub(super) fn emit(&mut self, event: KeptnEvent) {
        self.change.events.push(event.clone());
        self.publish.push(event);
    }

    pub(super) fn save(&mut self, record: &SequenceRecord) {
        self.change.sequences.retain(|r| r.id != record.id);
        self.change.sequences.push(record.clone());
    }
}

/// The controller's memory: shipyards and the sequences that are not over.
#[derive(Debug)]
pub(crate) struct Controller {
    pub(super) store: Arc<dyn Store>,
    pub(super) shipyards: HashMap<ProjectName, Shipyard>,
    pub(super) executors: Vec<Arc<dyn TaskExecutor>>,
    pub(super) start_timeout: Duration,
    pub(super) active: BTreeMap<EventId, SequenceRecord>,
    /// Aborted sequences waiting for a task their abort left running
    /// ([`SequenceRecord::after_abort`]), by that task's `.triggered` id.
    pub(super) abandoned: HashMap<EventId, SequenceRecord>,
}
