//! What one delivery through three stages costs the control plane (events, state writes,
//! executors on the in-process bus), on the in-memory store and on a SQLite file.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{CARTS, FileDeployer, seed_plane};
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_control::{ControlPlane, SqliteStore, Store};

fn deliver(rt: &tokio::runtime::Runtime, plane: &ControlPlane, n: &AtomicUsize) {
    let version = n.fetch_add(1, Ordering::Relaxed);
    rt.block_on(async {
        let ctx = plane
            .trigger_delivery(
                &"sockshop".parse().unwrap(),
                &"dev".parse().unwrap(),
                "delivery",
                &"carts".parse().unwrap(),
                &format!("{CARTS}:1.0.{version}"),
            )
            .await
            .unwrap();
        let out = plane.wait(ctx, Duration::from_secs(30)).await.unwrap();
        assert_eq!(out.len(), 3);
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores: [(&str, Arc<dyn Store>); 2] = [
        ("memory", Arc::new(keptn_control::MemoryStore::new())),
        (
            "sqlite",
            Arc::new(SqliteStore::open(dir.path().join("bench.db")).unwrap()),
        ),
    ];
    let mut group = c.benchmark_group("delivery_three_stages");
    group.sample_size(20);
    for (name, store) in stores {
        let deployer = FileDeployer::in_memory();
        let plane = rt
            .block_on(seed_plane(&deployer).store(store).build())
            .unwrap();
        let n = AtomicUsize::new(0);
        group.bench_function(name, |b| b.iter(|| deliver(&rt, &plane, &n)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
