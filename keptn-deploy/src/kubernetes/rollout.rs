//! When is a Deployment rolled out? The `kubectl rollout status` rules as a pure function.

use k8s_openapi::api::apps::v1::Deployment;

/// The rollout state of a Deployment as its status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    /// Every desired replica runs the current template and is available.
    Complete,
    /// Still rolling out; the text says what is missing.
    Progressing(String),
    /// The controller gave up (`Progressing=False`, reason `ProgressDeadlineExceeded`).
    Failed(String),
}

/// Reads the rollout state from `d`'s status, like `kubectl rollout status`: the controller
/// must have observed the current generation, all desired replicas must be updated and
/// available, and no old replica may remain. A `ProgressDeadlineExceeded` condition is a
/// failure.
///
/// Conditions are read through their JSON form so this works with every Kubernetes version
/// k8s-openapi supports (field types of conditions differ between versions).
pub fn rollout_state(d: &Deployment) -> RolloutState {
    let Some(status) = &d.status else {
        return RolloutState::Progressing("the controller has not reported a status yet".into());
    };
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    if observed < generation {
        return RolloutState::Progressing(format!(
            "the controller has not observed generation {generation} yet (observed {observed})"
        ));
    }
    let conditions = serde_json::to_value(&status.conditions).unwrap_or(serde_json::Value::Null);
    if let Some(list) = conditions.as_array() {
        for c in list {
            if c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded" {
                let msg = c["message"]
                    .as_str()
                    .unwrap_or("progress deadline exceeded");
                return RolloutState::Failed(msg.to_owned());
            }
        }
    }
    let desired = super::compat::spec(d).and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < desired {
        return RolloutState::Progressing(format!("{updated} of {desired} replicas updated"));
    }
    if total > updated {
        return RolloutState::Progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    if available < updated {
        let mut msg = format!("{available} of {updated} updated replicas available");
        if let Some(list) = conditions.as_array() {
            for c in list {
                if c["type"] == "ReplicaFailure" && c["status"] == "True" {
                    msg.push_str(&format!(
                        "; replica failure: {}",
                        c["message"].as_str().unwrap_or("unknown")
                    ));
                }
            }
        }
        return RolloutState::Progressing(msg);
    }
    RolloutState::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)]
    fn dep(generation: i64, replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "carts", "generation": generation },
            "spec": { "replicas": replicas, "selector": {}, "template": {} },
            "status": &status,
        }))
        .unwrap()
    }

    /// All replicas updated and available at the observed generation is complete.
    #[test]
    fn complete_when_all_updated_and_available() {
        let d = dep(
            2,
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2}),
        );
        assert_eq!(rollout_state(&d), RolloutState::Complete);
    }

    /// A status from the previous generation is never taken as complete.
    #[test]
    fn stale_generation_is_progressing() {
        let d = dep(
            3,
            1,
            json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        );
        assert!(
            matches!(rollout_state(&d), RolloutState::Progressing(m) if m.contains("generation 3"))
        );
    }

    /// Old replicas still running and unavailable new ones keep it progressing.
    #[test]
    fn partial_rollouts_are_progressing() {
        let d = dep(
            1,
            2,
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(
            rollout_state(&d),
            RolloutState::Progressing("1 old replicas pending termination".into())
        );
        let d = dep(
            1,
            2,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert_eq!(
            rollout_state(&d),
            RolloutState::Progressing("1 of 2 updated replicas available".into())
        );
        let d = dep(1, 1, json!({}));
        assert!(matches!(rollout_state(&d), RolloutState::Progressing(_)));
    }

    /// The controller's progress deadline is a failure with its message.
    #[test]
    fn progress_deadline_exceeded_is_failed() {
        let d = dep(
            1,
            1,
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"carts-5d\" has timed out progressing."}]}),
        );
        assert_eq!(
            rollout_state(&d),
            RolloutState::Failed("ReplicaSet \"carts-5d\" has timed out progressing.".into())
        );
    }

    /// Zero desired replicas is complete at once.
    #[test]
    fn scaled_to_zero_is_complete() {
        let d = dep(1, 0, json!({"observedGeneration": 1}));
        assert_eq!(rollout_state(&d), RolloutState::Complete);
    }
}
