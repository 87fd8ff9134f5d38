//! Dynatrace for Keptn-style delivery: an SLI provider on the Metrics API v2, the monitoring
//! set-up of `keptn configure monitoring dynatrace`, problem notifications and event forwarding.
//!
//! - [`DynatraceClient`]: one tenant (`<id>.live.dynatrace.com`, `<domain>/e/<id>` or a URL),
//!   an `Api-Token` kept as a [`secrecy::SecretString`] (never in logs, errors or `Debug`),
//!   per-attempt and total timeouts, retries with backoff and jitter ([`RetryPolicy`]).
//! - [`DynatraceSliProvider`]: Keptn's dynatrace-sli-service as a [`keptn_slo::SliProvider`]
//!   (default queries, both `sli.yaml` query forms, `MV2;`/`SLO;`/`PV2;`, µs→ms, ingestion
//!   settle time, concurrent fetching, no data is never `0`).
//! - [`MonitoringSetup`]: tagging rules, alerting profile, problem notification, management
//!   zones and dashboard; idempotent, with a dry run and a [`SetupReport`].
//! - [`ProblemNotification`]: Dynatrace's webhook payload → Keptn problem events.
//! - [`EventForwarder`]: Keptn events → Dynatrace events (`/api/v1/events`, `/api/v2/events/ingest`).
//! - [`DynatraceClient::ingest_metrics`]: data points in the line protocol ([`MetricLine`],
//!   `/api/v2/metrics/ingest`, batched); [`MetricEvent`]: static-threshold anomaly detection;
//!   [`DynatraceClient::problems`]: the Problems API v2, turned into the same
//!   [`ProblemNotification`] a webhook would carry ([`DynatraceProblem::to_notification`]).
//! - `testing::FakeTenant` (feature `testing`): a fake tenant following the published API.
//!
//! ```no_run
//! use std::time::Duration;
//! use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
//! use keptn_slo::{SliProvider, SliQuery};
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = DynatraceClient::builder("abc123.live.dynatrace.com")
//!     .api_token(SecretString::from(std::env::var("DT_API_TOKEN")?))
//!     .build()?;
//! let provider = DynatraceSliProvider::new(client).with_settle_time(Duration::from_secs(120));
//! let end = chrono::Utc::now();
//! let query = SliQuery::new(
//!     "sockshop".parse()?, "staging".parse()?, "carts".parse()?,
//!     end - chrono::Duration::minutes(10), end,
//!     vec!["response_time_p95".to_owned(), "error_rate".to_owned()],
//! )
//! .with_deployment("canary");
//! for value in provider.fetch_slis(&query).await? {
//!     println!("{}: {} ({})", value.metric, value.value, value.success);
//! }
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod events;
#[cfg(feature = "testing")]
mod fake_store;
mod ingest;
mod metrics;
mod monitoring;
mod problem;
mod problems;
mod provider;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use client::{DynatraceClient, DynatraceClientBuilder};
pub use error::{Error, Result};
pub use events::{
    DYNATRACE_EVENT_SOURCE, DynatraceEvent, EventForwarder, dynatrace_events, forwarded_event_types,
};
pub use ingest::{
    IngestReport, InvalidLine, MAX_BYTES_PER_REQUEST, MAX_LINES_PER_REQUEST, MetricLine,
    MetricValue,
};
/// The retry policy of the client (the one every keptn-rs HTTP client follows).
pub use keptn_spec::retry::RetryPolicy;
pub use metrics::{MetricData, MetricSeries, MetricSeriesCollection, default_query};
pub use monitoring::{
    ALERTING_PROFILE_NAME, Action, AlertCondition, ConfigKind, KEPTN_TAGS, KeptnEndpoint,
    MetricEvent, Mode, MonitoringSetup, NOTIFICATION_NAME, PROBLEM_PAYLOAD_TEMPLATE, ReportItem,
    SetupReport, dashboard_name,
};
pub use problem::{EVENT_SOURCE, ProblemNotification, ProblemStatus};
pub use problems::{DynatraceProblem, EntityStub, EntityTag, quote_selector_value};
pub use provider::{DynatraceSliProvider, PROVIDER_NAME};
/// The HTTP client crate whose `Client` [`DynatraceClientBuilder::http_client`] takes.
pub use reqwest;
/// The secret type the builder's API token is.
pub use secrecy::SecretString;
