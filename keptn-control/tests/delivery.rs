//! The seed's three artifacts through the control plane with in-memory executors.

mod common;

use std::time::Duration;

use common::{CARTS, FileDeployer, SEED_SLO, seed_plane, staging_carts};
use keptn_control::executors::SLO_URI;
use keptn_control::{SequenceOutcome, SequenceState};
use keptn_spec::ProjectName;
use keptn_spec::event::{EventType, Phase, Status, Task, Verdict};

const WAIT: Duration = Duration::from_secs(20);

fn find<'a>(
    outcomes: &'a [SequenceOutcome],
    stage: &str,
    sequence: &str,
) -> Option<&'a SequenceOutcome> {
    outcomes
        .iter()
        .find(|o| o.stage.as_str() == stage && o.sequence == sequence)
}

/// Delivers `carts:<version>` from dev and waits for every sequence it causes.
async fn deliver(
    plane: &keptn_control::ControlPlane,
    version: &str,
) -> (keptn_spec::event::KeptnContext, Vec<SequenceOutcome>) {
    let project: ProjectName = "sockshop".parse().unwrap();
    let ctx = plane
        .trigger_delivery(
            &project,
            &"dev".parse().unwrap(),
            "delivery",
            &"carts".parse().unwrap(),
            &format!("{CARTS}:{version}"),
        )
        .await
        .unwrap();
    (ctx, plane.wait(ctx, WAIT).await.unwrap())
}

/// 0.11.1 goes dev → staging → production; 0.11.2 fails the staging gate on p95 and is rolled
/// back (production keeps 0.11.1); 0.11.3 is promoted to production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_delivery_gates_rolls_back_and_promotes() {
    seed_delivery(std::sync::Arc::new(keptn_control::MemoryStore::new())).await;
}

/// The same on the SQLite store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_delivery_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = keptn_control::SqliteStore::open(dir.path().join("state.db")).unwrap();
    seed_delivery(std::sync::Arc::new(store)).await;
}

async fn seed_delivery(store: std::sync::Arc<dyn keptn_control::Store>) {
    let deployer = FileDeployer::in_memory();
    let sink = std::sync::Arc::new(keptn_spec::event::MemoryEventSink::new());
    let plane = seed_plane(&deployer)
        .store(store)
        .sink(sink.clone())
        .build()
        .await
        .unwrap();
    plane
        .put_resource(&staging_carts(), SLO_URI, SEED_SLO)
        .await
        .unwrap();

    // 0.11.1: through every stage
    let (_, out) = deliver(&plane, "0.11.1").await;
    for stage in ["dev", "staging", "production"] {
        let seq = find(&out, stage, "delivery").unwrap_or_else(|| panic!("{stage}: {out:#?}"));
        assert_eq!(
            (seq.status, seq.result),
            (Status::Succeeded, Verdict::Pass),
            "{seq:#?}"
        );
        assert_eq!(seq.state, SequenceState::Finished);
    }
    let staging = find(&out, "staging", "delivery").unwrap();
    assert_eq!(staging.score, Some(100.0));
    assert_eq!(
        staging.serving.as_deref(),
        Some(&*format!("{CARTS}:0.11.1"))
    );
    assert!(find(&out, "staging", "rollback").is_none());
    assert_eq!(
        deployer.serving("production", "carts").as_deref(),
        Some(&*format!("{CARTS}:0.11.1"))
    );

    // 0.11.2: the gate fails on p95, rollback runs, production is not touched
    let (_, out) = deliver(&plane, "0.11.2").await;
    let staging = find(&out, "staging", "delivery").unwrap();
    assert_eq!(staging.result, Verdict::Fail, "{staging:#?}");
    let evaluation = staging.task("evaluation").unwrap();
    assert_eq!(evaluation.result, Verdict::Fail);
    let data = evaluation.evaluation.as_deref().unwrap();
    assert_eq!(
        &*data.evaluation.indicator_results[0].value.metric,
        "response_time_p95"
    );
    assert_eq!(data.evaluation.indicator_results[0].value.value, 1050.0);
    assert!(
        staging.task("release").is_none(),
        "no release after a failed gate"
    );
    let rollback = find(&out, "staging", "rollback").expect("the rollback sequence ran");
    assert_eq!(rollback.result, Verdict::Pass);
    assert_eq!(
        rollback.serving.as_deref(),
        Some(&*format!("{CARTS}:0.11.1"))
    );
    assert!(find(&out, "production", "delivery").is_none());
    assert_eq!(
        deployer.serving("staging", "carts").as_deref(),
        Some(&*format!("{CARTS}:0.11.1"))
    );
    assert_eq!(
        deployer.serving("production", "carts").as_deref(),
        Some(&*format!("{CARTS}:0.11.1"))
    );

    // 0.11.3: compared with the last passing evaluation (0.11.1), promoted to production
    let (ctx, out) = deliver(&plane, "0.11.3").await;
    let staging = find(&out, "staging", "delivery").unwrap();
    assert_eq!(staging.result, Verdict::Pass, "{staging:#?}");
    let compared = &staging
        .task("evaluation")
        .unwrap()
        .evaluation
        .as_deref()
        .unwrap()
        .evaluation
        .compared_events;
    assert_eq!(
        compared.len(),
        1,
        "compared with the one passing evaluation"
    );
    assert_eq!(
        find(&out, "production", "delivery").unwrap().result,
        Verdict::Pass
    );
    assert_eq!(
        deployer.serving("production", "carts").as_deref(),
        Some(&*format!("{CARTS}:0.11.3"))
    );

    // the event log has every task's triggered/started/finished with the same context
    let events = plane
        .store()
        .events(&keptn_control::store::EventQuery::context(ctx))
        .await
        .unwrap();
    let triggered = EventType::task(Task::Deployment, Phase::Triggered);
    let deployments: Vec<_> = events.iter().filter(|e| e.ty == triggered).collect();
    assert_eq!(deployments.len(), 3, "dev, staging, production");
    for t in deployments {
        let answers: Vec<_> = events
            .iter()
            .filter(|e| e.triggeredid.as_ref() == Some(&t.id))
            .collect();
        assert_eq!(
            sink.filter(|e| e.triggeredid.as_ref() == Some(&t.id)).len(),
            2,
            "the sink saw them too"
        );
        assert_eq!(
            answers.len(),
            2,
            "one .started and one .finished per triggered deployment"
        );
    }
}
