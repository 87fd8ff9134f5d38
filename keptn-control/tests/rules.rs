//! The 0.2 shipyard rules: queueing, triggeredOn, approval, abort/pause/resume, several
//! executors per task, a task nobody starts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keptn_control::executors::APPROVAL_SOURCE;
use keptn_control::{
    ControlPlane, ExecutorContext, SequenceControl, SequenceOutcome, SequenceState, TaskExecutor,
};
use keptn_spec::ProjectName;
use keptn_spec::event::{
    EventData, EventType, KeptnContext, KeptnEvent, Payload, Phase, Status, Task, Verdict,
};
use serde_json::json;
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(20);

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: rules}
spec:
  stages:
    - name: dev
      sequences:
        - name: work
          tasks:
            - name: step
            - name: check
        - name: gated
          tasks:
            - name: step
            - name: approval
              properties: {pass: manual, warning: manual}
            - name: check
        - name: lonely
          tasks:
            - name: mystery
    - name: prod
      sequences:
        - name: work
          triggeredOn:
            - event: dev.work.finished
          tasks:
            - name: check
        - name: cleanup
          triggeredOn:
            - event: dev.work.finished
              selector:
                match: {result: fail}
          tasks:
            - name: check
";

/// An executor of a custom task that answers with a fixed result, optionally only after a
/// permit (so a test can hold it), recording what it saw.
#[derive(Debug, Clone)]
struct Scripted {
    task: &'static str,
    source: &'static str,
    result: Verdict,
    gate: Option<Arc<Semaphore>>,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scripted {
    fn new(task: &'static str, source: &'static str, result: Verdict) -> Self {
        Self {
            task,
            source,
            result,
            gate: None,
            seen: Arc::default(),
        }
    }

    fn held(mut self, gate: Arc<Semaphore>) -> Self {
        self.gate = Some(gate);
        self
    }
}

#[async_trait]
impl TaskExecutor for Scripted {
    fn task(&self) -> Task {
        Task::Custom(self.task.to_owned())
    }

    fn source(&self) -> &str {
        self.source
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let common = triggered.common().unwrap();
        self.seen
            .lock()
            .unwrap()
            .push(format!("{}", common.stage.unwrap()));
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        let mut data = EventData::default();
        data.status = Some(Status::Succeeded);
        data.result = Some(self.result);
        data.message = Some(format!("{} says {}", self.source, self.result));
        Payload::Common(data)
    }
}

fn project() -> ProjectName {
    "rules".parse().unwrap()
}

async fn trigger(plane: &ControlPlane, sequence: &str, service: &str) -> KeptnContext {
    let ty = EventType::sequence("dev".parse().unwrap(), sequence, Phase::Triggered).unwrap();
    let data = json!({"project": "rules", "stage": "dev", "service": service});
    plane
        .send(KeptnEvent::new(
            ty,
            "test",
            KeptnContext::new_random(),
            &data,
        ))
        .await
        .unwrap()
}

fn seq<'a>(o: &'a [SequenceOutcome], stage: &str, name: &str) -> Option<&'a SequenceOutcome> {
    o.iter()
        .find(|s| s.stage.as_str() == stage && s.sequence == name)
}

/// Two sequences of one service in one stage run one after the other; another service is not
/// held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_of_one_service_and_stage_are_queued() {
    let gate = Arc::new(Semaphore::new(0));
    let step = Scripted::new("step", "stepper", Verdict::Pass).held(gate.clone());
    let plane = ControlPlane::builder()
        .project(project(), SHIPYARD)
        .executor(step.clone())
        .executor(Scripted::new("check", "checker", Verdict::Pass))
        .build()
        .await
        .unwrap();
    let first = trigger(&plane, "work", "carts").await;
    plane
        .wait_until(first, WAIT, |o| {
            seq(o, "dev", "work").is_some_and(|s| s.state == SequenceState::Started)
        })
        .await
        .unwrap();
    let second = trigger(&plane, "work", "carts").await;
    let other = trigger(&plane, "work", "orders").await;
    let queued = plane
        .wait_until(second, WAIT, |o| seq(o, "dev", "work").is_some())
        .await
        .unwrap();
    assert_eq!(
        queued[0].state,
        SequenceState::Waiting,
        "second waits behind the first"
    );
    // the other service starts its step at once: two steps are held now
    tokio::time::timeout(WAIT, async {
        while step.seen.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    gate.add_permits(3);
    for ctx in [first, second, other] {
        let out = plane.wait(ctx, WAIT).await.unwrap();
        assert_eq!(seq(&out, "dev", "work").unwrap().result, Verdict::Pass);
        assert_eq!(
            seq(&out, "prod", "work").unwrap().result,
            Verdict::Pass,
            "triggeredOn without selector fires on pass"
        );
        assert!(
            seq(&out, "prod", "cleanup").is_none(),
            "the `result: fail` selector does not fire on pass"
        );
    }
    assert_eq!(step.seen.lock().unwrap().len(), 3);
}

/// Several executors of one task: the task waits for all of them and the worst result wins;
/// a failed sequence starts the sequences whose selector matches `fail`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_executors_worst_result_wins() {
    let gate = Arc::new(Semaphore::new(0));
    let slow = Scripted::new("check", "slow-checker", Verdict::Fail).held(gate.clone());
    let plane = ControlPlane::builder()
        .project(project(), SHIPYARD)
        .executor(Scripted::new("step", "stepper", Verdict::Pass))
        .executor(Scripted::new("check", "fast-checker", Verdict::Pass))
        .executor(slow.clone())
        .build()
        .await
        .unwrap();
    let ctx = trigger(&plane, "work", "carts").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = plane.outcomes(ctx).await.unwrap();
    assert_eq!(
        seq(&out, "dev", "work").unwrap().state,
        SequenceState::Started,
        "waits for the slow executor"
    );
    gate.add_permits(10);
    let out = plane.wait(ctx, WAIT).await.unwrap();
    let work = seq(&out, "dev", "work").unwrap();
    assert_eq!(work.result, Verdict::Fail);
    let check = work.task("check").unwrap();
    assert_eq!(check.executors.len(), 2, "{check:#?}");
    assert_eq!(check.message, "slow-checker says fail");
    assert!(
        seq(&out, "prod", "work").is_none(),
        "no promotion after fail"
    );
    assert_eq!(
        seq(&out, "prod", "cleanup").unwrap().result,
        Verdict::Fail,
        "selector `result: fail` fired"
    );
}

