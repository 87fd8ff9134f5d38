//! How long remediation takes: selecting the entry for a problem, one in-memory round of the
//! workflow (events, action, verification; no wait), and — when `UNLEASH_URL`/`UNLEASH_TOKEN`
//! point at a real Unleash (`scripts/unleash.sh up`) — one round that turns a real flag off and
//! reads it back.
//!
//! `cargo bench -p keptn-remediate --bench round`

use std::hint::black_box;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use keptn_remediate::{
    ActionContext, ActionOutcome, ActionRegistry, Problem, RemediationAction, Remediator,
    Verification, Verifier, VerifyError, VerifyRequest,
};
use keptn_spec::event::MemoryEventSink;
use keptn_spec::remediation::RemediationFile;

#[derive(Debug)]
struct Noop;

#[async_trait]
impl RemediationAction for Noop {
    fn name(&self) -> &str {
        "noop"
    }
    async fn execute(&self, _ctx: &ActionContext) -> ActionOutcome {
        ActionOutcome::succeeded("done", Vec::new())
    }
}

#[derive(Debug)]
struct AlwaysResolved;

#[async_trait]
impl Verifier for AlwaysResolved {
    fn name(&self) -> &str {
        "always"
    }
    async fn verify(&self, _r: &VerifyRequest<'_>) -> Result<Verification, VerifyError> {
        Ok(Verification::Resolved("yes".into()))
    }
}

/// A 0.1.4 file with `n` problem types plus `default`.
fn big_file(n: usize) -> String {
    let mut yaml = String::from(
        "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata:\n  name: big\nspec:\n  remediations:\n",
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "    - problemType: Problem type number {i}\n      actionsOnOpen:\n        - action: noop\n          name: step\n          value:\n            Flag{i}: \"off\"\n"
        ));
    }
    yaml.push_str("    - problemType: default\n      actionsOnOpen:\n        - action: noop\n");
    yaml
}

fn problem(pid: String, title: &str) -> Problem {
    Problem::new(
        pid,
        title,
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap())
}

fn select(c: &mut Criterion) {
    let file: RemediationFile = keptn_spec::from_yaml_str(&big_file(100)).unwrap();
    let last = "Problem type number 99";
    let none = ("unknown", Some("also unknown"));
    c.bench_function("select/100 types, last one", |b| {
        b.iter(|| black_box(file.select(black_box(last), None)))
    });
    c.bench_function("select/100 types, default", |b| {
        b.iter(|| black_box(file.select(black_box(none.0), black_box(none.1))))
    });
    let yaml = big_file(100);
    c.bench_function("parse/100 types", |b| {
        b.iter(|| black_box(keptn_spec::from_yaml_str::<RemediationFile>(&yaml).unwrap()))
    });
}

fn round_in_memory(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let sink = MemoryEventSink::new();
    let remediator = Remediator::builder(ActionRegistry::new().with(Noop))
        .verifier(AlwaysResolved)
        .event_sink(sink.clone())
        .wait(Duration::ZERO)
        .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            &big_file(100),
            None,
        )
        .unwrap();
    let mut n = 0u64;
    c.bench_function("round/in-memory action, 9 events", |b| {
        b.iter(|| {
            n += 1;
            let report = rt.block_on(
                remediator.on_problem_open(problem(format!("PID-{n}"), "Problem type number 50")),
            );
            sink.clear();
            black_box(report)
        })
    });
}

#[cfg(feature = "unleash")]
fn round_real_unleash(c: &mut Criterion) {
    use keptn_remediate::unleash::secrecy::SecretString;
    use keptn_remediate::unleash::{
        FeatureToggleAction, FlagState, FlagStateVerifier, UnleashClient,
    };

    let (Ok(url), Ok(token)) = (std::env::var("UNLEASH_URL"), std::env::var("UNLEASH_TOKEN"))
    else {
        eprintln!(
            "skipping round/real Unleash: UNLEASH_URL/UNLEASH_TOKEN not set (scripts/unleash.sh up)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = UnleashClient::builder(url)
        .api_token(SecretString::from(token))
        .build()
        .unwrap();
    let flag = format!("BenchPromotion-{}", std::process::id());
    rt.block_on(client.create_flag(&flag)).unwrap();
    let remediator =
        Remediator::builder(ActionRegistry::new().with(FeatureToggleAction::new(client.clone())))
            .verifier(FlagStateVerifier::new(client.clone()))
            .wait(Duration::ZERO)
            .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            &format!("remediations:\n- name: Failure rate increase\n  actions:\n  - action: featuretoggle\n    value: {flag}:off\n"),
            None,
        )
        .unwrap();
    let mut group = c.benchmark_group("round");
    group.sample_size(20);
    let mut n = 0u64;
    group.bench_function("real Unleash: toggle off, read back, verify", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(client.set_flag(&flag, FlagState::On)).unwrap();
                n += 1;
                let started = std::time::Instant::now();
                let report = rt.block_on(
                    remediator
                        .on_problem_open(problem(format!("PID-{n}"), "Failure rate increase")),
                );
                total += started.elapsed();
                assert!(report.actions_succeeded(), "{report:?}");
            }
            total
        })
    });
    group.finish();
}

#[cfg(not(feature = "unleash"))]
fn round_real_unleash(_c: &mut Criterion) {}

criterion_group!(benches, select, round_in_memory, round_real_unleash);
criterion_main!(benches);
