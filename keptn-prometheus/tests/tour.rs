//! The tour's Prometheus path in one run, against a real Prometheus and Alertmanager that
//! [`MonitoringStack`] starts (skipped with a message when their binaries are missing):
//!
//! keptn-local stage proxies with real traffic → Prometheus scraping their `/metrics` → a
//! `ControlPlane` evaluation whose `get-sli` is answered by `PrometheusSliProvider` with the
//! default queries (fast canary passes, slow canary fails) → an alert rule generated from the
//! production SLO fires → Alertmanager → [`AlertReceiver`] → `problem.open` into the control
//! plane → its remediation runs the action that repairs the service → the alert resolves →
//! the problem closes and the remediation finishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use keptn_control::executors::{
    ActionExecutor, GetActionExecutor, Lighthouse, REMEDIATION_URI, SLO_URI, SliProviderExecutor,
};
use keptn_control::{ControlPlane, REMEDIATION_SEQUENCE, ResourceScope, SequenceOutcome};
use keptn_local::{RequestRecorder, StageProxy, Upstream};
use keptn_prometheus::stack::{Binaries, MonitoringStack, ScrapeTarget};
use keptn_prometheus::{
    AlertReceiver, PROVIDER_NAME, PrometheusSliProvider, RuleOptions, alert_rules,
};
use keptn_remediate::{ActionContext, ActionOutcome, ActionRegistry, RemediationAction};
use keptn_spec::event::{
    EventType, KeptnContext, KeptnEvent, Phase, ProblemEventData, ProblemState, Verdict,
};
use keptn_spec::{ProjectName, ServiceName, Slo, StageName};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: staging
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
              triggeredAfter: 10m
";

/// The staging gate: Keptn's default SLIs, error rate as a ratio (as Prometheus' default query
/// computes it).
const STAGING_SLO: &str = "objectives:
  - sli: response_time_p95
    pass: [{criteria: ['<=150']}]
  - sli: error_rate
    pass: [{criteria: ['<=0.1']}]
  - sli: throughput
total_score: {pass: '90%', warning: '75%'}
";

const PRODUCTION_SLO: &str = "objectives:
  - sli: error_rate
    pass: [{criteria: ['<=0.1']}]
total_score: {pass: '90%', warning: '75%'}
";

const REMEDIATION: &str = "apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts-remediation}
spec:
  remediations:
    - problemType: Failure rate increase
      actionsOnOpen:
        - name: Turn the item cache back on
          action: toggle-feature
          value: {EnableItemCache: 'on'}
";

/// A service whose latency and failures the test controls.
#[derive(Debug, Default)]
struct Knobs {
    delay_ms: AtomicU64,
    failing: AtomicBool,
}

