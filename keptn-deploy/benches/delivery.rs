//! Orchestration overhead of the delivery sequence: a 3-stage delivery (the Keptn tutorial's shipyard:
//! dev direct + functional, staging blue/green + performance with an SLO gate, production
//! blue/green) with an instant in-memory deployer, test runner and SLI provider, so everything
//! measured is the sequence itself: payload merges, CloudEvents, the real gate engine, queueing.
//! Target: well under 50 ms per delivery.

use std::sync::Arc;

use async_trait::async_trait;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use keptn_deploy::delivery::{Delivery, DeliveryTrigger, GateEvaluator};
use keptn_deploy::testing::{InMemoryDeployer, StaticTestRunner};
use keptn_deploy::{Artifact, TestOutcome};
use keptn_slo::{InMemoryHistory, ProviderError, QualityGate, SliProvider, SliQuery};
use keptn_spec::event::{DiscardEventSink, MemoryEventSink};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{SliValue, Slo};

const SHIPYARD: &str = "stages:
  - name: dev
    deployment_strategy: direct
    test_strategy: functional
  - name: staging
    deployment_strategy: blue_green_service
    test_strategy: performance
  - name: production
    deployment_strategy: blue_green_service
";

const SLO: &str = "spec_version: '0.1.1'
comparison:
  aggregate_function: avg
  compare_with: single_result
  include_result_with_score: pass
  number_of_comparison_results: 1
objectives:
  - sli: response_time_p95
    pass:
      - criteria: ['<=+10%', '<600']
    warning:
      - criteria: ['<=800']
total_score:
  pass: '90%'
  warning: '75%'
";

#[derive(Debug)]
struct Instant;

#[async_trait]
impl SliProvider for Instant {
    fn name(&self) -> &str {
        "instant"
    }
    async fn fetch_slis(&self, q: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        Ok(q.indicators
            .iter()
            .map(|i| SliValue::ok(i.clone(), 300.0))
            .collect())
    }
}

fn delivery(events: bool) -> Delivery {
    let shipyard = Shipyard::from_yaml_str(SHIPYARD).unwrap();
    let gate = QualityGate::new(Arc::new(Instant), Arc::new(InMemoryHistory::new()));
    let evaluator = GateEvaluator::new(gate).with_slo(
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        Slo::from_yaml_str(SLO).unwrap(),
    );
    let sink: Arc<dyn keptn_spec::event::EventSink> = if events {
        Arc::new(MemoryEventSink::new())
    } else {
        Arc::new(DiscardEventSink)
    };
    Delivery::new(shipyard, Arc::new(InMemoryDeployer::new()), sink)
        .with_test_runner(Arc::new(StaticTestRunner::new(TestOutcome::Pass)))
        .with_evaluator(Arc::new(evaluator))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let trigger = DeliveryTrigger::new(
        "sockshop".parse().unwrap(),
        "carts".parse().unwrap(),
        Artifact::new("docker.io/keptnexamples/carts:0.11.1").unwrap(),
    );
    for (name, events) in [
        ("three_stage_delivery_memory_events", true),
        ("three_stage_delivery_discard_events", false),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched(
                || delivery(events),
                |d| {
                    let report = rt.block_on(d.deliver(trigger.clone())).unwrap();
                    assert_eq!(report.sequences.len(), 3);
                    report
                },
                BatchSize::SmallInput,
            );
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
