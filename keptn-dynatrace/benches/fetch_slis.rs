//! Wall time of one evaluation's SLI fetch against a fake tenant with 100 ms latency:
//! one SLI (one round trip) versus ten SLIs (fetched concurrently). The ratio is printed at the
//! end; it should be close to 1, not 10.
//!
//! `cargo bench -p keptn-dynatrace --features testing --bench fetch_slis`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

const LATENCY: Duration = Duration::from_millis(100);

fn setup(rt: &tokio::runtime::Runtime, k: usize) -> (FakeTenant, DynatraceSliProvider, SliQuery) {
    rt.block_on(async {
        let tenant = FakeTenant::start("bench-token").await;
        tenant.set_latency(LATENCY);
        let mut indicators = std::collections::BTreeMap::new();
        for i in 0..k {
            let selector = format!("builtin:service.requestCount.total:merge(0):sum:fold(sum{i})");
            tenant.set_value(&selector, Some(i as f64));
            indicators.insert(format!("sli_{i}"), format!("metricSelector={selector}&entitySelector=type(SERVICE),tag(keptn_service:$SERVICE)"));
        }
        let client = DynatraceClient::builder(tenant.uri())
            .api_token(SecretString::from("bench-token"))
            .build()
            .unwrap();
        let provider = DynatraceSliProvider::new(client)
            .with_settle_time(Duration::ZERO)
            .with_sli_config(SliConfig::new(indicators.clone()));
        let start = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap();
        let query = SliQuery::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
            start,
            start + chrono::Duration::minutes(10),
            indicators.keys().cloned().collect(),
        );
        (tenant, provider, query)
    })
}

fn fetch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("fetch_slis_100ms_latency");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let mut means = Vec::new();
    for k in [1usize, 10] {
        let (_tenant, provider, query) = setup(&rt, k);
        group.bench_function(format!("k={k}"), |b| {
            b.to_async(&rt).iter(|| async {
                let values = provider.fetch_slis(black_box(&query)).await.unwrap();
                assert!(values.iter().all(|v| v.success));
                values
            });
        });
        // a plain mean over a few runs, for the ratio printed below
        let runs = 10;
        let started = Instant::now();
        for _ in 0..runs {
            rt.block_on(provider.fetch_slis(&query)).unwrap();
        }
        means.push(started.elapsed() / runs);
    }
    group.finish();
    eprintln!(
        "k=1: {:?}, k=10: {:?}, ratio k=10 / k=1 = {:.2}",
        means[0],
        means[1],
        means[1].as_secs_f64() / means[0].as_secs_f64()
    );
}

criterion_group!(benches, fetch);
criterion_main!(benches);
