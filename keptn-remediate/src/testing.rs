//! In-memory test doubles: a [`Scaler`], a scripted [`Verifier`] and a recording
//! [`RemediationAction`]. Enabled by the `testing` feature.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keptn_spec::remediation::ActionValue;

use crate::action::{ActionContext, ActionOutcome, RemediationAction};
use crate::scaling::{ScaleError, Scaler};
use crate::verify::{Verification, Verifier, VerifyError, VerifyRequest};

/// A [`Scaler`] over an in-memory map of `(namespace, deployment) → replicas`. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct InMemoryScaler {
    replicas: Arc<Mutex<BTreeMap<(String, String), u32>>>,
}

impl InMemoryScaler {
    /// An empty scaler (every deployment is missing until [`insert`](Self::insert)ed).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or sets) a deployment's replicas.
    #[must_use]
    pub fn with(self, namespace: &str, deployment: &str, replicas: u32) -> Self {
        self.insert(namespace, deployment, replicas);
        self
    }

    /// Adds (or sets) a deployment's replicas.
    pub fn insert(&self, namespace: &str, deployment: &str, replicas: u32) {
        self.replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((namespace.to_owned(), deployment.to_owned()), replicas);
    }

    /// A deployment's replicas, if it exists.
    pub fn get(&self, namespace: &str, deployment: &str) -> Option<u32> {
        self.replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(namespace.to_owned(), deployment.to_owned()))
            .copied()
    }
}

#[async_trait]
impl Scaler for InMemoryScaler {
    async fn replicas(&self, namespace: &str, deployment: &str) -> Result<u32, ScaleError> {
        self.get(namespace, deployment)
            .ok_or_else(|| ScaleError::new(namespace, deployment, "deployment not found"))
    }

    async fn set_replicas(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: u32,
    ) -> Result<(), ScaleError> {
        let mut map = self.replicas.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(&(namespace.to_owned(), deployment.to_owned())) {
            Some(r) => {
                *r = replicas;
                Ok(())
            }
            None => Err(ScaleError::new(
                namespace,
                deployment,
                "deployment not found",
            )),
        }
    }
}

/// A [`Verifier`] that answers from a script, one answer per call; after the script it answers
/// [`Verification::Unresolved`]. Records how often it was asked.
#[derive(Debug, Clone, Default)]
pub struct ScriptedVerifier {
    answers: Arc<Mutex<VecDeque<Result<Verification, VerifyError>>>>,
    calls: Arc<Mutex<usize>>,
}

impl ScriptedVerifier {
    /// A verifier giving `answers` in order.
    pub fn new(answers: impl IntoIterator<Item = Result<Verification, VerifyError>>) -> Self {
        Self {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            calls: Arc::new(Mutex::new(0)),
        }
    }

    /// How often [`Verifier::verify`] was called.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Verifier for ScriptedVerifier {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn verify(&self, _request: &VerifyRequest<'_>) -> Result<Verification, VerifyError> {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or_else(|| Ok(Verification::Unresolved("script exhausted".to_owned())))
    }
}

/// A [`RemediationAction`] that records every context it runs with and answers with a fixed
/// outcome (or a failure for values equal to [`fail_on`](Self::fail_on)). Clones share the record.
#[derive(Debug, Clone)]
pub struct RecordingAction {
    name: String,
    fail_on: Option<ActionValue>,
    calls: Arc<Mutex<Vec<ActionContext>>>,
}

impl RecordingAction {
    /// An action called `name` that always succeeds.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fail_on: None,
            calls: Arc::default(),
        }
    }

    /// Makes steps with this value fail.
    #[must_use]
    pub fn fail_on(mut self, value: impl Into<ActionValue>) -> Self {
        self.fail_on = Some(value.into());
        self
    }

    /// Every context the action ran with, in order.
    pub fn calls(&self) -> Vec<ActionContext> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl RemediationAction for RecordingAction {
    fn name(&self) -> &str {
        &self.name
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ctx.clone());
        if self.fail_on.is_some() && ctx.value() == self.fail_on.as_ref() {
            ActionOutcome::failed(format!("{} failed as scripted", self.name), Vec::new())
        } else {
            ActionOutcome::succeeded(format!("{} ran", self.name), Vec::new())
        }
    }
}
