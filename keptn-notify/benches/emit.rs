//! What `emit` costs the sender, and what building a chat message costs the worker.
//!
//! `cargo bench -p keptn-notify --bench emit`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keptn_notify::{ChatFormat, EventFilter, MessageBuilder, Notifier, Target};
use secrecy::SecretString;
use serde_json::{Value, json};

fn evaluation() -> Value {
    json!({
        "specversion": "1.0", "id": "ev-1", "source": "lighthouse-service",
        "type": "sh.keptn.event.evaluation.finished",
        "shkeptncontext": "7c2f6a8e-2f5b-4d0e-9a53-0d8f5b7f2c11",
        "data": {"project": "sockshop", "stage": "staging", "service": "carts",
                 "result": "fail", "status": "succeeded",
                 "evaluation": {"score": 50, "result": "fail", "indicatorResults": [
                     {"score": 0, "status": "fail", "keySli": false,
                      "value": {"metric": "response_time_p95", "value": 1043.2, "success": true},
                      "passTargets": [{"criteria": "<600", "targetValue": 600, "violated": true}]}]}}
    })
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let event = evaluation();

    c.bench_function("message_and_slack_payload", |b| {
        let mut messages = MessageBuilder::new();
        b.iter(|| {
            let m = messages.push(black_box(&event)).unwrap();
            black_box(ChatFormat::Slack.payload(&m).to_string())
        });
    });

    // A target whose filter excludes the event: the cost every event pays.
    let unmatched = runtime.block_on(async {
        Notifier::builder()
            .target(
                Target::slack(SecretString::from("http://127.0.0.1:9/x"))
                    .unwrap()
                    .with_filter(EventFilter::all().stage("production".parse().unwrap())),
            )
            .build()
            .unwrap()
    });
    c.bench_function("emit_filtered_out", |b| {
        b.iter(|| unmatched.emit_value(black_box(event.clone())));
    });

    // A matching target whose receiver never answers: after the first events the queue is
    // full and emit takes the drop path (what a dead receiver costs the sender).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", dead.local_addr().unwrap());
    let full = runtime.block_on(async {
        Notifier::builder()
            .allow_internal_addresses()
            .queue_capacity(16)
            .timeout(Duration::from_secs(600))
            .target(Target::slack(SecretString::from(url)).unwrap())
            .build()
            .unwrap()
    });
    c.bench_function("emit_queue_full_dead_receiver", |b| {
        b.iter(|| full.emit_value(black_box(event.clone())));
    });
    drop(dead);
}

criterion_group!(emit, benches);
criterion_main!(emit);
