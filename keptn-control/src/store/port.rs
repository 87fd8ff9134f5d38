//! The store's port: the [`Store`] trait and what its methods take.

use std::fmt;

use async_trait::async_trait;
use keptn_slo::PreviousEvaluation;
use keptn_spec::ProjectName;
use keptn_spec::event::{EventId, EventType, KeptnContext, KeptnEvent};

use crate::Result;
use crate::model::{ResourceScope, SequenceRecord};

/// One state change, written in one transaction: events appended to the log (an id already in
/// the log is skipped, so an event is logged once however often it is delivered) and sequences
/// written as they are now.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Change {
    /// Events to append, in order.
    pub events: Vec<KeptnEvent>,
    /// Sequences to write (insert or replace).
    pub sequences: Vec<SequenceRecord>,
}

impl Change {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.sequences.is_empty()
    }
}

/// Which events [`Store::events`] returns (all given fields must match), oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventQuery {
    /// Only this Keptn context.
    pub context: Option<KeptnContext>,
    /// Only this type.
    pub ty: Option<EventType>,
    /// Only answers to this `.triggered` event.
    pub triggered_id: Option<EventId>,
    /// At most this many (the oldest ones).
    pub limit: Option<usize>,
}

impl EventQuery {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events of one context.
    pub fn context(context: KeptnContext) -> Self {
        Self {
            context: Some(context),
            ..Self::default()
        }
    }

    /// Only events of type `ty`.
    #[must_use]
    pub fn of_type(mut self, ty: EventType) -> Self {
        self.ty = Some(ty);
        self
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &KeptnEvent) -> bool {
        self.context.is_none_or(|c| event.shkeptncontext == Some(c))
            && self.ty.as_ref().is_none_or(|t| *t == event.ty)
            && self
                .triggered_id
                .as_ref()
                .is_none_or(|t| event.triggeredid.as_ref() == Some(t))
    }
}

/// A test on one logged event beyond an [`EventQuery`] (such as the API's filters on
/// `data.project`), for [`Store::events_page`].
pub type EventFilter<'a> = &'a (dyn Fn(&KeptnEvent) -> bool + Send + Sync);

/// One page of the event log, newest first: what [`Store::events_page`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventPage {
    /// The events of the page, newest first.
    pub events: Vec<KeptnEvent>,
    /// How many events match in all (on every page).
    pub total: usize,
}

impl EventPage {
    /// Counts one matching event, taken newest first, and keeps it when it falls on the page:
    /// after the first `skip` matches, at most `take`. `event` is only called for a kept one.
    pub(crate) fn tally(&mut self, skip: usize, take: usize, event: impl FnOnce() -> KeptnEvent) {
        if self.total >= skip && self.events.len() < take {
            self.events.push(event());
        }
        self.total += 1;
    }
}

/// Which sequences [`Store::sequences`] returns, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SequenceQuery {
    /// Only this project.
    pub project: Option<ProjectName>,
    /// Only this context.
    pub context: Option<KeptnContext>,
    /// Only sequences that are not finished or aborted.
    pub unfinished: bool,
    /// Only aborted sequences still waiting for the answer of a task their abort left running
    /// ([`SequenceRecord::after_abort`]).
    pub after_abort: bool,
}

impl SequenceQuery {
    /// Every sequence.
    pub fn all() -> Self {
        Self::default()
    }

    /// The sequences of one context.
    pub fn context(context: KeptnContext) -> Self {
        Self {
            context: Some(context),
            ..Self::default()
        }
    }

    /// Every sequence that is not over (what a restart resumes).
    pub fn unfinished() -> Self {
        Self {
            unfinished: true,
            ..Self::default()
        }
    }

    /// Every aborted sequence still waiting for the answer of a task its abort left running
    /// (what a restart keeps waiting for).
    pub fn after_abort() -> Self {
        Self {
            after_abort: true,
            ..Self::default()
        }
    }

    /// Whether `record` matches.
    pub fn matches(&self, record: &SequenceRecord) -> bool {
        self.project.as_ref().is_none_or(|p| *p == record.project)
            && self.context.is_none_or(|c| c == record.context)
            && (!self.unfinished || !record.state.is_done())
            && (!self.after_abort || record.after_abort.is_some())
    }
}

/// The control plane's durable state. Every method is one transaction; implementations must be
/// safe to share between tasks and, for file-backed stores, between processes.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Creates `project` with its shipyard (stored as the project resource `shipyard.yaml`), or
    /// replaces the shipyard of an existing project.
    ///
    /// # Errors
    /// When the store cannot be written.
    async fn put_project(&self, project: &ProjectName, shipyard: &str) -> Result<()>;

    /// The projects, by name.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn projects(&self) -> Result<Vec<ProjectName>>;

    /// Deletes a project with its resources (its events and sequences stay in the log).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown project.
    async fn delete_project(&self, project: &ProjectName) -> Result<()>;

    /// Writes the resource `uri` (such as `slo.yaml` or `dynatrace/sli.yaml`) at `scope`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the project does not exist.
    async fn put_resource(&self, scope: &ResourceScope, uri: &str, content: &str) -> Result<()>;

    /// The resource `uri` at exactly `scope`, if there is one.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn resource(&self, scope: &ResourceScope, uri: &str) -> Result<Option<String>>;

    /// The URIs of the resources at exactly `scope`, sorted.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn resource_uris(&self, scope: &ResourceScope) -> Result<Vec<String>>;

    /// Applies `change` in one transaction.
    ///
    /// # Errors
    /// When the store cannot be written; then nothing of `change` was written.
    async fn commit(&self, change: &Change) -> Result<()>;

    /// Whether the event log holds an event with this id.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn has_event(&self, id: &EventId) -> Result<bool>;

    /// The event with this id.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn event(&self, id: &EventId) -> Result<Option<KeptnEvent>>;

    /// The logged events matching `query`, in log order.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn events(&self, query: &EventQuery) -> Result<Vec<KeptnEvent>>;

    /// The page of the logged events matching `query` (its `limit` ignored) and `keep`,
    /// **newest first**: `skip` matching events left out, then at most `take`; with the number
    /// of matching events. What the API's event lists read: a store should hold only the page
    /// in memory, however long the log is (this default reads every match; both stores of this
    /// crate override it).
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn events_page(
        &self,
        query: &EventQuery,
        keep: EventFilter<'_>,
        skip: usize,
        take: usize,
    ) -> Result<EventPage> {
        let mut query = query.clone();
        query.limit = None;
        let mut page = EventPage::default();
        for event in self.events(&query).await?.into_iter().rev() {
            if keep(&event) {
                page.tally(skip, take, || event);
            }
        }
        Ok(page)
    }

    /// The sequence whose `.triggered` event has this id.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn sequence(&self, id: &EventId) -> Result<Option<SequenceRecord>>;

    /// The sequences matching `query`, oldest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn sequences(&self, query: &SequenceQuery) -> Result<Vec<SequenceRecord>>;

    /// Appends an evaluation to the history of one service in one stage (`scope` with stage and
    /// service). An evaluation with an id already recorded there is skipped.
    ///
    /// # Errors
    /// When the store cannot be written.
    async fn record_evaluation(
        &self,
        scope: &ResourceScope,
        evaluation: &PreviousEvaluation,
    ) -> Result<()>;

    /// The evaluation history of one service in one stage, **newest first** (what
    /// [`keptn_slo::evaluate`] expects).
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn evaluations(&self, scope: &ResourceScope) -> Result<Vec<PreviousEvaluation>>;
}

/// The resource URI of a project's shipyard.
pub const SHIPYARD_URI: &str = "shipyard.yaml";