/// A manual approval waits for a person (and a rejection fails the sequence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_approval_waits_for_a_decision() {
    let plane = ControlPlane::builder()
        .project(project(), SHIPYARD)
        .executor(Scripted::new("step", "stepper", Verdict::Pass))
        .executor(Scripted::new("check", "checker", Verdict::Pass))
        .build()
        .await
        .unwrap();
    for (decision, expected) in [
        (Verdict::Pass, Verdict::Pass),
        (Verdict::Fail, Verdict::Fail),
    ] {
        let ctx = trigger(&plane, "gated", "carts").await;
        let id = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(id) = plane.open_approvals().pop() {
                    return id;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        let out = plane.outcomes(ctx).await.unwrap();
        assert_eq!(out[0].state, SequenceState::Started);
        assert!(out[0].task("approval").is_none());
        plane.approve(&id, decision).unwrap();
        let out = plane.wait(ctx, WAIT).await.unwrap();
        let gated = seq(&out, "dev", "gated").unwrap();
        assert_eq!(gated.result, expected);
        let approval = gated.task("approval").unwrap();
        assert_eq!(approval.executors, [APPROVAL_SOURCE]);
        assert_eq!(gated.task("check").is_some(), expected == Verdict::Pass);
    }
}

/// Abort stops a sequence (status aborted, nothing chained); pause holds the next task until
/// resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_pause_and_resume() {
    let gate = Arc::new(Semaphore::new(0));
    let step = Scripted::new("step", "stepper", Verdict::Pass).held(gate.clone());
    let check = Scripted::new("check", "checker", Verdict::Pass);
    let plane = ControlPlane::builder()
        .project(project(), SHIPYARD)
        .executor(step.clone())
        .executor(check.clone())
        .build()
        .await
        .unwrap();

    let ctx = trigger(&plane, "work", "carts").await;
    plane
        .wait_until(ctx, WAIT, |o| {
            o.first().is_some_and(|s| s.state == SequenceState::Started)
        })
        .await
        .unwrap();
    plane
        .control(ctx, None, SequenceControl::Abort)
        .await
        .unwrap();
    let out = plane.wait(ctx, WAIT).await.unwrap();
    assert_eq!(out.len(), 1, "nothing chained after an abort: {out:#?}");
    assert_eq!(
        (out[0].state, out[0].status),
        (SequenceState::Aborted, Status::Aborted)
    );
    gate.add_permits(1); // the aborted step's late answer changes nothing
    assert!(
        plane
            .control(ctx, None, SequenceControl::Resume)
            .await
            .is_err(),
        "nothing left to control"
    );

    let ctx = trigger(&plane, "work", "carts").await;
    plane
        .wait_until(ctx, WAIT, |o| {
            o.first().is_some_and(|s| s.state == SequenceState::Started)
        })
        .await
        .unwrap();
    plane
        .control(ctx, None, SequenceControl::Pause)
        .await
        .unwrap();
    gate.add_permits(1);
    let out = plane
        .wait_until(ctx, WAIT, |o| {
            o.first().is_some_and(|s| s.task("step").is_some())
        })
        .await
        .unwrap();
    assert_eq!(out[0].state, SequenceState::Paused);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        check.seen.lock().unwrap().is_empty(),
        "no task starts while paused"
    );
    plane
        .control(ctx, None, SequenceControl::Resume)
        .await
        .unwrap();
    let out = plane.wait(ctx, WAIT).await.unwrap();
    assert_eq!(seq(&out, "dev", "work").unwrap().result, Verdict::Pass);
    assert_eq!(
        check.seen.lock().unwrap().len(),
        2,
        "dev and prod checks ran after resume"
    );
}

/// A task nobody starts fails the sequence with a message naming the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_nobody_starts_fails_the_sequence() {
    let plane = ControlPlane::builder()
        .project(project(), SHIPYARD)
        .task_start_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let ctx = trigger(&plane, "lonely", "carts").await;
    let out = plane.wait(ctx, WAIT).await.unwrap();
    let lonely = &out[0];
    assert_eq!(
        (lonely.status, lonely.result),
        (Status::Errored, Verdict::Fail)
    );
    assert!(
        lonely.message.contains("task `mystery` was not started"),
        "{}",
        lonely.message
    );
    // an unknown sequence fails at once, naming it
    let ctx = trigger(&plane, "nosuch", "carts").await;
    let out = plane.wait(ctx, WAIT).await.unwrap();
    assert_eq!(out[0].message, "stage `dev` has no sequence `nosuch`");
}
