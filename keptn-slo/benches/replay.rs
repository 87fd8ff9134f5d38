//! Replay speed: a recorded history of 10,000 evaluations (three objectives each, the tour's
//! response time, error rate and throughput) re-evaluated under a stricter SLO comparing with
//! the last three passing evaluations. `read` parses the history (JSON lines of
//! `evaluation.finished` events), `replay` re-evaluates it, `whole` does both. Target: under 1 s.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keptn_slo::replay::{read_recorded, replay};
use keptn_spec::Slo;

const N: usize = 10_000;

fn history() -> String {
    let mut s = String::new();
    for i in 0..N {
        let rt = 380.0 + (i % 37) as f64 * 7.5;
        let errors = (i % 11) as f64 * 0.2;
        let result = if rt < 600.0 { "pass" } else { "fail" };
        let _ = writeln!(
            s,
            r#"{{"specversion":"1.0","id":"e{i}","source":"lighthouse-service","type":"sh.keptn.event.evaluation.finished","time":"2026-01-01T00:00:00Z","data":{{"project":"sockshop","stage":"staging","service":"carts","status":"succeeded","result":"{result}","message":"","evaluation":{{"timeStart":"","timeEnd":"","result":"{result}","score":100,"sloFileContent":"","indicatorResults":[{{"score":1,"status":"pass","displayName":"","keySli":false,"value":{{"metric":"response_time_p95","value":{rt},"comparedValue":0,"success":true}},"passTargets":null,"warningTargets":null}},{{"score":1,"status":"pass","displayName":"","keySli":false,"value":{{"metric":"error_rate","value":{errors},"comparedValue":0,"success":true}},"passTargets":null,"warningTargets":null}},{{"score":0,"status":"info","displayName":"","keySli":false,"value":{{"metric":"throughput","value":{},"comparedValue":0,"success":true}},"passTargets":null,"warningTargets":null}}],"comparedEvents":null,"gitCommit":""}}}}}}"#,
            1000 + i % 100
        );
    }
    s
}

const SLO: &str = r#"
comparison: { compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg }
objectives:
  - sli: response_time_p95
    pass: [{ criteria: ["<=+5%", "<500"] }]
    warning: [{ criteria: ["<=800"] }]
  - sli: error_rate
    pass: [{ criteria: ["<=1"] }]
    key_sli: true
  - sli: throughput
total_score: { pass: "90%", warning: "75%" }
"#;

fn bench(c: &mut Criterion) {
    let text = history();
    let slo = Slo::from_yaml_str(SLO).unwrap();
    let recorded = read_recorded(&text).unwrap();
    let r = replay(&slo, &recorded);
    eprintln!(
        "history: {} bytes, {} evaluations, {} verdicts change",
        text.len(),
        recorded.len(),
        r.changed().count()
    );
    let mut group = c.benchmark_group("replay_10000");
    group.sample_size(10);
    group.bench_function("read", |b| {
        b.iter(|| read_recorded(black_box(&text)).unwrap());
    });
    group.bench_function("replay", |b| {
        b.iter(|| replay(black_box(&slo), black_box(&recorded)));
    });
    group.bench_function("whole", |b| {
        b.iter(|| replay(&slo, &read_recorded(black_box(&text)).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
