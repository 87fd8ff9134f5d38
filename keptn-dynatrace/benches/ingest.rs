//! Cost of the tour's data path: writing 1000 data points in the line protocol, sending them
//! in one ingest call to the fake tenant (local HTTP, no added latency), and the fake answering
//! an SLI query over 60 000 stored points (ten minutes of the tour's traffic for 25 series).
//!
//! `cargo bench -p keptn-dynatrace --features testing --bench ingest`

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider, MetricLine};
use keptn_slo::SliQuery;
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

fn lines(n: usize, deployments: usize) -> Vec<MetricLine> {
    let now = Utc::now();
    (0..n)
        .map(|i| {
            MetricLine::gauge("keptn.tour.response_time.p95", 100.0 + (i % 50) as f64)
                .unwrap()
                .with_dimension("keptn_project", "sockshop")
                .unwrap()
                .with_dimension("keptn_stage", "staging")
                .unwrap()
                .with_dimension("keptn_service", "carts")
                .unwrap()
                .with_dimension("keptn_deployment", &format!("d{}", i % deployments))
                .unwrap()
                .at(now - chrono::Duration::milliseconds((i / deployments) as i64 * 10))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let batch = lines(1000, 4);
    c.bench_function("format_1000_lines", |b| {
        b.iter(|| {
            black_box(
                batch
                    .iter()
                    .map(ToString::to_string)
                    .map(|s| s.len())
                    .sum::<usize>(),
            )
        });
    });

    let (tenant, client) = rt.block_on(async {
        let t = FakeTenant::start("bench-token").await;
        let c = DynatraceClient::builder(t.uri())
            .api_token(SecretString::from("bench-token"))
            .build()
            .unwrap();
        (t, c)
    });
    let mut group = c.benchmark_group("fake_tenant");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("ingest_1000_lines", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(client.ingest_metrics(&batch).await.unwrap()) });
    });
    drop(tenant);

    // a fresh tenant holding exactly 60 000 points in 25 series
    let (tenant, provider) = rt.block_on(async {
        let t = FakeTenant::start("bench-token").await;
        let c = DynatraceClient::builder(t.uri())
            .api_token(SecretString::from("bench-token"))
            .build()
            .unwrap();
        let all = lines(60_000, 25);
        c.ingest_metrics(&all).await.unwrap();
        let config = SliConfig::from_yaml_str(
            "spec_version: '1.0'\nindicators:\n  response_time_p95: \"metricSelector=keptn.tour.response_time.p95:filter(and(eq(keptn_project,$PROJECT),eq(keptn_stage,$STAGE),eq(keptn_service,$SERVICE),eq(keptn_deployment,$DEPLOYMENT))):avg\"\n",
        )
        .unwrap();
        let p = DynatraceSliProvider::new(c)
            .with_sli_config(config)
            .with_settle_time(Duration::ZERO);
        (t, p)
    });
    let end = Utc::now() + chrono::Duration::seconds(1);
    let query = SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        end - chrono::Duration::minutes(30),
        end,
        vec!["response_time_p95".to_owned()],
    )
    .with_deployment("d3");
    group.bench_function("query_over_60000_points", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                provider
                    .fetch_one("response_time_p95", &query)
                    .await
                    .unwrap(),
            )
        });
    });
    group.finish();
    drop(tenant);
}

criterion_group!(benches, bench);
criterion_main!(benches);
