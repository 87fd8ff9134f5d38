//! A mixed-provider gate: two indicators from the real Prometheus, one from the fake Dynatrace
//! tenant, in one evaluation.

use std::sync::Arc;
use std::time::Duration;

use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_prometheus::{PrometheusClient, PrometheusSliProvider};
use keptn_slo::{EvaluationContext, InMemoryHistory, MultiProvider, QualityGate, SliProvider};
use keptn_spec::sli::SliConfig;
use keptn_spec::{Slo, Verdict};
use secrecy::SecretString;

use crate::support::{ERROR_SHARE, RPS, Target, prometheus, query};

const SLO: &str = r#"
objectives:
  - sli: throughput
    pass: [{ criteria: [">=50"] }]
  - sli: error_rate
    pass: [{ criteria: ["<=0.1"] }]
  - sli: conversion_rate
    pass: [{ criteria: [">=2"] }]
total_score: { pass: "90%", warning: "75%" }
"#;

const CONVERSION: &str = "calc:service.conversion:merge(0):avg";

fn dynatrace(uri: &str) -> Arc<dyn SliProvider> {
    let client = DynatraceClient::builder(uri)
        .api_token(SecretString::from("dt0c01.MIXED"))
        .build()
        .unwrap();
    let config = SliConfig::from_yaml_str(&format!(
        "indicators:\n  conversion_rate: \"metricSelector={CONVERSION}&entitySelector=type(SERVICE)\"\n"
    ))
    .unwrap();
    Arc::new(
        DynatraceSliProvider::new(client)
            .with_settle_time(Duration::ZERO)
            .with_sli_config(config),
    )
}

/// Throughput and error rate from Prometheus' default queries, the conversion rate from
/// Dynatrace: one evaluation with all three, passing; then with the tenant down, only the
/// Dynatrace indicator fails and the Prometheus values stand.
#[tokio::test]
async fn mixed_gate_prometheus_and_dynatrace() {
    let Some(prom) = prometheus("mixed_gate_prometheus_and_dynatrace") else {
        return;
    };
    let _target = Target::start(&prom, "carts-mixed-staging-canary", 10).await;
    let tenant = FakeTenant::start("dt0c01.MIXED").await;
    tenant.set_value(CONVERSION, Some(3.5));
    let prometheus: Arc<dyn SliProvider> = Arc::new(PrometheusSliProvider::new(
        PrometheusClient::builder(&prom.url).build().unwrap(),
    ));
    let multi = MultiProvider::new()
        .with_provider(dynatrace(&tenant.uri()), ["conversion_rate"])
        .with_default(prometheus.clone());
    let gate = QualityGate::new(Arc::new(multi), Arc::new(InMemoryHistory::new()));
    let slo = Slo::from_yaml_str(SLO).unwrap();
    let mut q = query(&[], 5).with_deployment("canary");
    q.project = "mixed".parse().unwrap();
    let ctx = EvaluationContext::new(
        "mixed".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let evaluation = gate.evaluate(Some(&slo), &q, &ctx, "e1").await.unwrap();
    let results = evaluation.data.evaluation.indicator_results();
    let value = |sli: &str| {
        results
            .iter()
            .find_map(|r| r.value().filter(|v| &*v.metric == sli).cloned())
            .unwrap()
    };
    assert!(
        (value("throughput").value - RPS).abs() < 0.03 * RPS,
        "{results:?}"
    );
    assert!((value("error_rate").value - ERROR_SHARE).abs() < 1e-9);
    assert_eq!(value("conversion_rate").value, 3.5);
    assert_eq!(evaluation.verdict(), Verdict::Pass, "{results:?}");

    // the Dynatrace side goes away: only its indicator fails
    let dead = MultiProvider::new()
        .with_provider(dynatrace("http://127.0.0.1:9"), ["conversion_rate"])
        .with_default(prometheus);
    let gate = QualityGate::new(Arc::new(dead), Arc::new(InMemoryHistory::new()));
    let evaluation = gate.evaluate(Some(&slo), &q, &ctx, "e2").await.unwrap();
    let results = evaluation.data.evaluation.indicator_results();
    for r in results {
        let v = r.value().expect("every indicator has a value");
        assert_eq!(v.success, &*v.metric != "conversion_rate", "{r:?}");
    }
    assert_eq!(evaluation.verdict(), Verdict::Fail);
}
