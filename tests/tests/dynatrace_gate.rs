//! The Dynatrace SLI provider in the quality gate, against the fake tenant of
//! `keptn_dynatrace::testing` (a contract fake of Dynatrace's published API; no real tenant is
//! reachable from CI): the seed's staging gate passes 0.11.1, fails the slow 0.11.2 on
//! `response_time_p95`, and fails when Dynatrace has no data.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_slo::{EvaluationContext, InMemoryHistory, QualityGate, SliQuery};
use keptn_spec::{Slo, Verdict};
use secrecy::SecretString;

const P95: &str = "builtin:service.response.time:merge(0):percentile(95)";

const SLO: &str = r#"
spec_version: "0.1.1"
comparison:
  aggregate_function: avg
  compare_with: single_result
  include_result_with_score: pass
  number_of_comparison_results: 1
objectives:
  - sli: response_time_p95
    pass:
      - criteria: ["<=+10%", "<600"]
    warning:
      - criteria: ["<=800"]
total_score: { pass: "90%", warning: "75%" }
"#;

fn query(minute: u32) -> SliQuery {
    let start = Utc.with_ymd_and_hms(2024, 3, 1, 10, minute, 0).unwrap();
    SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        start,
        start + chrono::Duration::minutes(5),
        vec![],
    )
    .with_deployment("canary")
}

/// 0.11.1 (p95 = 412 ms) passes, 0.11.2 (p95 = 1 412 ms) fails, no data fails.
#[tokio::test]
async fn dynatrace_provider_drives_the_quality_gate() {
    let tenant = FakeTenant::start("gate-token").await;
    let client = DynatraceClient::builder(tenant.uri())
        .api_token(SecretString::from("gate-token"))
        .build()
        .unwrap();
    let provider = DynatraceSliProvider::new(client).with_settle_time(Duration::ZERO);
    let gate = QualityGate::new(Arc::new(provider), Arc::new(InMemoryHistory::new()));
    let slo = Slo::from_yaml_str(SLO).unwrap();
    let ctx = EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );

    tenant.set_value(P95, Some(412_000.0)); // µs, as Dynatrace reports it
    let first = gate
        .evaluate(Some(&slo), &query(0), &ctx, "e1")
        .await
        .unwrap();
    assert_eq!(first.verdict(), Verdict::Pass, "{first:#?}");

    tenant.set_value(P95, Some(1_412_000.0));
    let slow = gate
        .evaluate(Some(&slo), &query(10), &ctx, "e2")
        .await
        .unwrap();
    assert_eq!(slow.verdict(), Verdict::Fail, "{slow:#?}");

    tenant.set_value(P95, None);
    let missing = gate
        .evaluate(Some(&slo), &query(20), &ctx, "e3")
        .await
        .unwrap();
    assert_eq!(missing.verdict(), Verdict::Fail, "{missing:#?}");
}
