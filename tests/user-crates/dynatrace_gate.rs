//! SLIs from keptn-dynatrace's fake tenant into keptn-slo's quality gate: a fast build passes,
//! a slow one fails on the build, and one for which the tenant has no data fails on the pipeline.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider, SecretString};
use keptn_slo::{FailedOn, InMemoryHistory, QualityGate, SliQuery, Slo, Verdict};

const P95: &str = "builtin:service.response.time:merge(0):percentile(95)";
const SLO: &str = "objectives:\n  - sli: response_time_p95\n    pass: [{ criteria: [\"<600\"] }]\n\
                   total_score: { pass: \"90%\" }\n";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tenant = FakeTenant::start("token").await;
    let client = DynatraceClient::builder(tenant.uri())
        .api_token(SecretString::from("token"))
        .build()?;
    let provider = DynatraceSliProvider::new(client).with_settle_time(Duration::ZERO);
    let gate = QualityGate::new(Arc::new(provider), Arc::new(InMemoryHistory::new()));
    let slo = Slo::from_yaml_str(SLO)?;
    for (build, p95, expected) in [
        ("0.11.1", Some(412_000.0), None),
        ("0.11.2", Some(1_412_000.0), Some(FailedOn::Build)),
        ("0.11.3", None, Some(FailedOn::Pipeline)), // no data is never 0: it fails, not the build
    ] {
        tenant.set_value(P95, p95); // microseconds, as Dynatrace reports them
        let (project, stage, service) = ("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
        let query = SliQuery::ending_at(
            project,
            stage,
            service,
            SystemTime::now(),
            Duration::from_secs(300),
        );
        let evaluation = gate
            .evaluate(Some(&slo), &query, &(&query).into(), build)
            .await?;
        println!(
            "{build}: {} {:?}",
            evaluation.verdict(),
            evaluation.failed_on()
        );
        assert_eq!(evaluation.failed_on(), expected);
        assert_eq!(evaluation.verdict() == Verdict::Pass, expected.is_none());
    }
    Ok(())
}