async fn service(label: &str, knobs: Arc<Knobs>) -> Arc<Upstream> {
    let app = Router::new().route(
        "/",
        get(move || {
            let knobs = knobs.clone();
            async move {
                let delay = knobs.delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                if knobs.failing.load(Ordering::SeqCst) {
                    (StatusCode::INTERNAL_SERVER_ERROR, "failing")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Arc::new(Upstream::new(label, "0.11.1", addr))
}

/// The remediation action: "turns the cache on", which repairs production.
#[derive(Debug)]
struct Repair(Arc<Knobs>);

#[async_trait]
impl RemediationAction for Repair {
    fn name(&self) -> &str {
        "toggle-feature"
    }

    async fn execute(&self, _ctx: &ActionContext) -> ActionOutcome {
        self.0.failing.store(false, Ordering::SeqCst);
        ActionOutcome::succeeded("EnableItemCache on", Vec::new())
    }
}

/// Keeps `concurrency` request loops running against `url` until the task is aborted.
fn load(url: &str, concurrency: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    (0..concurrency)
        .map(|_| {
            let (http, url) = (http.clone(), url.to_owned());
            tokio::spawn(async move {
                loop {
                    let _ = http.get(&url).send().await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect()
}

fn names() -> (ProjectName, StageName, StageName, ServiceName) {
    (
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "production".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

/// Measures `window` of canary traffic, then runs the staging evaluation over it.
async fn gate(plane: &ControlPlane, window: Duration) -> (SequenceOutcome, Duration) {
    let start = Utc::now();
    tokio::time::sleep(window).await;
    let end = Utc::now();
    let window_closed = Instant::now();
    // Two scrape intervals: the last samples of the window are in Prometheus.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let data = json!({"project": "sockshop", "stage": "staging", "service": "carts",
        "evaluation": {"start": start, "end": end},
        "deployment": {"deploymentNames": ["canary"]}});
    let ty =
        EventType::sequence("staging".parse().unwrap(), "evaluation", Phase::Triggered).unwrap();
    let event = KeptnEvent::new(ty, "tour-test", KeptnContext::new_random(), &data);
    let ctx = plane.send(event).await.unwrap();
    let mut outcomes = plane.wait(ctx, Duration::from_secs(60)).await.unwrap();
    (outcomes.remove(0), window_closed.elapsed())
}

/// The value the gate measured for `sli` (it must have succeeded).
fn measured(outcome: &SequenceOutcome, sli: &str) -> f64 {
    let evaluation = outcome
        .task("evaluation")
        .and_then(|t| t.evaluation.as_ref())
        .unwrap_or_else(|| panic!("no evaluation in {outcome:?}"));
    let value = evaluation
        .evaluation
        .indicator_results()
        .iter()
        .filter_map(|r| r.value.as_ref())
        .find(|v| &*v.metric == sli)
        .unwrap_or_else(|| panic!("no {sli} in {evaluation:?}"));
    assert!(value.success, "{sli} failed: {}", value.message);
    value.value
}

async fn next_problem(rx: &mut UnboundedReceiver<KeptnEvent>, open: bool) -> KeptnEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(90), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no problem (open: {open}) arrived within 90 s"))
            .expect("receiver gone");
        if (event.ty == EventType::ProblemOpen) == open {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_path_of_the_tour() {
    let binaries = match Binaries::find() {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "skipping the tour's Prometheus path: {e} (set PROMETHEUS_BIN and ALERTMANAGER_BIN)"
            );
            return;
        }
    };
    let (project, staging, production, svc) = names();

    // Stage proxies in front of services the test controls.
    let staging_knobs = Arc::new(Knobs::default());
    let production_knobs = Arc::new(Knobs::default());
    staging_knobs.delay_ms.store(2, Ordering::SeqCst);
    let any = "127.0.0.1:0".parse().unwrap();
    let staging_proxy = StageProxy::start(any, Arc::new(RequestRecorder::default()))
        .await
        .unwrap();
    staging_proxy.route_to(Some(service("canary", staging_knobs.clone()).await));
    let production_proxy = StageProxy::start(any, Arc::new(RequestRecorder::default()))
        .await
        .unwrap();
    production_proxy.route_to(Some(service("primary", production_knobs.clone()).await));

    // Prometheus + Alertmanager, with the rules generated from the production SLO.
    let (receiver, mut problems) = AlertReceiver::start(any).await.unwrap();
    let rule_provider = PrometheusSliProvider::new(
        keptn_prometheus::PrometheusClient::builder("http://127.0.0.1:9")
            .build()
            .unwrap(),
    );
    let (rules, skipped) = alert_rules(
        &rule_provider,
        &project,
        &svc,
        &[(
            production.clone(),
            Slo::from_yaml_str(PRODUCTION_SLO).unwrap(),
        )],
        &RuleOptions::default()
            .with_window(Duration::from_secs(4))
            .with_for(Duration::from_secs(1)),
    );
    assert!(skipped.is_empty(), "{skipped:?}");
    eprintln!("generated rules:\n{}", rules.to_yaml().unwrap());
    let stack = MonitoringStack::builder()
        .binaries(binaries)
        .scrape(ScrapeTarget::new(
            project.clone(),
            staging.clone(),
            svc.clone(),
            staging_proxy.addr(),
        ))
        .scrape(ScrapeTarget::new(
            project.clone(),
            production.clone(),
            svc.clone(),
            production_proxy.addr(),
        ))
        .rules(project.clone(), svc.clone(), rules)
        .webhook(receiver.url())
        .start()
        .await
        .unwrap();

    // The control plane: gate SLIs from Prometheus, remediation through the action above.
    let provider = PrometheusSliProvider::new(stack.client().unwrap());
    let plane = ControlPlane::builder()
        .project(project.clone(), SHIPYARD)
        .executor(Lighthouse::new(PROVIDER_NAME))
        .executor(SliProviderExecutor::new(Arc::new(provider)))
        .executor(GetActionExecutor::new())
        .executor(ActionExecutor::new(
            ActionRegistry::new().with(Repair(production_knobs.clone())),
        ))
        .build()
        .await
        .unwrap();
    let staging_scope = ResourceScope::service(project.clone(), staging.clone(), svc.clone());
    plane
        .put_resource(&staging_scope, SLO_URI, STAGING_SLO)
        .await
        .unwrap();
    let production_stage = ResourceScope::stage(project.clone(), production.clone());
    plane
        .put_resource(&production_stage, REMEDIATION_URI, REMEDIATION)
        .await
        .unwrap();

    let mut traffic = load(&staging_proxy.url(), 4);
    traffic.extend(load(&production_proxy.url(), 2));

    let scraped = Instant::now();
    for job in [
        "carts-sockshop-staging-canary",
        "carts-sockshop-production-primary",
    ] {
        stack
            .wait_for_series(
                &format!("http_requests_total{{job='{job}'}}"),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    eprintln!("first scrape of both proxies after {:?}", scraped.elapsed());

    // A fast canary passes the gate …
    let (fast, fast_took) = gate(&plane, Duration::from_secs(6)).await;
    assert_eq!(fast.result, Verdict::Pass, "{fast:?}");
    // … a slow one fails it.
    staging_knobs.delay_ms.store(300, Ordering::SeqCst);
    let (slow, slow_took) = gate(&plane, Duration::from_secs(6)).await;
    assert_eq!(slow.result, Verdict::Fail, "{slow:?}");
    let (fast_p95, slow_p95) = (
        measured(&fast, "response_time_p95"),
        measured(&slow, "response_time_p95"),
    );
    assert!(fast_p95 < 100.0, "fast p95 {fast_p95} ms");
    // 300 ms lies in the bucket (250, 300] or, with the proxy's overhead on a busy machine, above.
    assert!(
        (250.0..=500.0).contains(&slow_p95),
        "slow p95 {slow_p95} ms"
    );
    assert_eq!(measured(&slow, "error_rate"), 0.0);
    assert!(measured(&fast, "throughput") > 10.0);
    eprintln!("gate p95: fast {fast_p95:.2} ms, slow {slow_p95:.2} ms");
    eprintln!(
        "window end to gate verdict: fast {fast_took:?}, slow {slow_took:?} (2 s of it waiting for the last scrape)"
    );

    // Production starts failing: the generated rule fires and the problem reaches the plane.
    let broke = Instant::now();
    production_knobs.failing.store(true, Ordering::SeqCst);
    let open = next_problem(&mut problems, true).await;
    let to_problem = broke.elapsed();
    let data: ProblemEventData = open.data_as().unwrap();
    assert_eq!(
        data.problem.problem_title.as_deref(),
        Some("Failure rate increase")
    );
    assert_eq!(data.common.stage.as_ref(), Some(&production));
    let ctx = plane.send(open).await.unwrap();
    let running = plane
        .wait_until(ctx, Duration::from_secs(30), |o| {
            o.first().is_some_and(|s| s.task("action").is_some())
        })
        .await
        .unwrap();
    assert_eq!(running[0].sequence, REMEDIATION_SEQUENCE);
    assert!(
        !production_knobs.failing.load(Ordering::SeqCst),
        "the action repaired production"
    );
    let repaired = Instant::now();

    // Repaired: the alert resolves and the problem closes, finishing the remediation.
    let closed = next_problem(&mut problems, false).await;
    let to_close = repaired.elapsed();
    let data: ProblemEventData = closed.data_as().unwrap();
    assert_eq!(data.problem.state, Some(ProblemState::Closed));
    assert_eq!(plane.send(closed).await.unwrap(), ctx);
    let done = plane.wait(ctx, Duration::from_secs(30)).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].result, Verdict::Pass);
    assert_eq!(done[0].message, "the problem was closed");
    eprintln!("failure to problem.open: {to_problem:?}; repair to problem closed: {to_close:?}");

    for t in traffic {
        t.abort();
    }
}
