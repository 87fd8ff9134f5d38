//! `DynatraceSliProvider`: Keptn's dynatrace-sli-service as an [`SliProvider`].

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use keptn_slo::{FetchFailure, ProviderError, SliProvider, SliQuery, collect_values};
use keptn_spec::SliValue;
use keptn_spec::sli::{Placeholders, SliConfig};
use serde::Deserialize;

use crate::client::DynatraceClient;
use crate::error::{Error, Result};
use crate::metrics::{MetricData, Plan, default_query, plan, single_value};

/// The name Keptn uses for this provider (`sliProvider: dynatrace`).
pub const PROVIDER_NAME: &str = "dynatrace";

/// Fetches SLIs from Dynatrace's Metrics API v2, as Keptn's dynatrace-sli-service did.
///
/// For each SLI name the query comes from the SLI configuration (`dynatrace/sli.yaml`), else
/// from Keptn's defaults for `throughput`, `error_rate` and `response_time_p50/p90/p95`
/// ([`default_query`](crate::default_query)); other names fail with "unsupported SLI metric".
/// Supported query forms: `metricSelector=…&entitySelector=…`, the older `<selector>?scope=…`,
/// `MV2;<unit>;<query>`, `SLO;<slo id>` (the SLO's `evaluatedPercentage`) and `PV2;<params>`
/// (the number of problems). Response times of `builtin:service.response.time` are converted
/// from µs to ms.
///
/// **Ingestion delay.** Dynatrace needs time to ingest data points. Before querying, the
/// provider waits until the window's end is [`settle_time`](Self::with_settle_time) in the past
/// (default 120 s, what Keptn waited); a query without indicators returns at once. A window ending more than `max_future` (120 s) from now,
/// or starting after its end, is rejected.
///
/// **Concurrency and bounds.** All SLIs of one fetch run concurrently (at most
/// [`concurrency`](Self::with_concurrency), default 10, at a time), so k SLIs take about one round
/// trip. Each request is bounded by the client's total timeout, so a fetch takes at most the
/// settle wait plus that timeout (times ⌈k / concurrency⌉).
///
/// **Failures.** A single SLI that cannot be measured (no data, several series, bad query) is a
/// failed [`SliValue`], never `0`. When Dynatrace rejects the token (401/403), or no SLI could
/// reach Dynatrace at all, the whole fetch is an error.
#[derive(Debug, Clone)]
pub struct DynatraceSliProvider {
    client: DynatraceClient,
    config: SliConfig,
    settle: Duration,
    max_future: Duration,
    concurrency: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SloAnswer {
    evaluated_percentage: Option<f64>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProblemsAnswer {
    total_count: i64,
}

impl DynatraceSliProvider {
    /// A provider with Keptn's default queries only, 120 s settle time and 10 concurrent requests.
    pub fn new(client: DynatraceClient) -> Self {
        Self {
            client,
            config: SliConfig::default(),
            settle: Duration::from_secs(120),
            max_future: Duration::from_secs(120),
            concurrency: 10,
        }
    }

    /// Uses the queries of this SLI configuration (layer project/stage/service files with
    /// [`SliConfig::layered`] first).
    #[must_use]
    pub fn with_sli_config(mut self, config: SliConfig) -> Self {
        self.config = config;
        self
    }

    /// How long after the window's end the provider waits before querying (default 120 s).
    #[must_use]
    pub fn with_settle_time(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// How many requests run at the same time (default 10; at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The query used for `sli`: the configured one, else Keptn's default.
    pub fn query_for(&self, sli: &str, with_deployment: bool) -> Option<Cow<'_, str>> {
        self.config
            .query(sli)
            .map(Cow::Borrowed)
            .or_else(|| default_query(sli, with_deployment).map(Cow::Owned))
    }

    /// Fetches one SLI of `query`'s window (no settle wait).
    ///
    /// # Errors
    /// [`Error::Sli`] when the SLI is unknown, its query invalid, or Dynatrace has no single
    /// value for it; client errors ([`Error::Status`], [`Error::Transport`], …) as they come.
    pub async fn fetch_one(&self, sli: &str, query: &SliQuery) -> Result<f64> {
        let template = self
            .query_for(sli, query.deployment.is_some())
            .ok_or_else(|| Error::sli(sli, format!("unsupported SLI metric {sli} (no query in the SLI configuration and no Keptn default)")))?;
        let mut values = Placeholders::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        )
        .with_labels(query.labels.clone())
        .with_filters(query.custom_filters.clone());
        if let Some(d) = &query.deployment {
            values = values.with_deployment(d.clone());
        }
        let window = [
            ("from".to_owned(), millis(query.start)),
            ("to".to_owned(), millis(query.end)),
        ];
        match plan(sli, &template, &values)? {
            Plan::Metrics {
                selector,
                mut params,
                scale,
            } => {
                params.push(("resolution".to_owned(), "Inf".to_owned()));
                params.extend(window);
                let data: MetricData = self
                    .client
                    .get_json("/api/v2/metrics/query", &params)
                    .await?;
                Ok(scale.apply(single_value(sli, &selector, &data)?))
            }
            Plan::Slo { id } => {
                let mut params = window.to_vec();
                params.push(("timeFrame".to_owned(), "GTF".to_owned()));
                let path = format!("/api/v2/slo/{}", path_segment(&id));
                let slo: SloAnswer = self.client.get_json(&path, &params).await?;
                match (slo.evaluated_percentage, slo.error.as_deref()) {
                    (_, Some(e)) if e != "NONE" => Err(Error::sli(
                        sli,
                        format!("Dynatrace could not evaluate SLO {id}: {e}"),
                    )),
                    (Some(p), _) if p >= 0.0 => Ok(p),
                    _ => Err(Error::sli(
                        sli,
                        format!("Dynatrace returned no evaluation for SLO {id}"),
                    )),
                }
            }
            Plan::Problems { mut params } => {
                params.extend(window);
                let p: ProblemsAnswer = self.client.get_json("/api/v2/problems", &params).await?;
                #[allow(clippy::cast_precision_loss)]
                Ok(p.total_count as f64)
            }
        }
    }

    async fn fetch_named(&self, sli: &str, query: &SliQuery) -> (String, Result<f64>) {
        (sli.to_owned(), self.fetch_one(sli, query).await)
    }

    async fn settle(&self, end: DateTime<Utc>) {
        let ready_at =
            end + chrono::Duration::from_std(self.settle).unwrap_or(chrono::Duration::MAX);
        let wait = (ready_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            tracing::info!(
                wait_secs = wait.as_secs_f64(),
                "waiting for Dynatrace to ingest the window's data"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

fn millis(t: DateTime<Utc>) -> String {
    t.timestamp_millis().to_string()
}

/// Escapes an id for use as one path segment (ids are UUIDs; anything else is encoded).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl SliProvider for DynatraceSliProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        if query.start > query.end {
            return Err(ProviderError::new(
                PROVIDER_NAME,
                format!(
                    "the window starts ({}) after it ends ({})",
                    query.start, query.end
                ),
                false,
            ));
        }
        let horizon = Utc::now()
            + chrono::Duration::from_std(self.max_future).unwrap_or(chrono::Duration::MAX);
        if query.end > horizon {
            return Err(ProviderError::new(
                PROVIDER_NAME,
                format!(
                    "the window ends at {}, more than {:?} in the future",
                    query.end, self.max_future
                ),
                false,
            ));
        }
        if query.indicators.is_empty() {
            // nothing to measure: no request, and no reason to wait for ingestion
            return Ok(Vec::new());
        }
        self.settle(query.end).await;

        let requests: Vec<_> = query
            .indicators
            .iter()
            .map(|sli| self.fetch_named(sli, query))
            .collect();
        let results: Vec<(String, Result<f64>)> = futures::stream::iter(requests)
            .buffered(self.concurrency)
            .collect()
            .await;

        collect_values(
            PROVIDER_NAME,
            "Dynatrace",
            results,
            |e| {
                if e.is_auth() {
                    FetchFailure::Auth
                } else if matches!(e, Error::Transport { .. } | Error::Deadline { .. }) {
                    FetchFailure::Unreachable
                } else {
                    FetchFailure::Indicator
                }
            },
            |e| match e {
                Error::Sli { message, .. } => message,
                e => e.to_string(),
            },
        )
    }
}
