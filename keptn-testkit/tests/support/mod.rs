//! Shared pieces of the fault tests: clients with short bounds, a two-indicator SLO, healthy
//! answers to compare against.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_prometheus::{PrometheusClient, PrometheusSliProvider};
use keptn_slo::{EvaluationContext, InMemoryHistory, QualityGate, SliProvider, SliQuery};
use keptn_spec::retry::RetryPolicy;
use keptn_spec::sli::SliConfig;
use keptn_spec::{Slo, Verdict};
use keptn_testkit::{Fault, FaultServer, Reply, Request};
use secrecy::SecretString;

/// No call of a test may take longer than this (clients are bounded far below it).
pub const BOUND: Duration = Duration::from_secs(5);
/// One attempt's timeout.
pub const ATTEMPT: Duration = Duration::from_millis(300);
/// One call's total bound, retries and waits included.
pub const TOTAL: Duration = Duration::from_millis(1500);

/// The gate: error rate at most 5 %, p95 latency below 600 ms, both needed to pass.
pub const SLO: &str = "objectives:
  - sli: error_rate
    pass: [{ criteria: ['<=0.05'] }]
  - sli: response_time_p95
    pass: [{ criteria: ['<600'] }]
total_score: { pass: '90%', warning: '75%' }
";

/// The PromQL of the error rate in the fault tests' `sli.yaml`.
pub const ERROR_QUERY: &str = "sum(rate(errors[1m]))";
/// The PromQL of the latency.
pub const LATENCY_QUERY: &str = "histogram_quantile(0.95, latency)";
/// The Dynatrace metric selector of the error rate.
pub const DT_ERRORS: &str = "calc:service.errors:merge(0):avg";
/// The Dynatrace metric selector of the latency.
pub const DT_LATENCY: &str = "calc:service.latency:merge(0):avg";
/// The API token of the fake tenant.
pub const DT_TOKEN: &str = "dt0c01.FAULTS";

fn retry() -> RetryPolicy {
    RetryPolicy::new(2, Duration::from_millis(50), Duration::from_millis(100))
}

/// A Prometheus instant-query answer: one series with `value`, or no series.
pub fn vector(value: Option<f64>) -> String {
    match value {
        Some(v) => format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1700000000,"{v}"]}}]}}}}"#
        ),
        None => r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_owned(),
    }
}

/// The healthy answer to one query: 1 % errors, 120 ms latency.
pub fn healthy_answer(r: &Request) -> Fault {
    let value = match r.param("query").as_deref() {
        Some(ERROR_QUERY) => Some(0.01),
        Some(LATENCY_QUERY) => Some(120.0),
        _ => None,
    };
    Fault::Reply(Reply::json(200, vector(value)))
}

/// Routes the query endpoint of `server` to healthy answers.
pub fn healthy_prometheus(server: &FaultServer) {
    server.route_with("/api/v1/query", healthy_answer);
}

/// The Prometheus SLI provider for `url` with short bounds and the tests' queries.
pub fn prometheus_provider(url: &str) -> PrometheusSliProvider {
    let client = PrometheusClient::builder(url)
        .timeout(ATTEMPT)
        .connect_timeout(ATTEMPT)
        .total_timeout(TOTAL)
        .retry(retry())
        .build()
        .unwrap();
    let config = SliConfig::from_yaml_str(&format!(
        "indicators:\n  error_rate: '{ERROR_QUERY}'\n  response_time_p95: '{LATENCY_QUERY}'\n"
    ))
    .unwrap();
    PrometheusSliProvider::new(client).with_sli_config(config)
}

/// A gate on the Prometheus at `url`.
pub fn prometheus_gate(url: &str) -> QualityGate {
    gate(Arc::new(prometheus_provider(url)))
}

/// The Dynatrace SLI provider for the tenant at `url` with short bounds.
pub fn dynatrace_provider(url: &str) -> Arc<dyn SliProvider> {
    let client = DynatraceClient::builder(url)
        .api_token(SecretString::from(DT_TOKEN))
        .timeout(ATTEMPT)
        .connect_timeout(ATTEMPT)
        .total_timeout(TOTAL)
        .retry(retry())
        .build()
        .unwrap();
    let config = SliConfig::from_yaml_str(&format!(
        "indicators:\n  error_rate: \"metricSelector={DT_ERRORS}&entitySelector=type(SERVICE)\"\n  \
         response_time_p95: \"metricSelector={DT_LATENCY}&entitySelector=type(SERVICE)\"\n"
    ))
    .unwrap();
    Arc::new(
        DynatraceSliProvider::new(client)
            .with_settle_time(Duration::ZERO)
            .with_sli_config(config),
    )
}

/// The Dynatrace provider on a fake tenant.
pub fn dynatrace_tenant_provider(tenant: &FakeTenant) -> Arc<dyn SliProvider> {
    dynatrace_provider(&tenant.uri())
}

/// A fake tenant answering both indicators healthily.
pub async fn healthy_tenant() -> FakeTenant {
    let tenant = FakeTenant::start(DT_TOKEN).await;
    tenant.set_value(DT_ERRORS, Some(0.01));
    tenant.set_value(DT_LATENCY, Some(120.0));
    tenant
}

/// A gate on the Dynatrace `provider`.
pub fn dynatrace_gate(provider: Arc<dyn SliProvider>) -> QualityGate {
    gate(provider)
}

fn gate(provider: Arc<dyn SliProvider>) -> QualityGate {
    QualityGate::new(provider, Arc::new(InMemoryHistory::new()))
        .with_timeout(Duration::from_secs(3))
}

/// The query of the last five minutes for sockshop/staging/carts.
pub fn query() -> SliQuery {
    let end = chrono::Utc::now();
    SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        end - chrono::Duration::minutes(5),
        end,
        Vec::new(),
    )
}

/// Evaluates the tests' SLO through `gate`: the verdict, every message (the evaluation's and
/// each indicator's), and how long it took.
pub async fn gate_verdict(gate: &QualityGate) -> (Verdict, Vec<String>, Duration) {
    let slo = Slo::from_yaml_str(SLO).unwrap();
    let ctx = EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let started = Instant::now();
    let evaluation = gate
        .evaluate(Some(&slo), &query(), &ctx, format!("e-{}", fastid()))
        .await
        .unwrap();
    let took = started.elapsed();
    let mut messages = vec![evaluation.data.message.clone()];
    for r in evaluation.data.evaluation.indicator_results() {
        if let Some(v) = r.value() {
            messages.push(format!("{}: success={} {}", v.metric, v.success, v.message));
        }
    }
    (evaluation.verdict(), messages, took)
}

fn fastid() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}
