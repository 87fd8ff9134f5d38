//! How long a fetch of k SLIs takes when every query costs one 20 ms round trip: k = 1 and
//! k = 10 should take about the same (the queries run concurrently). The server is a local
//! stand-in answering Prometheus' `/api/v1/query` shape after 20 ms; with `PROMETHEUS_URL` set
//! the same fetches also run against the real Prometheus.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_prometheus::{PrometheusClient, PrometheusSliProvider};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::sli::SliConfig;

async fn answer() -> &'static str {
    tokio::time::sleep(Duration::from_millis(20)).await;
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"1"]}]}}"#
}

fn provider(url: &str, k: usize) -> (PrometheusSliProvider, SliQuery) {
    let names: Vec<String> = (0..k).map(|i| format!("sli_{i}")).collect();
    let yaml: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("  {n}: vector({i})\n"))
        .collect();
    let config = SliConfig::from_yaml_str(&format!("indicators:\n{yaml}")).unwrap();
    let p = PrometheusSliProvider::new(PrometheusClient::builder(url).build().unwrap())
        .with_sli_config(config);
    let end = chrono::Utc::now();
    let q = SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        end - chrono::Duration::minutes(5),
        end,
        names,
    );
    (p, q)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, Router::new().route("/api/v1/query", get(answer)))
                .await
                .unwrap();
        });
        format!("http://{addr}")
    });
    let mut targets = vec![("stand-in 20 ms", url)];
    if let Ok(real) = std::env::var("PROMETHEUS_URL") {
        targets.push(("real Prometheus", real));
    } else {
        eprintln!("skipping the real-Prometheus benches: set PROMETHEUS_URL");
    }
    for (name, url) in targets {
        let mut group = c.benchmark_group(format!("fetch_slis/{name}"));
        group.sample_size(20);
        for k in [1, 10] {
            let (p, q) = provider(&url, k);
            group.bench_function(format!("k={k}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let v = p.fetch_slis(&q).await.unwrap();
                    assert!(v.iter().all(|v| v.success), "{v:?}");
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
