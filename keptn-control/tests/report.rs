//! `report::ArtifactOutcome` reads a delivery stage by stage: results, tasks, the gate's
//! evaluation, whether the stage rolled back, and the version serving afterwards.

mod common;

use std::time::Duration;

use common::{CARTS, FileDeployer, SEED_SHIPYARD, SEED_SLO, seed_plane, staging_carts};
use keptn_control::executors::SLO_URI;
use keptn_control::report::{ArtifactOutcome, StageResult};
use keptn_spec::ParseOptions;
use keptn_spec::event::Verdict;
use keptn_spec::shipyard::Shipyard;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_gated_and_rolled_back_delivery() {
    let deployer = FileDeployer::in_memory();
    let plane = seed_plane(&deployer).build().await.unwrap();
    plane
        .put_resource(&staging_carts(), SLO_URI, SEED_SLO)
        .await
        .unwrap();
    let shipyard = Shipyard::parse(SEED_SHIPYARD, &ParseOptions::new())
        .unwrap()
        .value;
    let carts = "carts".parse().unwrap();
    let mut outcomes = Vec::new();
    for version in ["0.11.1", "0.11.2"] {
        let image = format!("{CARTS}:{version}");
        let ctx = plane
            .trigger_delivery(
                &"sockshop".parse().unwrap(),
                &"dev".parse().unwrap(),
                "delivery",
                &carts,
                &image,
            )
            .await
            .unwrap();
        let sequences = plane.wait(ctx, WAIT).await.unwrap();
        outcomes
            .push(ArtifactOutcome::read(&carts, &image, &shipyard, &sequences, &deployer).await);
    }

    let v1 = &outcomes[0];
    assert_eq!(
        (v1.service.as_str(), v1.version.as_str()),
        ("carts", "0.11.1")
    );
    assert!(v1.passed_everywhere());
    for stage in &v1.stages {
        assert_eq!(stage.result, StageResult::Done(Verdict::Pass), "{stage:?}");
        assert_eq!(stage.result.to_string(), "pass");
        assert_eq!(
            stage.serving.as_ref().map(|v| v.as_str()),
            Some("0.11.1"),
            "{stage:?}"
        );
        assert!(!stage.rollback);
    }

    let v2 = &outcomes[1];
    assert!(!v2.passed_everywhere());
    let names: Vec<&str> = v2.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "production"]);
    let serving =
        |s: &keptn_control::report::StageOutcome| s.serving.as_ref().map(|v| v.as_str().to_owned());
    let dev = v2.stage("dev").unwrap();
    assert_eq!(
        (dev.result.as_str(), serving(dev).as_deref()),
        ("pass", Some("0.11.2"))
    );
    let staging = v2.stage("staging").unwrap();
    assert_eq!(staging.result, StageResult::Done(Verdict::Fail));
    assert!(staging.rollback, "the staging rollback sequence ran");
    assert_eq!(serving(staging).as_deref(), Some("0.11.1"));
    let evaluation = staging.evaluation.as_ref().expect("the gate's evaluation");
    assert_eq!(evaluation.result, Verdict::Fail);
    // the slow build's p95, as the test's SLI provider measures it
    assert_eq!(staging.indicator_value("response_time_p95"), Some(1050.0));
    assert_eq!(staging.indicator_value("no_such_sli"), None);
    assert_eq!(
        dev.indicator_value("response_time_p95"),
        None,
        "dev has no gate"
    );
    assert!(
        staging
            .tasks
            .contains(&("evaluation".to_owned(), Verdict::Fail)),
        "{:?}",
        staging.tasks
    );
    let production = v2.stage("production").unwrap();
    assert_eq!(production.result, StageResult::NotRun);
    assert_eq!(production.result.to_string(), "not run");
    assert!(production.tasks.is_empty());
    assert_eq!(serving(production).as_deref(), Some("0.11.1"));
    assert_ne!(v2.context, v1.context);
    assert!(v2.context.is_some());
}
