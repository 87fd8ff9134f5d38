//! The [`RemediationAction`] trait and what flows in and out of an action.

use std::fmt;

use async_trait::async_trait;
use keptn_spec::remediation::{ActionSpec, ActionValue};
use keptn_spec::{Problem, ProjectName, ServiceName, StageName};
use serde::Serialize;

/// Everything an action gets: where it acts, for which problem, and its step from the file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActionContext {
    /// The problem being remediated (project, stage and service are on it).
    pub problem: Problem,
    /// The step from the remediation file (`name`, `action`, `description`, `value`).
    pub step: ActionSpec,
}

impl ActionContext {
    /// A context for one step of one problem.
    pub fn new(problem: Problem, step: ActionSpec) -> Self {
        Self { problem, step }
    }

    /// The step's value.
    pub fn value(&self) -> Option<&ActionValue> {
        self.step.value.as_ref()
    }

    /// The project.
    pub fn project(&self) -> &ProjectName {
        &self.problem.project
    }

    /// The stage.
    pub fn stage(&self) -> &StageName {
        &self.problem.stage
    }

    /// The service, when the problem names one.
    pub fn service(&self) -> Option<&ServiceName> {
        self.problem.service.as_ref()
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ActionStatus {
    /// The action did what it was asked and checked that it took effect.
    Succeeded,
    /// The action failed; the outcome's message says why. Changes made before the failure are
    /// listed.
    Failed,
    /// Nothing was done (dry run); the message says what would have been done.
    Skipped,
}

impl ActionStatus {
    /// `succeeded`, `failed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing an action changed: a flag, a replica count, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Change {
    /// What was changed, such as `unleash:default/production/EnablePromotion` or
    /// `deployment:sockshop-production/carts-primary/replicas`.
    pub target: String,
    /// The value before, when it could be read.
    pub before: Option<String>,
    /// The value after.
    pub after: String,
}

impl Change {
    /// A change of `target` from `before` to `after`.
    pub fn new(
        target: impl Into<String>,
        before: Option<String>,
        after: impl Into<String>,
    ) -> Self {
        Self {
            target: target.into(),
            before,
            after: after.into(),
        }
    }
}

/// What an action did: its status, a message, the changes and how to undo them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionOutcome {
    /// How it ended.
    pub status: ActionStatus,
    /// What happened, for people (the failure reason when failed).
    pub message: String,
    /// What was changed, in order (also on failure: a partial change is listed).
    pub changes: Vec<Change>,
    /// A step that reverts the changes, where the action can compute one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<ActionSpec>,
}

impl ActionOutcome {
    /// A successful outcome.
    pub fn succeeded(message: impl Into<String>, changes: Vec<Change>) -> Self {
        Self {
            status: ActionStatus::Succeeded,
            message: message.into(),
            changes,
            undo: None,
        }
    }

    /// A failed outcome with the reason and the changes made before the failure.
    pub fn failed(reason: impl Into<String>, changes: Vec<Change>) -> Self {
        Self {
            status: ActionStatus::Failed,
            message: reason.into(),
            changes,
            undo: None,
        }
    }

    /// A dry-run outcome saying what would have been done.
    pub fn skipped(would_do: impl Into<String>) -> Self {
        Self {
            status: ActionStatus::Skipped,
            message: would_do.into(),
            changes: Vec::new(),
            undo: None,
        }
    }

    /// Sets the step that reverts this outcome's changes.
    #[must_use]
    pub fn with_undo(mut self, undo: ActionSpec) -> Self {
        self.undo = Some(undo);
        self
    }

    /// Whether the action succeeded.
    pub fn is_success(&self) -> bool {
        self.status == ActionStatus::Succeeded
    }
}

/// A remediation action: something the workflow can run for a problem, such as turning a
/// feature flag off or adding a replica.
///
/// # Contract
///
/// - [`check`](Self::check) validates a step's value without side effects; the
///   [`ActionRegistry`](crate::ActionRegistry) calls it when a remediation file is loaded, so a
///   bad value is reported then, not when a problem arrives.
/// - [`execute`](Self::execute) never panics and never hides a failure: every failure is an
///   [`ActionOutcome`] with [`ActionStatus::Failed`] and a reason. It verifies its own effect
///   where it can (the Unleash action reads the flag back). It bounds its own time.
/// - [`describe`](Self::describe) says what `execute` would do, for dry runs.
///
/// Implementing it (with the re-exported [`async_trait`](crate::async_trait)):
///
/// ```
/// use keptn_remediate::{ActionContext, ActionOutcome, ActionRegistry, RemediationAction, async_trait};
///
/// /// Restarts the service; here it only says so.
/// #[derive(Debug)]
/// struct Restart;
///
/// #[async_trait]
/// impl RemediationAction for Restart {
///     fn name(&self) -> &str {
///         "restart"
///     }
///     async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
///         ActionOutcome::succeeded(format!("restarted for {}", ctx.problem.title), Vec::new())
///     }
/// }
///
/// let registry = ActionRegistry::new().with(Restart);
/// assert!(registry.get("restart").is_some());
/// ```
#[async_trait]
pub trait RemediationAction: Send + Sync + fmt::Debug {
    /// The action name used in remediation files, such as `toggle-feature`.
    fn name(&self) -> &str;

    /// Other names this action answers to, such as `featuretoggle` (Keptn 0.6).
    fn aliases(&self) -> &[&str] {
        &[]
    }

    /// Checks a step's value without side effects.
    ///
    /// # Errors
    /// A message saying what is wrong with `value` and what was expected.
    fn check(&self, value: Option<&ActionValue>) -> Result<(), String> {
        let _ = value;
        Ok(())
    }

    /// What [`execute`](Self::execute) would do for `ctx`, in one sentence.
    fn describe(&self, ctx: &ActionContext) -> String {
        match ctx.value() {
            Some(v) => format!("run `{}` with value `{v}`", self.name()),
            None => format!("run `{}`", self.name()),
        }
    }

    /// Runs the action for one step.
    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome;
}
