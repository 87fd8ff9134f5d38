//! Several SLI providers in one gate: the lighthouse sends `get-sli` once per provider (the
//! indicators of `dynatrace/sli.yaml` to the dynatrace-named executor, the rest to its own
//! prometheus-named one), merges the answers, and a failing provider fails only its own
//! indicators.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{EVALUATION_SHIPYARD, evaluation_event};
use keptn_control::executors::{Lighthouse, SLO_URI, SliProviderExecutor};
use keptn_control::store::EventQuery;
use keptn_control::{ControlPlane, ResourceScope};
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::SliValue;
use keptn_spec::event::{EventType, GetSliTriggeredData, Phase, Task, Verdict};

const SLO: &str = "objectives:
  - sli: response_time_p95
    pass:
      - criteria: ['<600']
  - sli: error_rate
    pass:
      - criteria: ['<=0.05']
  - sli: conversion_rate
    pass:
      - criteria: ['>=2']
total_score: {pass: '90%', warning: '75%'}
";

/// A provider answering every indicator with one value, or failing as a whole; it records
/// the indicators it was asked for.
#[derive(Debug)]
struct Fixed {
    name: &'static str,
    value: Mutex<Option<f64>>,
    asked: Mutex<Vec<Vec<String>>>,
}

impl Fixed {
    fn new(name: &'static str, value: f64) -> Arc<Self> {
        Arc::new(Self {
            name,
            value: Mutex::new(Some(value)),
            asked: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl SliProvider for Fixed {
    fn name(&self) -> &str {
        self.name
    }

    async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        self.asked.lock().unwrap().push(q.indicators.clone());
        match *self.value.lock().unwrap() {
            Some(v) => Ok(q.indicators.iter().map(|s| SliValue::ok(s, v)).collect()),
            None => Err(ProviderError::new(self.name, "tenant down", true)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_one_gate_each_failing_alone() {
    let prometheus = Fixed::new("prometheus", 0.01);
    let dynatrace = Fixed::new("dynatrace", 3.5);
    let plane = ControlPlane::builder()
        .project("sockshop".parse().unwrap(), EVALUATION_SHIPYARD)
        .executor(Lighthouse::new("prometheus").sli_timeout(Duration::from_secs(20)))
        .executor(SliProviderExecutor::new(prometheus.clone()))
        .executor(SliProviderExecutor::new(dynatrace.clone()))
        .build()
        .await
        .unwrap();
    let service = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    plane.put_resource(&service, SLO_URI, SLO).await.unwrap();
    plane
        .put_resource(
            &service,
            "dynatrace/sli.yaml",
            "indicators:\n  conversion_rate: metricSelector=calc:service.conversion\n",
        )
        .await
        .unwrap();
    // the project-level prometheus file names nothing of the SLO: no effect
    plane
        .put_resource(
            &ResourceScope::project("sockshop".parse().unwrap()),
            "prometheus/sli.yaml",
            "indicators:\n  throughput: sum(rate(http_requests_total[1m]))\n",
        )
        .await
        .unwrap();

    let evaluate = || async {
        let ctx = plane.send(evaluation_event()).await.unwrap();
        let out = plane.wait(ctx, Duration::from_secs(20)).await.unwrap();
        (ctx, out[0].clone())
    };

    let (ctx, outcome) = evaluate().await;
    assert_eq!(outcome.result, Verdict::Pass, "{outcome:#?}");
    let evaluation = outcome
        .task("evaluation")
        .unwrap()
        .evaluation
        .clone()
        .unwrap();
    let values: Vec<(String, f64)> = evaluation
        .evaluation
        .indicator_results()
        .iter()
        .map(|r| {
            let v = r.value().unwrap();
            (v.metric.to_string(), v.value)
        })
        .collect();
    assert_eq!(
        values,
        [
            ("response_time_p95".to_owned(), 0.01),
            ("error_rate".to_owned(), 0.01),
            ("conversion_rate".to_owned(), 3.5),
        ]
    );
    assert_eq!(
        *prometheus.asked.lock().unwrap(),
        [vec![
            "response_time_p95".to_owned(),
            "error_rate".to_owned()
        ]]
    );
    assert_eq!(
        *dynatrace.asked.lock().unwrap(),
        [vec!["conversion_rate".to_owned()]]
    );
    // one request per provider, each with its `sliProvider` and its indicators
    let requests = plane
        .store()
        .events(&EventQuery::context(ctx).of_type(EventType::task(Task::GetSli, Phase::Triggered)))
        .await
        .unwrap();
    let mut asked: Vec<(String, Vec<String>)> = requests
        .iter()
        .map(|e| {
            let d: GetSliTriggeredData = e.data_as().unwrap();
            (d.get_sli.sli_provider, d.get_sli.indicators)
        })
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            ("dynatrace".to_owned(), vec!["conversion_rate".to_owned()]),
            (
                "prometheus".to_owned(),
                vec!["response_time_p95".to_owned(), "error_rate".to_owned()]
            ),
        ]
    );

    // Dynatrace down: only its indicator fails; Prometheus' values stand; the gate fails.
    *dynatrace.value.lock().unwrap() = None;
    let (_, outcome) = evaluate().await;
    assert_eq!(outcome.result, Verdict::Fail, "{outcome:#?}");
    let evaluation = outcome
        .task("evaluation")
        .unwrap()
        .evaluation
        .clone()
        .unwrap();
    let results = evaluation.evaluation.indicator_results();
    let by_name = |sli: &str| {
        results
            .iter()
            .find_map(|r| r.value().filter(|v| &*v.metric == sli).cloned())
            .unwrap()
    };
    assert!(by_name("response_time_p95").success);
    assert_eq!(by_name("error_rate").value, 0.01);
    let conversion = by_name("conversion_rate");
    assert!(!conversion.success);
    let message = conversion.message;
    assert!(
        message.starts_with("dynatrace: ") && message.contains("tenant down"),
        "{message}"
    );
}
