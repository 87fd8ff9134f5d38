//! Prometheus for Keptn-style delivery: PromQL SLIs for the quality gate, alert rules generated
//! from SLOs, and Alertmanager alerts turned into Keptn problem events.
//!
//! - [`PrometheusClient`]: one Prometheus (or a proxy in front of it), bearer or basic
//!   [`Auth`] kept as [`secrecy::SecretString`] (never in logs, errors or `Debug`), per-attempt
//!   and total timeouts, retries of transient failures by the workspace's one [`RetryPolicy`].
//! - [`PrometheusSliProvider`]: Keptn's prometheus-service as a [`keptn_slo::SliProvider`]:
//!   `prometheus/sli.yaml` queries with Keptn's placeholders ([`QueryScope`]), Keptn's default
//!   queries for `throughput`, `error_rate`, `response_time_p50/p90/p95`, instant queries at the
//!   window's end, concurrent fetching, and a failed value (never `0`) for an empty vector,
//!   several series, `NaN` or a PromQL error.
//! - Monitoring set-up: [`alert_rules`] turns a project's SLOs into Prometheus alerting rules
//!   (one per objective with an absolute pass criterion, labelled `project`/`stage`/`service`),
//!   [`AlertmanagerConfig`] the receiver that posts them to the control plane, and
//!   [`write_monitoring_files`] writes both where `rule_files:` finds them.
//! - Problem intake: [`WebhookPayload`] reads Alertmanager's webhook (version 4) and turns each
//!   alert group into a Keptn problem event (firing → open, resolved → closed, one Keptn
//!   context per group).
//! - With the `stack` feature: [`stack::MonitoringStack`] runs a real Prometheus and
//!   Alertmanager as child processes with generated configuration (scraping keptn-local's stage
//!   proxies, the SLO's rules, a webhook), and [`AlertReceiver`] is an embedded webhook
//!   receiver turning notifications into problem events on a channel.
//!
//! The whole path runs in Keptn's tour: `cargo run -p keptn-examples --example full_tour --
//! --monitoring prometheus` starts the stack over the tour's stage proxies, takes the staging
//! gate's SLIs from it with the default queries (`error_rate` is a ratio, 0..1, and counts every
//! non-2xx request) and the production problem from the rule generated from the production SLO,
//! through Alertmanager, into the control plane; `scripts/full-tour-prometheus-smoke.sh` checks
//! the story and prints the timings.
//!
//! ```no_run
//! use keptn_prometheus::{Auth, PrometheusClient, PrometheusSliProvider};
//! use keptn_slo::{SliProvider, SliQuery};
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = PrometheusClient::builder("http://127.0.0.1:9090")
//!     .auth(Auth::Bearer(SecretString::from(std::env::var("PROMETHEUS_TOKEN")?)))
//!     .build()?;
//! let provider = PrometheusSliProvider::new(client);
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
// The front page links to the `stack` feature's items; without the feature they are plain text.
#![cfg_attr(not(feature = "stack"), allow(rustdoc::broken_intra_doc_links))]

mod alertmanager;
mod client;
mod error;
mod provider;
mod queries;
#[cfg(feature = "stack")]
mod receiver;
mod rules;
#[cfg(feature = "stack")]
#[cfg_attr(docsrs, doc(cfg(feature = "stack")))]
pub mod stack;

pub use alertmanager::{Alert, AlertStatus, EVENT_SOURCE, WebhookPayload};
pub use client::{
    Auth, PrometheusClient, PrometheusClientBuilder, QUERY_ENDPOINT, QueryResult, Sample,
};
pub use error::{Error, Result};
/// The retry policy of the client (the one every keptn-rs HTTP client follows).
pub use keptn_spec::retry::RetryPolicy;
pub use provider::{PROVIDER_NAME, PrometheusSliProvider, scope_of};
pub use queries::{DEFAULT_SLIS, QueryScope};
#[cfg(feature = "stack")]
#[cfg_attr(docsrs, doc(cfg(feature = "stack")))]
pub use receiver::{AlertReceiver, WEBHOOK_PATH};
pub use rules::{
    ALERT_LABELS, AlertRule, AlertmanagerConfig, RuleFile, RuleGroup, RuleOptions,
    SkippedObjective, alert_rules, problem_title, write_monitoring_files,
};
