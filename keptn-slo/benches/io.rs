//! What `slo_evaluate` spends besides the engine: reading a 10,000-objective SLO, its SLI
//! values and 10 previous evaluations as Keptn writes them (about 30 MB of JSON), and writing
//! the `evaluation.finished` data.
//!
//! `read_previous` parses the previous evaluations in full, `read_previous_lean` only what the
//! evaluation reads (what `slo_evaluate` does), `read_slo` the SLO (`read_slo_located`
//! with the field-path recorder and source map that `Slo::from_yaml_str` only builds to locate
//! an error; the cost it paid on every parse before), `read_sli` the SLI values, `write_json` prints the result as `slo_evaluate --format json` does, and
//! `whole` does all of it with the evaluation in between (the process minus start-up and file
//! reads).
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keptn_slo::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::Slo;

const N: usize = 10_000;

fn slo_yaml() -> String {
    let mut y = String::from(
        "spec_version: \"1.0\"\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 10\n  include_result_with_score: all\n  aggregate_function: avg\nobjectives:\n",
    );
    for i in 0..N {
        let _ = write!(
            y,
            "  - sli: sli_{i}\n    displayName: \"SLI {i}\"\n    pass:\n      - criteria:\n          - \"<=+10%\"\n          - \"<600\"\n    warning:\n      - criteria:\n          - \"<=800\"\n    weight: 1\n"
        );
    }
    y.push_str("total_score:\n  pass: \"90%\"\n  warning: \"75%\"\n");
    y
}

fn sli_json() -> String {
    let mut s = String::from("{\"status\":\"succeeded\",\"result\":\"pass\",\"indicatorValues\":[");
    for i in 0..N {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"metric\":\"sli_{i}\",\"value\":{}.5,\"success\":true}}",
            380 + (i % 100) * 3
        );
    }
    s.push_str("]}");
    s
}

/// Ten previous evaluations, newest first, as Keptn's datastore returns their data (pretty
/// printed, as `slo_evaluate --format json` writes them).
fn previous_json() -> String {
    let mut s = String::from("[\n");
    for e in 0..10 {
        if e > 0 {
            s.push_str(",\n");
        }
        let _ = write!(
            s,
            "  {{\n    \"id\": \"e{e}\",\n    \"project\": \"sockshop\",\n    \"stage\": \"staging\",\n    \"service\": \"carts\",\n    \"status\": \"succeeded\",\n    \"result\": \"pass\",\n    \"message\": \"\",\n    \"evaluation\": {{\n      \"timeStart\": \"2026-01-01T00:00:00.000Z\",\n      \"timeEnd\": \"2026-01-01T00:10:00.000Z\",\n      \"result\": \"pass\",\n      \"score\": 100,\n      \"sloFileContent\": \"\",\n      \"indicatorResults\": [\n"
        );
        for i in 0..N {
            if i > 0 {
                s.push_str(",\n");
            }
            let v = 400 + i % 50 + e;
            let _ = write!(
                s,
                "        {{\n          \"score\": 1,\n          \"value\": {{\n            \"metric\": \"sli_{i}\",\n            \"value\": {v}.25,\n            \"comparedValue\": {v},\n            \"success\": true\n          }},\n          \"displayName\": \"SLI {i}\",\n          \"passTargets\": [\n            {{\"criteria\": \"<=+10%\", \"targetValue\": {}, \"violated\": false}},\n            {{\"criteria\": \"<600\", \"targetValue\": 600, \"violated\": false}}\n          ],\n          \"warningTargets\": [\n            {{\"criteria\": \"<=800\", \"targetValue\": 800, \"violated\": false}}\n          ],\n          \"keySli\": false,\n          \"status\": \"pass\"\n        }}",
                v + v / 10
            );
        }
        s.push_str(
            "\n      ],\n      \"comparedEvents\": [],\n      \"gitCommit\": \"\"\n    }\n  }",
        );
    }
    s.push_str("\n]\n");
    s
}

fn bench(c: &mut Criterion) {
    let (slo_text, sli_text, previous_text) = (slo_yaml(), sli_json(), previous_json());
    eprintln!(
        "inputs: SLO {} bytes, SLI {} bytes, previous {} bytes",
        slo_text.len(),
        sli_text.len(),
        previous_text.len()
    );
    let mut group = c.benchmark_group("io");
    group.sample_size(10);
    group.bench_function("read_previous", |b| {
        b.iter(|| {
            serde_json::from_str::<Vec<PreviousEvaluation>>(black_box(&previous_text)).unwrap()
        });
    });
    group.bench_function("read_previous_lean", |b| {
        b.iter(|| PreviousEvaluation::baselines_from_json_str(black_box(&previous_text)).unwrap());
    });
    group.bench_function("read_slo", |b| {
        b.iter(|| Slo::from_yaml_str(black_box(&slo_text)).unwrap());
    });
    group.bench_function("read_slo_located", |b| {
        b.iter(|| {
            keptn_spec::ParseOptions::new()
                .parse::<Slo>(black_box(&slo_text))
                .unwrap()
        });
    });
    group.bench_function("read_sli", |b| {
        b.iter(|| SliReport::from_json_str(black_box(&sli_text)).unwrap());
    });
    let slo = Slo::from_yaml_str(&slo_text).unwrap();
    let sli = SliReport::from_json_str(&sli_text).unwrap();
    let previous: Vec<PreviousEvaluation> = serde_json::from_str(&previous_text).unwrap();
    let ctx = EvaluationContext::default().with_slo_file(&slo_text);
    let evaluation = evaluate(Some(&slo), &sli, &previous, &ctx);
    group.bench_function("write_json", |b| {
        b.iter(|| serde_json::to_string_pretty(black_box(&evaluation.data)).unwrap());
    });
    group.bench_function("whole", |b| {
        b.iter(|| {
            let slo = Slo::from_yaml_str(&slo_text).unwrap();
            let sli = SliReport::from_json_str(&sli_text).unwrap();
            let previous = PreviousEvaluation::baselines_from_json_str(&previous_text).unwrap();
            let ctx = EvaluationContext::default().with_slo_file(&slo_text);
            let e = evaluate(Some(&slo), &sli, &previous, &ctx);
            serde_json::to_string_pretty(&e.data).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
