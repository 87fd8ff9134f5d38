//! The in-memory store (tests, throw-away runs).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use keptn_slo::PreviousEvaluation;
use keptn_spec::ProjectName;
use keptn_spec::event::{EventId, KeptnEvent};

use super::port::{Change, EventFilter, EventPage, EventQuery, SHIPYARD_URI, SequenceQuery, Store};
use crate::model::{ResourceScope, SequenceRecord};
use crate::{Error, Result};

/// A [`Store`] in memory: nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    projects: BTreeMap<ProjectName, ()>,
    resources: BTreeMap<(ResourceScope, String), String>,
    events: Vec<KeptnEvent>,
    event_ids: HashMap<EventId, usize>,
    sequences: Vec<SequenceRecord>,
    evaluations: BTreeMap<ResourceScope, Vec<PreviousEvaluation>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_project(&self, project: &ProjectName, shipyard: &str) -> Result<()> {
        let mut s = self.lock();
        s.projects.insert(project.clone(), ());
        s.resources.insert(
            (
                ResourceScope::project(project.clone()),
                SHIPYARD_URI.to_owned(),
            ),
            shipyard.to_owned(),
        );
        Ok(())
    }

    async fn projects(&self) -> Result<Vec<ProjectName>> {
        Ok(self.lock().projects.keys().cloned().collect())
    }

    async fn delete_project(&self, project: &ProjectName) -> Result<()> {
        let mut s = self.lock();
        if s.projects.remove(project).is_none() {
            return Err(Error::NotFound(format!("project `{project}`")));
        }
        s.resources
            .retain(|(scope, _), _| scope.project != *project);
        Ok(())
    }

    async fn put_resource(&self, scope: &ResourceScope, uri: &str, content: &str) -> Result<()> {
        let mut s = self.lock();
        if !s.projects.contains_key(&scope.project) {
            return Err(Error::NotFound(format!("project `{}`", scope.project)));
        }
        s.resources
            .insert((scope.clone(), uri.to_owned()), content.to_owned());
        Ok(())
    }

    async fn resource(&self, scope: &ResourceScope, uri: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .resources
            .get(&(scope.clone(), uri.to_owned()))
            .cloned())
    }

    async fn resource_uris(&self, scope: &ResourceScope) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .resources
            .keys()
            .filter(|(s, _)| s == scope)
            .map(|(_, uri)| uri.clone())
            .collect())
    }

    async fn commit(&self, change: &Change) -> Result<()> {
        let mut s = self.lock();
        for event in &change.events {
            if !s.event_ids.contains_key(&event.id) {
                let at = s.events.len();
                s.event_ids.insert(event.id.clone(), at);
                s.events.push(event.clone());
            }
        }
        for record in &change.sequences {
            match s.sequences.iter_mut().find(|r| r.id == record.id) {
                Some(existing) => *existing = record.clone(),
                None => s.sequences.push(record.clone()),
            }
        }
        Ok(())
    }

    async fn has_event(&self, id: &EventId) -> Result<bool> {
        Ok(self.lock().event_ids.contains_key(id))
    }

    async fn event(&self, id: &EventId) -> Result<Option<KeptnEvent>> {
        let s = self.lock();
        Ok(s.event_ids.get(id).map(|&i| s.events[i].clone()))
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<KeptnEvent>> {
        let s = self.lock();
        let matching = s.events.iter().filter(|e| query.matches(e)).cloned();
        Ok(match query.limit {
            Some(n) => matching.take(n).collect(),
            None => matching.collect(),
        })
    }

    async fn events_page(
        &self,
        query: &EventQuery,
        keep: EventFilter<'_>,
        skip: usize,
        take: usize,
    ) -> Result<EventPage> {
        let s = self.lock();
        let mut page = EventPage::default();
        for event in s.events.iter().rev() {
            if query.matches(event) && keep(event) {
                page.tally(skip, take, || event.clone());
            }
        }
        Ok(page)
    }

    async fn sequence(&self, id: &EventId) -> Result<Option<SequenceRecord>> {
        Ok(self.lock().sequences.iter().find(|r| r.id == *id).cloned())
    }

    async fn sequences(&self, query: &SequenceQuery) -> Result<Vec<SequenceRecord>> {
        Ok(self
            .lock()
            .sequences
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect())
    }

    async fn record_evaluation(
        &self,
        scope: &ResourceScope,
        evaluation: &PreviousEvaluation,
    ) -> Result<()> {
        let mut s = self.lock();
        let list = s.evaluations.entry(scope.clone()).or_default();
        if evaluation.id.is_none() || !list.iter().any(|e| e.id == evaluation.id) {
            list.push(evaluation.clone());
        }
        Ok(())
    }

    async fn evaluations(&self, scope: &ResourceScope) -> Result<Vec<PreviousEvaluation>> {
        let s = self.lock();
        Ok(s.evaluations
            .get(scope)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default())
    }
}
