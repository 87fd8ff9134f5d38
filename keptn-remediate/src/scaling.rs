//! The `scaling` action and the [`Scaler`] port it acts through.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use keptn_spec::names::{namespace, primary_name};
use keptn_spec::remediation::{ActionSpec, ActionValue};

use crate::action::{ActionContext, ActionOutcome, Change, RemediationAction};

/// Why a [`Scaler`] could not read or set replicas.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot scale {namespace}/{deployment}: {message}")]
#[non_exhaustive]
pub struct ScaleError {
    /// The namespace.
    pub namespace: String,
    /// The deployment.
    pub deployment: String,
    /// What went wrong.
    pub message: String,
}

impl ScaleError {
    /// A scaling failure.
    pub fn new(
        namespace: impl Into<String>,
        deployment: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            deployment: deployment.into(),
            message: message.into(),
        }
    }
}

/// Reads and sets the replica count of a deployment.
///
/// Implemented for Kubernetes by `kubernetes::KubeScaler` (feature `kube`, a Deployment's
/// `scale` subresource), and in memory by
/// `testing::InMemoryScaler` (feature `testing`). Implementations bound their
/// own time and never block a thread.
///
/// Implementing it (with the re-exported [`async_trait`](crate::async_trait)):
///
/// ```
/// use keptn_remediate::{ScaleError, Scaler, ScalingAction, async_trait};
///
/// /// A platform with one replica everywhere that ignores changes.
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait]
/// impl Scaler for Fixed {
///     async fn replicas(&self, _namespace: &str, _deployment: &str) -> Result<u32, ScaleError> {
///         Ok(1)
///     }
///     async fn set_replicas(&self, _ns: &str, _deployment: &str, _n: u32) -> Result<(), ScaleError> {
///         Ok(())
///     }
/// }
///
/// let action = ScalingAction::new(Fixed);
/// # let _ = action;
/// ```
#[async_trait]
pub trait Scaler: Send + Sync + fmt::Debug {
    /// The current desired replica count of `deployment` in `namespace`.
    ///
    /// # Errors
    /// [`ScaleError`] when the deployment does not exist or cannot be read.
    async fn replicas(&self, namespace: &str, deployment: &str) -> Result<u32, ScaleError>;

    /// Sets the desired replica count.
    ///
    /// # Errors
    /// [`ScaleError`] when the deployment does not exist or cannot be changed.
    async fn set_replicas(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: u32,
    ) -> Result<(), ScaleError>;
}

#[async_trait]
impl<T: Scaler + ?Sized> Scaler for Arc<T> {
    async fn replicas(&self, namespace: &str, deployment: &str) -> Result<u32, ScaleError> {
        (**self).replicas(namespace, deployment).await
    }

    async fn set_replicas(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: u32,
    ) -> Result<(), ScaleError> {
        (**self).set_replicas(namespace, deployment, replicas).await
    }
}

/// The largest replica count the action sets; a typo such as `+100` fails instead of
/// launching a hundred pods.
pub const DEFAULT_MAX_REPLICAS: u32 = 20;

/// The `scaling` action: changes the replicas of `{service}-primary` in `{project}-{stage}` by
/// the step's value (`"1"`, `"+1"`, `"-1"`), as Keptn's helm-service did for `action: scaling`.
///
/// The result is clamped to at least 1 replica (never scaled to zero by a remediation) and
/// refused above [`max_replicas`](Self::max_replicas). The undo step scales back by the
/// opposite amount.
#[derive(Debug, Clone)]
pub struct ScalingAction<S> {
    scaler: S,
    max_replicas: u32,
}

impl<S: Scaler> ScalingAction<S> {
    /// A scaling action acting through `scaler`.
    pub fn new(scaler: S) -> Self {
        Self {
            scaler,
            max_replicas: DEFAULT_MAX_REPLICAS,
        }
    }

    /// Sets the largest replica count the action may set.
    #[must_use]
    pub fn max_replicas(mut self, max: u32) -> Self {
        self.max_replicas = max;
        self
    }
}

