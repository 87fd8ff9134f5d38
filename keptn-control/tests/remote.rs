//! Executors in another process: nothing in-process executes `deployment` or `get-sli`; a
//! poller reads the open `.triggered` events and answers through `ControlPlane::send`, as a
//! remote execution plane does over Keptn's API.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{EVALUATION_SHIPYARD, evaluation_event};
use keptn_control::executors::{Lighthouse, SLO_URI};
use keptn_control::{ControlPlane, ResourceScope};
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Status, Task, Verdict};
use serde_json::json;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: staging
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties: {deploymentstrategy: blue_green_service}
            - name: evaluation
";

const SLO: &str = "objectives:
  - sli: response_time_p95
    pass:
      - criteria: ['<600']
total_score: {pass: '90%', warning: '75%'}
";

/// One polling round of the remote executor: answers every open task it has not answered yet.
async fn poll_once(plane: &ControlPlane, answered: &mut HashSet<String>, p95: f64) {
    for task in [Task::Deployment, Task::GetSli] {
        for triggered in plane.open_triggered(&task).await.unwrap() {
            if !answered.insert(triggered.id.to_string()) {
                continue;
            }
            let started = triggered.started("remote-executor", &json!({})).unwrap();
            plane.send(started).await.unwrap();
            let data = match task {
                Task::GetSli => json!({
                    "status": "succeeded", "result": "pass",
                    "get-sli": {"indicatorValues": [
                        {"metric": "response_time_p95", "value": p95, "success": true}]}
                }),
                _ => json!({"status": "succeeded", "result": "pass",
                            "deployment": {"deploymentNames": ["canary"]}}),
            };
            let finished = triggered.finished("remote-executor", &data).unwrap();
            plane.send(finished).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_executors_answer_polled_tasks() {
    let plane = ControlPlane::builder()
        .project("sockshop".parse().unwrap(), SHIPYARD)
        .executor(Lighthouse::new("remote").sli_timeout(Duration::from_secs(20)))
        .task_start_timeout(Duration::from_secs(20))
        .build()
        .await
        .unwrap();
    let scope = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    plane.put_resource(&scope, SLO_URI, SLO).await.unwrap();
    for (p95, expected) in [(300.0, Verdict::Pass), (900.0, Verdict::Fail)] {
        let ty =
            EventType::sequence("staging".parse().unwrap(), "delivery", Phase::Triggered).unwrap();
        let data = json!({"project": "sockshop", "stage": "staging", "service": "carts",
                          "configurationChange": {"values": {"image": "carts:0.11.3"}}});
        let ctx = plane
            .send(KeptnEvent::new(
                ty,
                "cli",
                KeptnContext::new_random(),
                &data,
            ))
            .await
            .unwrap();
        let mut answered = HashSet::new();
        let out = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                poll_once(&plane, &mut answered, p95).await;
                let out = plane.outcomes(ctx).await.unwrap();
                if !out.is_empty() && out.iter().all(|o| o.state.is_done()) {
                    return out;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
        let delivery = &out[0];
        assert_eq!(delivery.status, Status::Succeeded);
        assert_eq!(delivery.result, expected, "{delivery:#?}");
        assert_eq!(
            delivery.task("deployment").unwrap().executors,
            ["remote-executor"]
        );
        let evaluation = delivery.task("evaluation").unwrap();
        assert_eq!(
            evaluation
                .evaluation
                .as_deref()
                .unwrap()
                .evaluation
                .indicator_results()[0]
                .value()
                .unwrap()
                .value,
            p95
        );
        // nothing is left open once answered
        assert!(
            plane
                .open_triggered(&Task::Deployment)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            plane
                .open_triggered(&Task::GetSli)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// A remote `get-sli.finished` stored just before a crash: the restarted control plane re-runs
/// the evaluation, which must take the stored answer instead of asking again under the same id
/// (no poller would see that request open, and the gate would wait out its SLI timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_get_sli_answer_is_used_after_restart() {
    use keptn_control::store::{Change, EventQuery};
    use keptn_control::{MemoryStore, Store};
    use std::sync::Arc;

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let scope = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let first = ControlPlane::builder()
        .store(store.clone())
        .project("sockshop".parse().unwrap(), EVALUATION_SHIPYARD)
        .executor(Lighthouse::new("remote").sli_timeout(Duration::from_secs(600)))
        .build()
        .await
        .unwrap();
    first.put_resource(&scope, SLO_URI, SLO).await.unwrap();
    let ctx = first.send(evaluation_event()).await.unwrap();
    let request = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(t) = first.open_triggered(&Task::GetSli).await.unwrap().pop() {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    drop(first); // the crash: the controller stops before it sees the answer
    // ... which the remote provider had sent, and the store had written
    let answer = request
        .finished(
            "remote-executor",
            &json!({"status": "succeeded", "result": "pass",
                    "get-sli": {"indicatorValues": [
                        {"metric": "response_time_p95", "value": 250.0, "success": true}]}}),
        )
        .unwrap();
    let mut change = Change::default();
    change.events.push(answer);
    store.commit(&change).await.unwrap();

    let second = ControlPlane::builder()
        .store(store.clone())
        .executor(Lighthouse::new("remote").sli_timeout(Duration::from_secs(600)))
        .build()
        .await
        .unwrap();
    let out = second.wait(ctx, Duration::from_secs(10)).await.unwrap();
    let evaluation = out[0].task("evaluation").unwrap();
    assert_eq!(out[0].result, Verdict::Pass, "{out:#?}");
    assert_eq!(
        evaluation
            .evaluation
            .as_deref()
            .unwrap()
            .evaluation
            .indicator_results()[0]
            .value()
            .unwrap()
            .value,
        250.0
    );
    // the request was not sent a second time
    let requests = store
        .events(&EventQuery::context(ctx).of_type(EventType::task(Task::GetSli, Phase::Triggered)))
        .await
        .unwrap();
    assert_eq!(requests.len(), 1, "{requests:#?}");
}
