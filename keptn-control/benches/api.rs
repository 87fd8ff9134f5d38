//! The Keptn API's round trips on loopback (feature `http`): `POST /api/v1/event` (answered once
//! the event is logged), a remote executor's poll `GET /api/controlPlane/v1/event/triggered/…`
//! with 10 open tasks, and datastore queries on a SQLite store holding 10 000 events.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keptn_control::http::{ApiConfig, ApiToken};
use keptn_control::store::Change;
use keptn_control::{ControlPlane, SqliteStore, Store};
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Task};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token";

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
";

async fn serve(plane: ControlPlane) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = ApiConfig::new(ApiToken::new(TOKEN).unwrap()).task_lease(Duration::ZERO);
    tokio::spawn(keptn_control::http::serve(
        listener,
        plane,
        config,
        std::future::pending(),
    ));
    url
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    let r = http.get(url).header("x-token", TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// 10 000 events: 100 contexts of 100 events, deployment triggered/started/finished and tests.
fn history() -> (Vec<KeptnEvent>, KeptnContext) {
    let mut events = Vec::new();
    let mut last = KeptnContext::new_random();
    for c in 0..100 {
        let ctx = KeptnContext::new_random();
        last = ctx;
        for i in 0..100 {
            let task = if i % 2 == 0 {
                Task::Deployment
            } else {
                Task::Test
            };
            let phase = [Phase::Triggered, Phase::Started, Phase::Finished][i % 3];
            let data = json!({"project": "sockshop", "stage": "dev",
                              "service": format!("svc{}", c % 10), "result": "pass"});
            events.push(KeptnEvent::new(
                EventType::task(task, phase),
                "bench",
                ctx,
                &data,
            ));
        }
    }
    (events, last)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let mut group = c.benchmark_group("api");
    group.sample_size(30);

    // POST /api/v1/event: an event that starts nothing, answered once logged.
    let (events_url, plane) = rt.block_on(async {
        let plane = ControlPlane::builder()
            .project("sockshop".parse().unwrap(), SHIPYARD)
            .task_start_timeout(Duration::from_secs(24 * 3600))
            .build()
            .await
            .unwrap();
        (serve(plane.clone()).await, plane)
    });
    group.bench_function("post_event", |b| {
        b.iter(|| {
            rt.block_on(async {
                let body = json!({"source": "bench", "type": "sh.keptn.event.get-sli.triggered",
                    "shkeptncontext": KeptnContext::new_random(),
                    "data": {"project": "sockshop", "stage": "dev", "service": "carts"}});
                let r = http
                    .post(format!("{events_url}/api/v1/event"))
                    .header("x-token", TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
            });
        });
    });

    // GET /event/triggered with 10 open deployment tasks (10 services waiting for a deployer).
    rt.block_on(async {
        for s in 0..10 {
            plane
                .trigger_delivery(
                    &"sockshop".parse().unwrap(),
                    &"dev".parse().unwrap(),
                    "delivery",
                    &format!("svc{s}").parse().unwrap(),
                    "carts:1",
                )
                .await
                .unwrap();
        }
        let url = format!(
            "{events_url}/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while get(&http, &url).await["events"].as_array().unwrap().len() < 10 {
            assert!(std::time::Instant::now() < deadline, "10 tasks never open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    group.bench_function("poll_triggered_10_open", |b| {
        b.iter(|| {
            rt.block_on(get(
                &http,
                &format!("{events_url}/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered?project=sockshop"),
            ))
        });
    });

    // The datastore on a SQLite store with 10 000 events.
    let dir = tempfile::tempdir().unwrap();
    let (store_url, ctx) = rt.block_on(async {
        let store = Arc::new(SqliteStore::open(dir.path().join("bench.db")).unwrap());
        let (events, ctx) = history();
        let mut change = Change::default();
        change.events = events;
        store.commit(&change).await.unwrap();
        let plane = ControlPlane::builder()
            .store(store as Arc<dyn Store>)
            .build()
            .await
            .unwrap();
        (serve(plane).await, ctx)
    });
    group.bench_function("datastore_10k_by_context", |b| {
        b.iter(|| {
            rt.block_on(async {
                let page = get(
                    &http,
                    &format!(
                        "{store_url}/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=20"
                    ),
                )
                .await;
                assert_eq!(page["totalCount"], 100);
            });
        });
    });
    group.bench_function("datastore_10k_by_type_and_filter", |b| {
        b.iter(|| {
            rt.block_on(async {
                let page = get(
                    &http,
                    &format!("{store_url}/api/mongodb-datastore/event/type/sh.keptn.event.deployment.finished?filter=data.service:svc3&limit=20"),
                )
                .await;
                assert_eq!(page["events"].as_array().unwrap().len(), 20);
            });
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
