//! What recording costs on the stage proxy's request path (windowed slices plus the cumulative
//! Prometheus counts), and what one `/metrics` scrape costs to render.

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_local::RequestRecorder;

fn bench(c: &mut Criterion) {
    let recorder = RequestRecorder::default();
    let start = Utc::now();
    let mut i = 0u64;
    c.bench_function("record one request", |b| {
        b.iter(|| {
            i += 1;
            let at = start + TimeDelta::milliseconds((i / 100) as i64);
            let status = if i.is_multiple_of(20) { 500 } else { 200 };
            recorder.record(
                black_box("canary"),
                at,
                Duration::from_micros(500 + (i % 5000) * 97),
                Some(status),
            );
        });
    });
    // Three deployments with several status codes and every latency bucket in use.
    let full = RequestRecorder::default();
    for d in ["primary", "canary", "direct"] {
        for n in 0..10_000u64 {
            let status = [200, 201, 404, 500, 503][(n % 5) as usize];
            full.record(d, start, Duration::from_micros(n * 1_300), Some(status));
        }
    }
    c.bench_function("render /metrics (3 deployments)", |b| {
        b.iter(|| black_box(full.metrics_text()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
