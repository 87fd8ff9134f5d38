//! Remediation as a shipyard sequence: a problem opens → get-action → action → evaluation;
//! the loop moves to the next action while the evaluation fails; a closed problem finishes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keptn_control::executors::{
    ActionExecutor, GetActionExecutor, Lighthouse, REMEDIATION_URI, SLO_URI, SliProviderExecutor,
};
use keptn_control::{ControlPlane, REMEDIATION_SEQUENCE, ResourceScope, SequenceState};
use keptn_remediate::{ActionContext, ActionOutcome, ActionRegistry, RemediationAction};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::SliValue;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Status, Task, Verdict};
use serde_json::json;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          triggeredOn:
            - event: production.remediation.finished
              selector:
                match: {evaluation.result: fail}
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
              triggeredAfter: 50ms
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
        - name: Toggle cache
          action: toggle-feature
          value: {EnableItemCache: 'on'}
";

const SLO: &str = "objectives:
  - sli: error_rate
    pass:
      - criteria: ['<5']
total_score: {pass: '90%', warning: '75%'}
";

/// Records toggles; the error rate drops once `EnableItemCache` is on.
#[derive(Debug, Clone, Default)]
struct Flags(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl RemediationAction for Flags {
    fn name(&self) -> &str {
        "toggle-feature"
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        let value = ctx.value().map(ToString::to_string).unwrap_or_default();
        self.0.lock().unwrap().push(value.clone());
        ActionOutcome::succeeded(format!("toggled {value}"), Vec::new())
    }
}

#[async_trait]
impl SliProvider for Flags {
    fn name(&self) -> &str {
        "flags"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        let cached = self
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|v| v.contains("EnableItemCache"));
        let rate = if cached { 1.0 } else { 30.0 };
        Ok(query
            .indicators
            .iter()
            .map(|i| SliValue::ok(i.clone(), rate))
            .collect())
    }
}

async fn plane(flags: &Flags) -> ControlPlane {
    let plane = ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SHIPYARD)
        .executor(GetActionExecutor::new())
        .executor(ActionExecutor::new(
            ActionRegistry::new().with(flags.clone()),
        ))
        .executor(Lighthouse::new("flags"))
        .executor(SliProviderExecutor::new(Arc::new(flags.clone())))
        .build()
        .await
        .unwrap();
    let stage = ResourceScope::stage("sockshop".parse().unwrap(), "production".parse().unwrap());
    plane
        .put_resource(&stage, REMEDIATION_URI, REMEDIATION)
        .await
        .unwrap();
    let service = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    plane.put_resource(&service, SLO_URI, SLO).await.unwrap();
    plane
}

fn problem(state: &str) -> KeptnEvent {
    let ty = if state == "OPEN" {
        EventType::ProblemOpen
    } else {
        EventType::Problem
    };
    let data = json!({"State": state, "PID": "PID-4711", "ProblemTitle": "Failure rate increase",
                      "project": "sockshop", "stage": "production", "service": "carts"});
    let mut event = KeptnEvent::new(ty, "dynatrace", KeptnContext::new_random(), &data);
    event.shkeptncontext = None; // the context comes from the PID
    event
}

/// The first action does not help (evaluation fails), so the sequence runs again with the next
/// action, which does; the loop then stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_runs_the_remediation_sequence_until_the_evaluation_passes() {
    let flags = Flags::default();
    let plane = plane(&flags).await;
    let ctx = plane.send(problem("OPEN")).await.unwrap();
    assert_eq!(ctx, KeptnContext::from_ingress("PID-4711"));
    let out = plane
        .wait_until(ctx, Duration::from_secs(20), |o| {
            o.len() == 2 && o.iter().all(|s| s.state.is_done())
        })
        .await
        .unwrap();
    assert_eq!(out[0].sequence, REMEDIATION_SEQUENCE);
    assert_eq!(out[0].task("evaluation").unwrap().result, Verdict::Fail);
    assert_eq!(out[1].task("evaluation").unwrap().result, Verdict::Pass);
    assert_eq!(out[1].result, Verdict::Pass);
    assert_eq!(
        *flags.0.lock().unwrap(),
        ["{EnablePromotion: off}", "{EnableItemCache: on}"]
    );
    // the action index travelled: the second get-action answered index 2
    let finished = plane
        .store()
        .events(
            &keptn_control::store::EventQuery::context(ctx)
                .of_type(EventType::task(Task::GetAction, Phase::Finished)),
        )
        .await
        .unwrap();
    let indexes: Vec<_> = finished
        .iter()
        .map(|e| e.data["actionIndex"].clone())
        .collect();
    assert_eq!(indexes, [json!(1), json!(2)]);
}

/// A problem closed while its remediation waits finishes the sequence with pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_problem_finishes_its_remediation() {
    let flags = Flags::default();
    let plane = plane(&flags).await;
    let ctx = plane.send(problem("OPEN")).await.unwrap();
    plane
        .wait_until(ctx, Duration::from_secs(20), |o| {
            o.first().is_some_and(|s| s.task("action").is_some())
        })
        .await
        .unwrap();
    plane.send(problem("RESOLVED")).await.unwrap();
    let out = plane.wait(ctx, Duration::from_secs(20)).await.unwrap();
    assert_eq!(
        (out[0].status, out[0].result),
        (Status::Succeeded, Verdict::Pass)
    );
    assert_eq!(out[0].message, "the problem was closed");
    assert_eq!(out.len(), 1, "no further loop");
    assert_eq!(out[0].state, SequenceState::Finished);
}

/// A problem emitted into an `EventIngress` (a synchronous sink, as a monitor holds one)
/// reaches the control plane with the context of its PID and runs the remediation sequence;
/// the closing event emitted the same way finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_emitted_into_an_ingress_are_remediated() {
    use keptn_spec::event::EventSink;
    let flags = Flags::default();
    let plane = plane(&flags).await;
    let ingress = keptn_control::EventIngress::new(&plane);
    ingress.emit(&problem("OPEN"));
    let ctx = KeptnContext::from_ingress("PID-4711");
    plane
        .wait_until(ctx, Duration::from_secs(20), |o| {
            o.first().is_some_and(|s| s.task("action").is_some())
        })
        .await
        .unwrap();
    assert_eq!(flags.0.lock().unwrap()[0], "{EnablePromotion: off}");
    ingress.emit(&problem("RESOLVED"));
    let out = plane.wait(ctx, Duration::from_secs(20)).await.unwrap();
    assert!(
        out.iter()
            .all(|s| s.sequence == REMEDIATION_SEQUENCE && s.state.is_done())
    );
    let last = out.last().unwrap();
    assert_eq!(
        (last.status, last.result, last.message.as_str()),
        (Status::Succeeded, Verdict::Pass, "the problem was closed")
    );
    let logged = plane
        .store()
        .events(&keptn_control::store::EventQuery::context(ctx).of_type(EventType::ProblemOpen))
        .await
        .unwrap();
    assert_eq!(
        logged.len(),
        1,
        "the problem.open event is in the event log once"
    );
}
