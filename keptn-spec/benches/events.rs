//! Event throughput: parsing, serializing and typing Keptn CloudEvents, the per-event work of
//! an event log reader or a Bridge replaying one.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent, MemoryEventSink};

/// A `get-sli.finished` with `n` indicator values: a typical large event.
fn get_sli_finished(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"metric":"sli_{i}","value":{}.25,"success":true,"message":""}}"#,
                i * 7
            )
        })
        .collect();
    format!(
        r#"{{"specversion":"1.0","id":"0d3c2b1a-9f8e-4d7c-a6b5-4c3d2e1f0a9b","source":"dynatrace-sli-service",
"type":"sh.keptn.event.get-sli.finished","time":"2021-03-04T10:11:12.123Z","datacontenttype":"application/json",
"shkeptncontext":"5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e","triggeredid":"f2b878d3-03c0-4e8f-bc3f-454bc1b3d79b",
"shkeptnspecversion":"0.2.1","data":{{"project":"sockshop","stage":"staging","service":"carts",
"labels":{{"buildId":"17"}},"status":"succeeded","result":"pass","get-sli":{{"start":"2021-03-04T10:00:00.000Z",
"end":"2021-03-04T10:10:00.000Z","indicatorValues":[{}]}}}}}}"#,
        values.join(",")
    )
}

const GEN1_DEPLOYMENT_FINISHED: &str = r#"{"specversion":"0.2","id":"a1","source":"helm-service",
"type":"sh.keptn.events.deployment-finished","contenttype":"application/json",
"shkeptncontext":"5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e","data":{"project":"sockshop","stage":"staging",
"service":"carts","teststrategy":"performance","deploymentstrategy":"blue_green_service",
"image":"docker.io/keptnexamples/carts","tag":"0.11.2","deploymentURILocal":"http://carts-canary.sockshop-staging"}}"#;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    for n in [3, 100] {
        let src = get_sli_finished(n);
        g.throughput(Throughput::Bytes(src.len() as u64));
        g.bench_function(format!("from_json_str/get-sli.finished/{n}"), |b| {
            b.iter(|| KeptnEvent::from_json_str(black_box(&src)).unwrap())
        });
        let ev = KeptnEvent::from_json_str(&src).unwrap();
        g.bench_function(format!("to_json_string/get-sli.finished/{n}"), |b| {
            b.iter(|| black_box(&ev).to_json_string())
        });
        g.bench_function(format!("validate/get-sli.finished/{n}"), |b| {
            b.iter(|| black_box(&ev).validate().unwrap())
        });
    }
    g.throughput(Throughput::Elements(1));
    let gen1 = KeptnEvent::from_json_str(GEN1_DEPLOYMENT_FINISHED).unwrap();
    g.bench_function("to_gen2/deployment-finished", |b| {
        b.iter(|| black_box(&gen1).to_gen2())
    });
    let types = [
        "sh.keptn.event.deployment.triggered",
        "sh.keptn.event.production.remediation.finished",
        "sh.keptn.event.project.create.status.changed",
        "sh.keptn.events.evaluation-done",
    ];
    g.throughput(Throughput::Elements(types.len() as u64));
    g.bench_function("event_type/parse+display", |b| {
        b.iter(|| {
            for t in types {
                let ty: EventType = black_box(t).parse().unwrap();
                black_box(ty.to_string());
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("context/derive", |b| {
        b.iter(|| KeptnContext::derive(black_box("-2389542023040931083_1576063740000V2")))
    });
    let sink = MemoryEventSink::new();
    g.bench_function("memory_sink/emit", |b| {
        b.iter(|| {
            sink.emit(black_box(&gen1));
            if sink.len() > 10_000 {
                sink.clear();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
