//! The delivery sequence's rules (§1.3 of the behaviour spec) one by one, with in-memory fakes:
//! the 0.2 shipyard example, selectors, warning promotion, approvals, abort, queueing,
//! `triggeredAfter`, custom tasks and failures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use keptn_deploy::delivery::{
    AbortHandle, ApprovalRequest, Delivery, DeliveryReport, DeliveryTrigger, EvaluationOutcome,
    EvaluationRequest, Evaluator, FnApprover, TaskHandler, TaskOutcome,
};
use keptn_deploy::testing::{InMemoryDeployer, StaticTestRunner};
use keptn_deploy::{
    Artifact, Progress, StageService, TestOutcome, TestReport, TestRequest, TestRunner,
};
use keptn_spec::event::{KeptnEvent, MemoryEventSink, Phase, Status, Verdict};
use keptn_spec::shipyard::Shipyard;
use serde_json::{Value, json};

/// The 0.2 shipyard of the behaviour spec (§1.2), with full task lists.
const SHIPYARD_V02: &str = r#"
apiVersion: "spec.keptn.sh/0.2.0"
kind: "Shipyard"
metadata:
  name: "shipyard-sockshop"
spec:
  stages:
    - name: "dev"
      sequences:
        - name: "delivery"
          tasks:
            - name: "deployment"
              properties:
                deploymentstrategy: "direct"
            - name: "test"
              properties:
                teststrategy: "functional"
            - name: "evaluation"
            - name: "release"
    - name: "staging"
      sequences:
        - name: "delivery"
          triggeredOn:
            - event: "dev.delivery.finished"
          tasks:
            - name: "deployment"
              properties:
                deploymentstrategy: "blue_green_service"
            - name: "test"
              properties:
                teststrategy: "performance"
            - name: "evaluation"
            - name: "release"
        - name: "rollback"
          triggeredOn:
            - event: "staging.delivery.finished"
              selector:
                match:
                  result: "fail"
          tasks:
            - name: "rollback"
    - name: "production"
      sequences:
        - name: "delivery"
          triggeredOn:
            - event: "staging.delivery.finished"
          tasks:
            - name: "deployment"
              properties:
                deploymentstrategy: "blue_green_service"
            - name: "approval"
              properties:
                pass: "manual"
                warning: "manual"
            - name: "release"
"#;

fn shipyard(src: &str) -> Shipyard {
    Shipyard::from_yaml_str(src).unwrap()
}

/// An evaluator whose verdict is set per stage (default pass).
#[derive(Debug, Default)]
struct VerdictPerStage(BTreeMap<String, Verdict>);

#[async_trait]
impl Evaluator for VerdictPerStage {
    async fn evaluate(&self, r: &EvaluationRequest) -> keptn_deploy::Result<EvaluationOutcome> {
        let v = self
            .0
            .get(r.target.stage.as_str())
            .copied()
            .unwrap_or(Verdict::Pass);
        Ok(
            EvaluationOutcome::new(Status::Succeeded, v, format!("{v} by test"))
                .with_details(json!({"result": v})),
        )
    }
}

fn evaluator(pairs: &[(&str, Verdict)]) -> Arc<VerdictPerStage> {
    Arc::new(VerdictPerStage(
        pairs.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect(),
    ))
}

