//! Kubernetes calls under the family's one retry policy, and putting traffic back on the
//! primary after a failed promotion.
//!
//! Every call the deployer makes is idempotent: reads, server-side apply of a whole object,
//! merge patches without a `resourceVersion`. Sending one again cannot apply anything twice, so
//! [`retrying`] repeats it on the failures [`RetryPolicy::is_retryable`] allows for idempotent
//! requests (transport errors, `408`, `429`, `5xx`) and on `409 Conflict` (another writer got
//! there first; the Kubernetes answer to a conflict is to send again). Attempts and backoff
//! are the policy's.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use keptn_spec::retry::{Failure, RequestKind, RetryPolicy};

use super::{KubeDeployer, Role, WaitFailure, clean_copy};
use crate::{Error, Result, StageService};

/// Whether another attempt of a failed (idempotent) Kubernetes call may succeed.
fn retryable(e: &Error) -> bool {
    let Error::Kubernetes { source, .. } = e else {
        return false;
    };
    match source.as_ref() {
        kube::Error::Api(status) => {
            status.code == 409
                || RetryPolicy::is_retryable(Failure::Status(status.code), RequestKind::Idempotent)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            RetryPolicy::is_retryable(Failure::Transport, RequestKind::Idempotent)
        }
        _ => false,
    }
}

/// A number in `[0, 1)` for the backoff's jitter (sub-second clock; no need for more).
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos) / 1e9
}

/// Runs `call` until it succeeds, fails for good, or `policy`'s attempts are used up.
pub(super) async fn retrying<T, F, Fut>(policy: &RetryPolicy, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < policy.max_attempts && retryable(&e) => {
                let wait = policy.backoff(attempt, jitter());
                tracing::warn!(error = %described(&e), attempt, ?wait, "kubernetes call failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The error with its causes, `: `-separated.
pub(super) fn described(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `e` with `state` (what is left in the cluster) added to what it says.
pub(super) fn with_state(e: Error, state: &str) -> Error {
    match e {
        Error::Kubernetes { action, source } => Error::Kubernetes {
            action: format!("{action} (state left: {state})"),
            source,
        },
        Error::RolloutFailed {
            object,
            reason,
            rolled_back,
        } => Error::RolloutFailed {
            object,
            reason: format!("{reason}; state left: {state}"),
            rolled_back,
        },
        Error::RolloutTimedOut {
            object,
            timeout,
            last_state,
            rolled_back,
        } => Error::RolloutTimedOut {
            object,
            timeout,
            last_state: format!("{last_state}; state left: {state}"),
            rolled_back,
        },
        other => other,
    }
}

impl KubeDeployer {
    /// After the primary failed to take the canary's spec during a promotion: the public
    /// Service goes back to the primary first (the one step that decides what is served), then
    /// the primary's previous spec is re-applied and awaited. Each write runs under the retry
    /// policy. `Ok` when all of it worked; otherwise what is left, for the error.
    pub(super) async fn restore_after_failed_promote(
        &self,
        target: &StageService,
        previous: Option<&Deployment>,
    ) -> std::result::Result<(), String> {
        let ns = target.namespace();
        let service = target.service.as_str();
        let primary = Role::Primary.deployment_name(&target.service);
        let Some(previous) = previous else {
            return Err(format!(
                "there was no primary before; Service {ns}/{service} keeps selecting the canary"
            ));
        };
        if let Err(e) = self.switch_traffic(target, Role::Primary).await {
            return Err(format!(
                "Service {ns}/{service} still selects the canary (the new version); switching it back failed: {}",
                described(&e)
            ));
        }
        self.drain_switch(target, Role::Primary).await;
        let api = self.deployments(target);
        if let Err(e) = self
            .apply(&api, "Deployment", &primary, &clean_copy(previous))
            .await
        {
            return Err(format!(
                "Service {ns}/{service} selects the primary again, but Deployment {ns}/{primary} keeps the failed spec: {}",
                described(&e)
            ));
        }
        match self.wait_rollout(target, &primary).await {
            Ok(()) => Ok(()),
            Err(WaitFailure::Failed(why) | WaitFailure::TimedOut(why)) => Err(format!(
                "Service {ns}/{service} selects the primary again and its previous spec is re-applied, but Deployment {ns}/{primary} is not ready: {why}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": "injected", "reason": "Injected", "code": code
        }))
        .unwrap();
        Error::Kubernetes {
            action: "apply Deployment ns/carts".into(),
            source: Box::new(kube::Error::Api(Box::new(status))),
        }
    }

    #[test]
    fn conflicts_and_server_errors_are_retried_client_errors_are_not() {
        assert!(retryable(&api_error(409)));
        assert!(retryable(&api_error(500)));
        assert!(retryable(&api_error(503)));
        assert!(retryable(&api_error(429)));
        assert!(!retryable(&api_error(400)));
        assert!(!retryable(&api_error(403)));
        assert!(!retryable(&api_error(422)));
        assert!(!retryable(&Error::invalid("image", "empty")));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_policy_gives_up() {
        let policy = RetryPolicy::new(
            3,
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(20),
        );
        let calls = std::sync::atomic::AtomicU32::new(0);
        let r: Result<()> = retrying(&policy, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(api_error(500))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let r = retrying(&policy, || async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n == 0 { Err(api_error(409)) } else { Ok(n) }
        })
        .await;
        assert_eq!(r.unwrap(), 1);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let r: Result<()> = retrying(&policy, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(api_error(422))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn the_state_left_is_part_of_the_message() {
        let e = with_state(api_error(500), "Service ns/carts still selects the canary");
        assert_eq!(
            e.to_string(),
            "kubernetes: cannot apply Deployment ns/carts (state left: Service ns/carts still selects the canary)"
        );
        assert!(described(&e).contains("injected"));
    }
}
