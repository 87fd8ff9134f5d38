//! `report::RemediationOutcome` reads what the remediation sequences did about a problem:
//! the sequences of its context, the actions a `RecordedAction` kept, and the status.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keptn_control::executors::{
    ActionExecutor, GetActionExecutor, Lighthouse, REMEDIATION_URI, SLO_URI, SliProviderExecutor,
};
use keptn_control::report::{RecordedAction, RemediationOutcome, RemediationStatus};
use keptn_control::{ControlPlane, ResourceScope};
use keptn_remediate::{ActionContext, ActionOutcome, ActionRegistry, RemediationAction};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::SliValue;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Verdict};
use serde_json::json;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
";

const REMEDIATION: &str = "apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts-remediation}
spec:
  remediations:
    - problemType: Failure rate increase
      actionsOnOpen:
        - name: Toggle feature flag
          action: toggle-feature
          value: {EnablePromotion: 'off'}
";

const SLO: &str = "objectives:
  - sli: error_rate
    pass:
      - criteria: ['<5']
total_score: {pass: '90%', warning: '75%'}
";

/// Turns the flag off; the error rate is low from then on.
#[derive(Debug, Clone)]
struct Toggle;

#[async_trait]
impl RemediationAction for Toggle {
    fn name(&self) -> &str {
        "toggle-feature"
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        let value = ctx.value().map(ToString::to_string).unwrap_or_default();
        ActionOutcome::succeeded(format!("toggled {value}"), Vec::new())
    }
}

#[derive(Debug)]
struct LowErrorRate;

#[async_trait]
impl SliProvider for LowErrorRate {
    fn name(&self) -> &str {
        "low"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        Ok(query
            .indicators
            .iter()
            .map(|i| SliValue::ok(i.clone(), 1.0))
            .collect())
    }
}

fn problem_open() -> KeptnEvent {
    let data = json!({"State": "OPEN", "PID": "PID-42", "ProblemTitle": "Failure rate increase",
                      "project": "sockshop", "stage": "production", "service": "carts"});
    let mut event = KeptnEvent::new(
        EventType::ProblemOpen,
        "monitor",
        KeptnContext::new_random(),
        &data,
    );
    event.shkeptncontext = None; // the context comes from the PID
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_remediation_of_a_problem() {
    let toggle = RecordedAction::new(Toggle);
    let plane = ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SHIPYARD)
        .executor(GetActionExecutor::new())
        .executor(ActionExecutor::new(
            ActionRegistry::new().with(toggle.clone()),
        ))
        .executor(Lighthouse::new("low"))
        .executor(SliProviderExecutor::new(Arc::new(LowErrorRate)))
        .build()
        .await
        .unwrap();
    let production =
        ResourceScope::stage("sockshop".parse().unwrap(), "production".parse().unwrap());
    plane
        .put_resource(&production, REMEDIATION_URI, REMEDIATION)
        .await
        .unwrap();
    let carts = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    plane.put_resource(&carts, SLO_URI, SLO).await.unwrap();

    // nothing ran for an unknown problem
    let none = RemediationOutcome::read(&plane, "PID-0", &toggle, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(none.sequences.is_empty() && none.actions.is_empty());
    assert_eq!(none.status(true), RemediationStatus::Unfinished);
    assert_eq!(none.context(), None);

    plane.send(problem_open()).await.unwrap();
    let outcome = RemediationOutcome::read(&plane, "PID-42", &toggle, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        outcome.context(),
        Some(KeptnContext::from_ingress("PID-42"))
    );
    assert_eq!(outcome.sequences.len(), 1, "{:?}", outcome.sequences);
    assert_eq!(outcome.sequences[0].result, Verdict::Pass);
    assert_eq!(outcome.actions.len(), 1);
    assert_eq!(outcome.actions[0].step.action, "toggle-feature");
    assert_eq!(
        outcome.actions[0].outcome.message,
        "toggled {EnablePromotion: off}"
    );
    // resolved only once the problem closed
    assert_eq!(outcome.status(true), RemediationStatus::Resolved);
    assert_eq!(outcome.status(true).to_string(), "resolved");
    let open = outcome.status(false);
    assert!(
        matches!(
            &open,
            RemediationStatus::Ended {
                result: Verdict::Pass,
                ..
            }
        ),
        "{open:?}"
    );
    assert!(open.to_string().starts_with("pass ("), "{open}");
}

/// The status reads as the tour's summary always showed it.
#[test]
fn statuses_read_as_text() {
    let ended = RemediationStatus::Ended {
        result: Verdict::Fail,
        message: "the evaluation failed".to_owned(),
    };
    assert_eq!(ended.to_string(), "fail (the evaluation failed)");
    assert_eq!(RemediationStatus::Unfinished.to_string(), "unfinished");
}