fn carts(stage: &str) -> StageService {
    StageService::new(
        "sockshop".parse().unwrap(),
        stage.parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

fn trigger(tag: &str) -> DeliveryTrigger {
    DeliveryTrigger::new(
        "sockshop".parse().unwrap(),
        "carts".parse().unwrap(),
        Artifact::new(format!("docker.io/keptnexamples/carts:{tag}")).unwrap(),
    )
}

fn ran(report: &DeliveryReport) -> Vec<String> {
    report
        .sequences
        .iter()
        .map(|s| format!("{}.{}", s.stage, s.sequence))
        .collect()
}

fn setup(src: &str) -> (Delivery, InMemoryDeployer, MemoryEventSink) {
    let deployer = InMemoryDeployer::new();
    let events = MemoryEventSink::new();
    let d = Delivery::new(
        shipyard(src),
        Arc::new(deployer.clone()),
        Arc::new(events.clone()),
    )
    .with_test_runner(Arc::new(StaticTestRunner::new(TestOutcome::Pass)));
    (d, deployer, events)
}

fn approve_all(yes: bool) -> Arc<FnApprover> {
    Arc::new(FnApprover::new(move |_: &ApprovalRequest| yes))
}

#[track_caller]
fn assert_every_triggered_task_finished(events: &[KeptnEvent]) {
    for t in events.iter().filter(|e| e.ty.is_triggered()) {
        let finished = events
            .iter()
            .filter(|e| {
                e.triggeredid.as_ref() == Some(&t.id) && e.ty.phase() == Some(Phase::Finished)
            })
            .count();
        assert_eq!(finished, 1, "{} was not finished exactly once", t.ty);
    }
}

/// The 0.2 example: dev → staging → production, production waits for a manual approval.
#[tokio::test]
async fn v02_shipyard_with_manual_approval_in_production() {
    let (d, deployer, events) = setup(SHIPYARD_V02);
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let d = d.with_approver(Arc::new(FnApprover::new(move |r: &ApprovalRequest| {
        seen.fetch_add(1, Ordering::SeqCst);
        assert_eq!(r.target.stage.as_str(), "production");
        assert_eq!(
            r.image.as_deref(),
            Some("docker.io/keptnexamples/carts:1.0.0")
        );
        true
    })));
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "production.delivery"]
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(
        report
            .sequence("production", "delivery")
            .unwrap()
            .task("approval")
            .unwrap()
            .message,
        "approved manually"
    );
    assert_eq!(
        deployer.serving_image(&carts("production")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
    assert_every_triggered_task_finished(&events.events());
}

/// A rejected approval fails the sequence: the release does not run and the canary waits.
#[tokio::test]
async fn rejected_approval_stops_before_release() {
    let (d, deployer, _) = setup(SHIPYARD_V02);
    let d = d.with_approver(approve_all(false));
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    let prod = report.sequence("production", "delivery").unwrap();
    assert_eq!(
        (prod.status, prod.result),
        (Status::Succeeded, Verdict::Fail)
    );
    assert!(prod.task("release").is_none());
    assert_eq!(
        deployer.canary_image(&carts("production")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
}

/// Manual approval without an approver is reported as errored instead of waiting forever.
#[tokio::test]
async fn manual_approval_without_approver_is_errored() {
    let (d, _, _) = setup(SHIPYARD_V02);
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    let prod = report.sequence("production", "delivery").unwrap();
    assert_eq!(prod.status, Status::Errored);
    assert_eq!(
        prod.message,
        "manual approval required, but no approver is configured"
    );
}

/// A failed staging evaluation triggers the `result: fail` rollback sequence and nothing else.
#[tokio::test]
async fn failed_gate_triggers_rollback_selector_only() {
    let (d, deployer, _) = setup(SHIPYARD_V02);
    let d = d
        .with_evaluator(evaluator(&[("staging", Verdict::Fail)]))
        .with_approver(approve_all(true));
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "staging.rollback"]
    );
    assert_eq!(deployer.canary_image(&carts("staging")), None);
    assert_eq!(deployer.serving_image(&carts("production")), None);
}

/// Without a selector a `warning` promotes (Keptn's implementation, not its spec text).
#[tokio::test]
async fn warning_promotes_to_the_next_stage() {
    let (d, _, _) = setup(SHIPYARD_V02);
    let d = d
        .with_evaluator(evaluator(&[("dev", Verdict::Warning)]))
        .with_approver(approve_all(true));
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    let dev = report.sequence("dev", "delivery").unwrap();
    assert_eq!(dev.task("evaluation").unwrap().result, Verdict::Warning);
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "production.delivery"]
    );

    // a sequence that ends on the warning itself also triggers its follower
    let src = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: qa
      sequences:
        - name: gate
          tasks:
            - name: evaluation
    - name: production
      sequences:
        - name: gate
          triggeredOn:
            - event: qa.gate.finished
          tasks: []
"#;
    let (d, _, _) = setup(src);
    let d = d.with_evaluator(evaluator(&[("qa", Verdict::Warning)]));
    let report = d.deliver(trigger("1.0.0").sequence("gate")).await.unwrap();
    assert_eq!(report.sequences[0].result, Verdict::Warning);
    assert_eq!(ran(&report), ["qa.gate", "production.gate"]);
}

/// `<task>.result` selectors match on the last task; `failed` (spec text) never matches `fail`.
#[tokio::test]
async fn task_result_selectors() {
    let src = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: qa
      sequences:
        - name: gate
          tasks:
            - name: evaluation
        - name: notify-eval
          triggeredOn:
            - event: qa.gate.finished
              selector:
                match:
                  evaluation.result: fail
          tasks: []
        - name: notify-release
          triggeredOn:
            - event: qa.gate.finished
              selector:
                match:
                  release.result: fail
          tasks: []
        - name: notify-failed
          triggeredOn:
            - event: qa.gate.finished
              selector:
                match:
                  result: failed
          tasks: []
"#;
    let (d, _, _) = setup(src);
    let d = d.with_evaluator(evaluator(&[("qa", Verdict::Fail)]));
    let report = d.deliver(trigger("1.0.0").sequence("gate")).await.unwrap();
    assert_eq!(ran(&report), ["qa.gate", "qa.notify-eval"]);
    let empty = report.sequence("qa", "notify-eval").unwrap();
    assert_eq!(
        (empty.status, empty.result),
        (Status::Succeeded, Verdict::Pass),
        "an empty sequence passes"
    );
}

/// Custom tasks run through their handler with the merged payload; an unhandled one errors.
#[tokio::test]
async fn custom_tasks_and_unhandled_tasks() {
    #[derive(Debug)]
    struct Notify(Arc<std::sync::Mutex<Vec<Value>>>);
    #[async_trait]
    impl TaskHandler for Notify {
        async fn run(&self, _t: &StageService, data: &Value) -> keptn_deploy::Result<TaskOutcome> {
            self.0.lock().unwrap().push(data.clone());
            Ok(TaskOutcome::pass(json!({"sent": true})))
        }
    }
    let src = r##"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties: {deploymentstrategy: direct}
            - name: notify
              properties: {channel: "#deployments"}
            - name: page-someone
            - name: release
"##;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (d, _, events) = setup(src);
    let d = d.with_task_handler("notify", Arc::new(Notify(seen.clone())));
    let report = d.deliver(trigger("1.0.0")).await.unwrap();
    let seq = &report.sequences[0];
    assert_eq!(seq.status, Status::Errored);
    assert!(
        seq.message
            .contains("no handler is registered for task `page-someone`"),
        "{}",
        seq.message
    );
    assert!(seq.task("release").is_none());
    let payload = seen.lock().unwrap()[0].clone();
    assert_eq!(payload["notify"]["channel"], "#deployments");
    assert_eq!(payload["deployment"]["deploymentNames"][0], "direct");
    assert_eq!(payload["deployment"]["deploymentstrategy"], "direct");
    assert_every_triggered_task_finished(&events.events());
}

/// A failed rollout is `errored`, stops the sequence, triggers the rollback sequence and leaves
/// the serving version untouched.
#[tokio::test]
async fn failed_deployment_keeps_the_serving_version() {
    let (d, deployer, events) = setup(SHIPYARD_V02);
    let d = d.with_approver(approve_all(true));
    d.deliver(trigger("1.0.0")).await.unwrap();
    deployer.fail_rollout_of("docker.io/keptnexamples/carts:2.0.0");
    let report = d.deliver(trigger("2.0.0")).await.unwrap();
    assert_eq!(ran(&report), ["dev.delivery"]);
    let dev = &report.sequences[0];
    assert_eq!(dev.status, Status::Errored);
    assert!(
        dev.message
            .contains("rolled back; the serving version is untouched"),
        "{}",
        dev.message
    );
    assert_eq!(
        deployer.serving_image(&carts("dev")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
    assert_every_triggered_task_finished(&events.in_context(&report.context));
}

/// A test runner that takes `delay`, counting runs in progress and the most concurrent runs
/// within one stage.
#[derive(Debug, Default)]
struct SlowTests {
    running: AtomicUsize,
    per_stage: std::sync::Mutex<BTreeMap<String, usize>>,
    max_in_one_stage: AtomicUsize,
    delay: Duration,
}

#[async_trait]
impl TestRunner for SlowTests {
    fn name(&self) -> &str {
        "slow"
    }
    async fn run(&self, r: &TestRequest, _p: &Progress) -> keptn_deploy::Result<TestReport> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let stage = r.target.stage.to_string();
        {
            let mut m = self.per_stage.lock().unwrap();
            let n = m.entry(stage.clone()).or_default();
            *n += 1;
            self.max_in_one_stage.fetch_max(*n, Ordering::SeqCst);
        }
        tokio::time::sleep(self.delay).await;
        *self.per_stage.lock().unwrap().get_mut(&stage).unwrap() -= 1;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(TestReport::skipped(
            r.strategy.clone(),
            chrono::Utc::now(),
            "slow pass",
        ))
    }
}

/// Aborting during the staging tests finishes the sequence `aborted`, discards the canary,
/// keeps the serving version and starts nothing else; every started task finished.
#[tokio::test]
async fn abort_keeps_the_serving_version() {
    let (d, deployer, events) = setup(SHIPYARD_V02);
    let d = d.with_approver(approve_all(true));
    d.deliver(trigger("1.0.0")).await.unwrap();
    let slow = Arc::new(SlowTests {
        delay: Duration::from_secs(3600),
        ..SlowTests::default()
    });
    let d = d.with_test_runner(slow.clone());
    let abort = AbortHandle::new();
    let run = {
        let (d, abort) = (d.clone(), abort.clone());
        tokio::spawn(async move { d.deliver_with_abort(trigger("2.0.0"), &abort).await })
    };
    // wait until the dev tests run, then abort
    tokio::time::timeout(Duration::from_secs(10), async {
        while slow.running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    abort.abort();
    let report = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(report.aborted());
    assert_eq!(ran(&report), ["dev.delivery"]);
    let dev = &report.sequences[0];
    assert_eq!(dev.status, Status::Aborted);
    assert_eq!(dev.task("test").unwrap().status, Status::Aborted);
    assert_every_triggered_task_finished(&events.in_context(&report.context));
    let finished = events
        .in_context(&report.context)
        .into_iter()
        .find(|e| e.ty.to_string() == "sh.keptn.event.dev.delivery.finished")
        .unwrap();
    assert_eq!(finished.data["status"], "aborted");
    assert_eq!(
        deployer.serving_image(&carts("staging")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
    assert_eq!(
        deployer.serving_image(&carts("production")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
}

/// Aborting a blue/green stage after its deployment rolls the canary back.
#[tokio::test]
async fn abort_after_a_blue_green_deployment_discards_the_canary() {
    let (d, deployer, _) = setup(SHIPYARD_V02);
    let d = d.with_approver(approve_all(true));
    d.deliver(trigger("1.0.0")).await.unwrap();
    let slow = Arc::new(SlowTests {
        delay: Duration::from_secs(3600),
        ..SlowTests::default()
    });
    let d = d.with_test_runner(slow.clone());
    let abort = AbortHandle::new();
    let run = {
        let (d, abort) = (d.clone(), abort.clone());
        tokio::spawn(async move {
            d.deliver_with_abort(trigger("2.0.0").stage("staging".parse().unwrap()), &abort)
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while slow.running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        deployer.canary_image(&carts("staging")).as_deref(),
        Some("docker.io/keptnexamples/carts:2.0.0")
    );
    abort.abort();
    let report = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ran(&report), ["staging.delivery"]);
    assert!(
        report.sequences[0]
            .message
            .contains("the pending canary was rolled back"),
        "{}",
        report.sequences[0].message
    );
    assert_eq!(deployer.canary_image(&carts("staging")), None);
    assert_eq!(
        deployer.serving_image(&carts("staging")).as_deref(),
        Some("docker.io/keptnexamples/carts:1.0.0")
    );
}

/// Two deliveries of one service at once: sequences of the same stage never overlap.
#[tokio::test]
async fn sequences_of_one_service_and_stage_are_queued() {
    let (d, _, _) = setup(SHIPYARD_V02);
    let slow = Arc::new(SlowTests {
        delay: Duration::from_millis(40),
        ..SlowTests::default()
    });
    let d = d
        .with_test_runner(slow.clone())
        .with_approver(approve_all(true));
    let (a, b) = tokio::join!(d.deliver(trigger("1.0.0")), d.deliver(trigger("1.0.1")));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.context, b.context, "one context per delivery");
    assert_eq!(ran(&a).len(), 3);
    assert_eq!(ran(&b).len(), 3);
    assert_eq!(
        slow.max_in_one_stage.load(Ordering::SeqCst),
        1,
        "tests of one stage never ran at once"
    );
}

/// `triggeredAfter` delays the task by its duration (virtual time).
#[tokio::test(start_paused = true)]
async fn triggered_after_delays_the_task() {
    let src = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: production
      sequences:
        - name: check
          tasks:
            - name: evaluation
              triggeredAfter: "10m"
"#;
    let (d, _, _) = setup(src);
    let started = tokio::time::Instant::now();
    let report = d.deliver(trigger("1.0.0").sequence("check")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.sequences[0].result, Verdict::Pass);
    assert_eq!(
        report.sequences[0].task("evaluation").unwrap().message,
        "no evaluation configured; the evaluation passes"
    );
}

/// Starting in a stage or sequence that does not exist is an error naming it.
#[tokio::test]
async fn unknown_start_is_an_error() {
    let (d, _, events) = setup(SHIPYARD_V02);
    let err = d
        .deliver(trigger("1.0.0").stage("qa".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "delivery: the shipyard has no stage `qa`");
    let err = d
        .deliver(trigger("1.0.0").sequence("canary"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "delivery: stage `dev` has no sequence `canary`"
    );
    assert!(events.is_empty());
}
