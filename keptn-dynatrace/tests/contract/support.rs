//! Shared helpers of the contract tests.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, RetryPolicy};
use keptn_slo::SliQuery;
use secrecy::SecretString;

pub(crate) const TOKEN: &str = "dt0c01.FAKE.SECRET-TOKEN-VALUE";

pub(crate) async fn tenant() -> FakeTenant {
    FakeTenant::start(TOKEN).await
}

/// A client for `tenant` with fast retries.
#[track_caller]
pub(crate) fn client(uri: &str) -> DynatraceClient {
    DynatraceClient::builder(uri)
        .api_token(SecretString::from(TOKEN))
        .retry(RetryPolicy::new(
            4,
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
        .timeout(Duration::from_secs(5))
        .total_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap()
}

pub(crate) fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 10, 0).unwrap()
}

pub(crate) fn query(indicators: &[&str]) -> SliQuery {
    SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        start(),
        end(),
        indicators.iter().map(|s| (*s).to_owned()).collect(),
    )
    .with_deployment("canary")
}