/// Parses a scaling value: an integer, optionally signed (`1`, `+1`, `-2`), not zero.
fn parse_delta(value: Option<&ActionValue>) -> Result<i64, String> {
    let text = match value {
        Some(ActionValue::Text(t)) => t.trim(),
        Some(ActionValue::Map(_)) => {
            return Err("expected a replica change such as \"+1\", found a map".to_owned());
        }
        None => return Err("missing value: expected a replica change such as \"+1\"".to_owned()),
    };
    let delta: i64 = text
        .strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("expected a replica change such as \"+1\", found `{text}`"))?;
    if delta == 0 {
        return Err("a replica change of 0 does nothing".to_owned());
    }
    Ok(delta)
}

#[async_trait]
impl<S: Scaler> RemediationAction for ScalingAction<S> {
    fn name(&self) -> &str {
        "scaling"
    }

    fn check(&self, value: Option<&ActionValue>) -> Result<(), String> {
        parse_delta(value).map(|_| ())
    }

    fn describe(&self, ctx: &ActionContext) -> String {
        let target = match ctx.service() {
            Some(svc) => format!(
                "{}/{}",
                namespace(ctx.project(), ctx.stage()),
                primary_name(svc)
            ),
            None => "(no service in the problem)".to_owned(),
        };
        match parse_delta(ctx.value()) {
            Ok(d) => format!("change the replicas of {target} by {d:+}"),
            Err(e) => format!("cannot scale {target}: {e}"),
        }
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        let delta = match parse_delta(ctx.value()) {
            Ok(d) => d,
            Err(e) => return ActionOutcome::failed(e, Vec::new()),
        };
        let Some(service) = ctx.service() else {
            return ActionOutcome::failed(
                "the problem names no service, so there is no deployment to scale",
                Vec::new(),
            );
        };
        let ns = namespace(ctx.project(), ctx.stage());
        let deployment = primary_name(service);
        let current = match self.scaler.replicas(&ns, &deployment).await {
            Ok(r) => r,
            Err(e) => return ActionOutcome::failed(e.to_string(), Vec::new()),
        };
        let wanted = (i64::from(current) + delta).max(1);
        if wanted > i64::from(self.max_replicas) {
            return ActionOutcome::failed(
                format!(
                    "refusing to scale {ns}/{deployment} from {current} to {wanted} replicas (limit {})",
                    self.max_replicas
                ),
                Vec::new(),
            );
        }
        let wanted = u32::try_from(wanted).unwrap_or(1);
        if wanted == current {
            return ActionOutcome::failed(
                format!("{ns}/{deployment} already has {current} replica(s); nothing to change"),
                Vec::new(),
            );
        }
        if let Err(e) = self.scaler.set_replicas(&ns, &deployment, wanted).await {
            return ActionOutcome::failed(e.to_string(), Vec::new());
        }
        let change = Change::new(
            format!("deployment:{ns}/{deployment}/replicas"),
            Some(current.to_string()),
            wanted.to_string(),
        );
        let back = i64::from(current) - i64::from(wanted);
        ActionOutcome::succeeded(
            format!("scaled {ns}/{deployment} from {current} to {wanted} replicas"),
            vec![change],
        )
        .with_undo(ActionSpec {
            name: "undo scaling".to_owned(),
            action: "scaling".to_owned(),
            description: format!("scale {ns}/{deployment} back to {current} replicas"),
            value: Some(ActionValue::Text(format!("{back:+}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed and unsigned integers parse; zero, words and maps do not.
    #[test]
    fn scaling_values() {
        assert_eq!(parse_delta(Some(&"+1".into())), Ok(1));
        assert_eq!(parse_delta(Some(&"1".into())), Ok(1));
        assert_eq!(parse_delta(Some(&"-2".into())), Ok(-2));
        assert!(
            parse_delta(Some(&"0".into()))
                .unwrap_err()
                .contains("does nothing")
        );
        assert!(
            parse_delta(Some(&"one".into()))
                .unwrap_err()
                .contains("found `one`")
        );
        assert!(parse_delta(None).unwrap_err().contains("missing value"));
        assert!(
            parse_delta(Some(&ActionValue::Map(vec![])))
                .unwrap_err()
                .contains("found a map")
        );
    }
}
