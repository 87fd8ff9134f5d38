//! `keptn_examples::tour_prometheus` against a real Prometheus and Alertmanager (skipped with a
//! message when their binaries are missing): the stack scrapes every stage proxy of the
//! deployer under the default queries' jobs and loaded the production rule.

use std::time::Duration;

use keptn_examples::tour_prometheus::{ERROR_RATE_THRESHOLD, TourMonitoring};
use keptn_local::LocalDeployer;
use keptn_prometheus::stack::Binaries;
use keptn_spec::StageName;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_scrapes_every_stage_and_loads_the_rule() {
    if let Err(e) = Binaries::find() {
        eprintln!("skipping the tour's Prometheus monitoring: {e}");
        return;
    }
    let deployer = LocalDeployer::new();
    let stages: Vec<StageName> = ["dev", "staging", "production"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let mut monitoring = TourMonitoring::start(
        &deployer,
        &"sockshop".parse().unwrap(),
        &"carts".parse().unwrap(),
        &stages,
        &stages[2],
    )
    .await
    .unwrap();
    assert!(monitoring.take_problems().is_some());
    assert!(monitoring.take_problems().is_none());
    for stage in &stages {
        monitoring
            .stack()
            .wait_for_series(
                &format!("up{{job='carts-sockshop-{stage}'}} == 1"),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    let rules = monitoring.rules_yaml();
    assert!(
        rules.contains("job='carts-sockshop-production-primary'"),
        "{rules}"
    );
    assert!(
        rules.contains(&format!("> {ERROR_RATE_THRESHOLD}")),
        "{rules}"
    );
    let loaded: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!(
            "{}/api/v1/rules",
            monitoring.stack().prometheus_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rule = &loaded["data"]["groups"][0]["rules"][0];
    assert_eq!(rule["name"], "error_rate", "{loaded}");
    assert_eq!(
        rule["annotations"]["summary"],
        TourMonitoring::problem_title()
    );
    assert_eq!(rule["health"], "ok", "{loaded}");
}
