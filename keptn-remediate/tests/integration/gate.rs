//! Verification by re-evaluating the stage's SLO through a `keptn_slo::QualityGate`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keptn_remediate::{
    ActionRegistry, Problem, QualityGateVerifier, RemediationAction, RemediationStatus, Remediator,
};
use keptn_slo::{InMemoryHistory, ProviderError, QualityGate, SliProvider, SliQuery};
use keptn_spec::{SliValue, Slo};

const SLO: &str = r#"---
spec_version: "0.1.1"
comparison:
  aggregate_function: "avg"
  compare_with: "single_result"
  include_result_with_score: "pass"
  number_of_comparison_results: 1
filter:
objectives:
  - sli: "error_rate"
    pass:
      - criteria:
          - "<5"
total_score:
  pass: "90%"
  warning: "75%"
"#;

/// Answers the next scripted error rate (or a provider failure), recording each query.
#[derive(Debug, Default)]
struct ScriptedProvider {
    answers: Mutex<Vec<Option<f64>>>,
    queries: Mutex<Vec<SliQuery>>,
}

#[async_trait]
impl SliProvider for ScriptedProvider {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        self.queries.lock().unwrap().push(query.clone());
        match self.answers.lock().unwrap().remove(0) {
            Some(v) => Ok(vec![SliValue::ok("error_rate", v)]),
            None => Err(ProviderError::new("scripted", "backend unreachable", true)),
        }
    }
}

/// A no-op action so the workflow has something to verify after.
#[derive(Debug)]
struct Noop;

#[async_trait]
impl RemediationAction for Noop {
    fn name(&self) -> &str {
        "noop"
    }
    async fn execute(
        &self,
        _ctx: &keptn_remediate::ActionContext,
    ) -> keptn_remediate::ActionOutcome {
        keptn_remediate::ActionOutcome::succeeded("nothing", Vec::new())
    }
}

fn remediator(answers: Vec<Option<f64>>) -> (Remediator, Arc<ScriptedProvider>) {
    let provider = Arc::new(ScriptedProvider {
        answers: Mutex::new(answers),
        ..ScriptedProvider::default()
    });
    let gate = QualityGate::new(provider.clone(), Arc::new(InMemoryHistory::new()));
    let slo = Slo::from_yaml_str(SLO).unwrap();
    let remediator = Remediator::builder(ActionRegistry::new().with(Noop))
        .verifier(QualityGateVerifier::new(gate, slo))
        .wait(Duration::from_secs(600))
        .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            "remediations:\n- name: Failure rate\n  actions:\n  - action: noop\n  - action: noop\n  - action: noop\n",
            None,
        )
        .unwrap();
    (remediator, provider)
}

fn problem(pid: &str) -> Problem {
    Problem::new(
        pid,
        "Failure rate increase",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap())
}

/// The gate fails after the first action and passes after the second: resolved after two
/// actions; the evaluation window is the wait after each action.
#[tokio::test(start_paused = true)]
async fn passing_gate_resolves_the_problem() {
    let (remediator, provider) = remediator(vec![Some(12.0), Some(1.0)]);
    let report = remediator.on_problem_open(problem("G1")).await;
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    assert_eq!(report.steps.len(), 2);
    let first = report.steps[0].verification.as_ref().unwrap();
    assert!(!first.resolved);
    assert!(
        first.reason.starts_with("quality gate fail"),
        "{}",
        first.reason
    );
    let second = report.steps[1].verification.as_ref().unwrap();
    assert_eq!(second.verifier, "quality-gate");
    assert!(
        second.reason.starts_with("quality gate pass"),
        "{}",
        second.reason
    );
    let queries = provider.queries.lock().unwrap();
    assert_eq!(queries[0].indicators, ["error_rate"]);
    assert_eq!(queries[0].service.as_str(), "carts");
    assert_eq!((queries[0].end - queries[0].start).num_seconds(), 600);
}

/// A gate that cannot get data never resolves the problem: the workflow escalates.
#[tokio::test(start_paused = true)]
async fn gate_without_data_never_resolves() {
    let (remediator, _) = remediator(vec![None, None, None]);
    let report = remediator.on_problem_open(problem("G2")).await;
    assert_eq!(report.status, RemediationStatus::Escalated, "{report:#?}");
    for step in &report.steps {
        let v = step.verification.as_ref().unwrap();
        assert!(!v.resolved);
        assert!(v.reason.contains("could not evaluate"), "{}", v.reason);
    }
}
