//! What remediation actions did, for a report: the control plane's `action.finished` events
//! carry only an action's verdict and message; [`RecordedAction`] keeps its whole
//! [`ActionOutcome`] (the changes it made), per problem.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keptn_remediate::{ActionContext, ActionOutcome, RemediationAction};
use keptn_spec::remediation::{ActionSpec, ActionValue};

/// One run of a remediation action, as the action reported it.
#[derive(Debug, Clone)]
pub struct ActionRun {
    /// The problem's `PID`.
    pub pid: String,
    /// The step of `remediation.yaml` that ran.
    pub step: ActionSpec,
    /// What it did.
    pub outcome: ActionOutcome,
}

/// Wraps a remediation action and remembers every run of it; otherwise it is the action
/// itself (name, aliases, value check and description are the wrapped action's). Clones share
/// the record, so register one clone and read the runs from another.
///
/// ```
/// use async_trait::async_trait;
/// use keptn_control::report::RecordedAction;
/// use keptn_remediate::{ActionContext, ActionOutcome, ActionRegistry, RemediationAction};
///
/// #[derive(Debug, Clone)]
/// struct Restart;
///
/// #[async_trait]
/// impl RemediationAction for Restart {
///     fn name(&self) -> &str {
///         "restart"
///     }
///     async fn execute(&self, _ctx: &ActionContext) -> ActionOutcome {
///         ActionOutcome::succeeded("restarted", Vec::new())
///     }
/// }
///
/// let restart = RecordedAction::new(Restart);
/// let registry = ActionRegistry::new().with(restart.clone());
/// assert!(registry.get("restart").is_some());
/// assert!(restart.runs("P-1").is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct RecordedAction<A> {
    inner: A,
    runs: Arc<Mutex<Vec<ActionRun>>>,
}

impl<A> RecordedAction<A> {
    /// Records what `inner` does.
    pub fn new(inner: A) -> Self {
        Self {
            inner,
            runs: Arc::default(),
        }
    }

    /// Every run so far for the problem `pid`, oldest first.
    pub fn runs(&self, pid: &str) -> Vec<ActionRun> {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.iter().filter(|r| r.pid == pid).cloned().collect()
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

#[async_trait]
impl<A: RemediationAction> RemediationAction for RecordedAction<A> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[&str] {
        self.inner.aliases()
    }

    fn check(&self, value: Option<&ActionValue>) -> Result<(), String> {
        self.inner.check(value)
    }

    fn describe(&self, ctx: &ActionContext) -> String {
        self.inner.describe(ctx)
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        let outcome = self.inner.execute(ctx).await;
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ActionRun {
                pid: ctx.problem.pid.clone(),
                step: ctx.step.clone(),
                outcome: outcome.clone(),
            });
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_remediate::Problem;

    /// Accepts only `on`/`off`; says what it would do in its own words.
    #[derive(Debug, Clone)]
    struct Toggle;

    #[async_trait]
    impl RemediationAction for Toggle {
        fn name(&self) -> &str {
            "toggle"
        }
        fn aliases(&self) -> &[&str] {
            &["featuretoggle"]
        }
        fn check(&self, value: Option<&ActionValue>) -> Result<(), String> {
            match value.and_then(ActionValue::as_text) {
                Some("on" | "off") => Ok(()),
                _ => Err("expected on or off".to_owned()),
            }
        }
        fn describe(&self, _ctx: &ActionContext) -> String {
            "toggles".to_owned()
        }
        async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
            ActionOutcome::succeeded(format!("toggled for {}", ctx.problem.pid), Vec::new())
        }
    }

    fn ctx(pid: &str, value: &str) -> ActionContext {
        let problem = Problem::new(
            pid,
            "Failure rate increase",
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
        );
        let step = ActionSpec {
            name: "Toggle".to_owned(),
            action: "toggle".to_owned(),
            description: String::new(),
            value: Some(ActionValue::Text(value.to_owned())),
        };
        ActionContext::new(problem, step)
    }

    /// The wrapper is the action itself, and keeps each run under its problem.
    #[tokio::test]
    async fn records_runs_per_problem() {
        let recorded = RecordedAction::new(Toggle);
        let reader = recorded.clone();
        assert_eq!(recorded.name(), "toggle");
        assert_eq!(recorded.aliases(), ["featuretoggle"]);
        let bad = ActionValue::Text("maybe".to_owned());
        assert_eq!(
            recorded.check(Some(&bad)),
            Err("expected on or off".to_owned())
        );
        assert_eq!(recorded.describe(&ctx("P-1", "off")), "toggles");

        let first = recorded.execute(&ctx("P-1", "off")).await;
        recorded.execute(&ctx("P-2", "on")).await;
        recorded.execute(&ctx("P-1", "on")).await;
        let runs = reader.runs("P-1");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].outcome, first);
        assert_eq!(
            runs[0].step.value,
            Some(ActionValue::Text("off".to_owned()))
        );
        assert_eq!(runs[1].step.value, Some(ActionValue::Text("on".to_owned())));
        assert_eq!(reader.runs("P-2").len(), 1);
        assert!(reader.runs("P-3").is_empty());
    }
}
