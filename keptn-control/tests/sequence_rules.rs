//! More of §1.3's rules (moved here from the old `keptn_deploy::delivery` tests): `warning`
//! promotes without a selector, `<task>.result` selectors and the `failed` spelling, later
//! tasks see earlier results in their payload, `triggeredAfter` delays a task, an unknown stage
//! or sequence is an error naming it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keptn_control::{ControlPlane, ExecutorContext, SequenceOutcome, SequenceState, TaskExecutor};
use keptn_spec::event::{
    EventData, EventType, KeptnContext, KeptnEvent, Payload, Phase, Status, Task, Verdict,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: more-rules}
spec:
  stages:
    - name: dev
      sequences:
        - name: work
          tasks:
            - name: build
            - name: check
        - name: slow
          tasks:
            - name: build
              triggeredAfter: 400ms
    - name: prod
      sequences:
        - name: work
          triggeredOn:
            - event: dev.work.finished
          tasks:
            - name: check
        - name: on-check-warning
          triggeredOn:
            - event: dev.work.finished
              selector:
                match: {check.result: warning}
          tasks:
            - name: check
        - name: on-failed-spelling
          triggeredOn:
            - event: dev.work.finished
              selector:
                match: {result: failed}
          tasks:
            - name: check
";

/// Answers a custom task with `result` and the label `<task>=done`, recording the labels of
/// every `.triggered` payload it saw.
#[derive(Debug, Clone)]
struct Labeller {
    task: &'static str,
    result: Verdict,
    seen: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Labeller {
    fn new(task: &'static str, result: Verdict) -> Self {
        Self {
            task,
            result,
            seen: Arc::default(),
        }
    }
}

#[async_trait]
impl TaskExecutor for Labeller {
    fn task(&self) -> Task {
        Task::Custom(self.task.to_owned())
    }

    fn source(&self) -> &str {
        self.task
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let labels = triggered.common().map(|c| c.labels).unwrap_or_default();
        let shown = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.seen.lock().unwrap().push(shown);
        let mut data = EventData::default();
        data.status = Some(Status::Succeeded);
        data.result = Some(self.result);
        data.labels.insert(self.task.to_owned(), "done".to_owned());
        Payload::Common(data)
    }
}

async fn plane(build: Verdict, check: &Labeller) -> ControlPlane {
    ControlPlane::builder()
        .project("more".parse().unwrap(), SHIPYARD)
        .executor(Labeller::new("build", build))
        .executor(check.clone())
        .build()
        .await
        .unwrap()
}

async fn trigger(plane: &ControlPlane, stage: &str, sequence: &str) -> KeptnContext {
    let ty = EventType::sequence(stage.parse().unwrap(), sequence, Phase::Triggered).unwrap();
    let data = json!({"project": "more", "stage": stage, "service": "carts",
                      "labels": {"buildId": "42"}});
    let event = KeptnEvent::new(ty, "test", KeptnContext::new_random(), &data);
    plane.send(event).await.unwrap()
}

fn names(out: &[SequenceOutcome]) -> Vec<String> {
    out.iter()
        .map(|s| format!("{}.{}", s.stage, s.sequence))
        .collect()
}

/// A `warning` promotes without a selector (Keptn's implementation); a `<task>.result`
/// selector matches the named task's result; `failed` (the spec text's spelling) never matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_promotes_and_task_result_selectors_match() {
    let check = Labeller::new("check", Verdict::Warning);
    let plane = plane(Verdict::Pass, &check).await;
    let ctx = trigger(&plane, "dev", "work").await;
    let out = plane.wait(ctx, WAIT).await.unwrap();
    let mut ran = names(&out);
    ran.sort();
    assert_eq!(
        ran,
        ["dev.work", "prod.on-check-warning", "prod.work"],
        "{out:#?}"
    );
    assert_eq!(out[0].result, Verdict::Warning);
}

/// A failed sequence does not promote, and `result: failed` is not `fail`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_spelling_never_matches() {
    let check = Labeller::new("check", Verdict::Pass);
    let plane = plane(Verdict::Fail, &check).await;
    let ctx = trigger(&plane, "dev", "work").await;
    let out = plane.wait(ctx, WAIT).await.unwrap();
    assert_eq!(names(&out), ["dev.work"], "{out:#?}");
    assert_eq!(out[0].result, Verdict::Fail);
    assert!(
        out[0].task("check").is_none(),
        "a failed task stops the sequence"
    );
}

/// Each task's payload merges the sequence's data with the earlier tasks' results: `check`
/// sees the trigger's label and `build`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_tasks_see_earlier_results() {
    let check = Labeller::new("check", Verdict::Pass);
    let plane = plane(Verdict::Pass, &check).await;
    let ctx = trigger(&plane, "dev", "work").await;
    plane.wait(ctx, WAIT).await.unwrap();
    let seen = check.seen.lock().unwrap().clone();
    assert!(
        seen[0].contains(&"buildId=42".to_owned()) && seen[0].contains(&"build=done".to_owned()),
        "{seen:?}"
    );
}

/// `triggeredAfter` sends the task's `.triggered` event that long after the sequence started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_after_delays_the_task() {
    let check = Labeller::new("check", Verdict::Pass);
    let plane = plane(Verdict::Pass, &check).await;
    let ctx = trigger(&plane, "dev", "slow").await;
    let out = plane.wait(ctx, WAIT).await.unwrap();
    assert_eq!(out[0].result, Verdict::Pass, "{out:#?}");
    let events = plane
        .store()
        .events(&keptn_control::store::EventQuery::context(ctx))
        .await
        .unwrap();
    let time_of = |ty: EventType| {
        events
            .iter()
            .find(|e| e.ty == ty)
            .and_then(|e| e.time)
            .unwrap()
    };
    let started =
        time_of(EventType::sequence("dev".parse().unwrap(), "slow", Phase::Started).unwrap());
    let task = time_of(EventType::task(
        Task::Custom("build".into()),
        Phase::Triggered,
    ));
    assert!(
        task - started >= chrono::TimeDelta::milliseconds(390),
        "build triggered {} ms after the start",
        (task - started).num_milliseconds()
    );
}

/// A sequence in a stage or of a name the shipyard does not have finishes `errored` at once,
/// naming what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_stage_or_sequence_is_an_error_naming_it() {
    let check = Labeller::new("check", Verdict::Pass);
    let plane = plane(Verdict::Pass, &check).await;
    for (stage, sequence, named) in [("qa", "work", "qa"), ("dev", "nightly", "nightly")] {
        let ctx = trigger(&plane, stage, sequence).await;
        let out = plane.wait(ctx, WAIT).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].state, out[0].status),
            (SequenceState::Finished, Status::Errored),
            "{out:#?}"
        );
        assert!(out[0].message.contains(named), "{}", out[0].message);
    }
}
