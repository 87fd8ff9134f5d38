//! `PrometheusSliProvider`: Keptn's prometheus-service `get-sli` handling as an [`SliProvider`].

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use keptn_slo::{FetchFailure, ProviderError, SliProvider, SliQuery, collect_values};
use keptn_spec::SliValue;
use keptn_spec::sli::SliConfig;

use crate::client::{PrometheusClient, QueryResult, Sample};
use crate::error::{Error, Result};
use crate::queries::QueryScope;

/// The name Keptn uses for this provider (`sliProvider: prometheus`).
pub const PROVIDER_NAME: &str = "prometheus";

/// Fetches SLIs from Prometheus with PromQL, as Keptn's prometheus-service did.
///
/// For each SLI the query comes from the SLI configuration (`prometheus/sli.yaml`), else from
/// Keptn's defaults ([`QueryScope::default_query`]); other names fail with "unsupported SLI".
/// Placeholders are filled by [`QueryScope::apply`]. Each query is an instant query evaluated
/// at the window's end; the window's length is `$DURATION_SECONDS`, the range the queries look
/// back over.
///
/// **Concurrency.** All SLIs of one fetch run concurrently (at most
/// [`concurrency`](Self::with_concurrency), default 10, at a time), so k SLIs take about one
/// round trip; each is bounded by the client's total timeout.
///
/// **Failures.** The value must be exactly one finite number: an empty vector, several series,
/// `NaN`, `±Inf` or a PromQL error (Prometheus' `errorType` and `error` in the message) make a
/// failed [`SliValue`], never `0`. When the credentials are rejected (401/403) or no SLI could
/// reach Prometheus at all, the whole fetch is a [`ProviderError`].
#[derive(Debug, Clone)]
pub struct PrometheusSliProvider {
    client: PrometheusClient,
    config: SliConfig,
    concurrency: usize,
}

impl PrometheusSliProvider {
    /// A provider with Keptn's default queries only and 10 concurrent requests.
    pub fn new(client: PrometheusClient) -> Self {
        Self {
            client,
            config: SliConfig::default(),
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

    /// How many queries run at the same time (default 10; at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The PromQL sent for `sli` in `scope`: the configured query with its placeholders filled,
    /// else Keptn's default, else `None`.
    pub fn query_for(&self, sli: &str, scope: &QueryScope) -> Option<String> {
        match self.config.query(sli) {
            Some(template) => Some(scope.apply(template)),
            None => scope.default_query(sli),
        }
    }

    /// Fetches one SLI of `query`'s window.
    ///
    /// # Errors
    /// [`Error::Sli`] when the SLI is unknown or its result is not one finite number; client
    /// errors ([`Error::Query`], [`Error::Transport`], …) as they come.
    pub async fn fetch_one(&self, sli: &str, query: &SliQuery) -> Result<f64> {
        let scope = scope_of(query);
        let expr = self.query_for(sli, &scope).ok_or_else(|| {
            Error::sli(
                sli,
                format!(
                    "unsupported SLI {sli} (no query in the SLI configuration and no Keptn default)"
                ),
            )
        })?;
        let result = self.client.query(&expr, query.end).await?;
        single_value(sli, &expr, result)
    }

    async fn fetch_named(&self, sli: &str, query: &SliQuery) -> (String, Result<f64>) {
        (sli.to_owned(), self.fetch_one(sli, query).await)
    }
}

/// The scope of an SLI query: its service, deployment, filters, labels and window length.
pub fn scope_of(query: &SliQuery) -> QueryScope {
    let window = (query.end - query.start).to_std().unwrap_or(Duration::ZERO);
    let mut scope = QueryScope::new(
        query.project.clone(),
        query.stage.clone(),
        query.service.clone(),
        window,
    )
    .with_custom_filters(query.custom_filters.clone())
    .with_labels(query.labels.clone());
    if let Some(d) = &query.deployment {
        scope = scope.with_deployment(d.clone());
    }
    scope
}

fn describe(sample: &Sample) -> String {
    let labels: Vec<String> = sample
        .metric
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", labels.join(","))
}

/// The one finite value of a query result, or why there is none.
fn single_value(sli: &str, expr: &str, result: QueryResult) -> Result<f64> {
    let value = match result {
        QueryResult::Scalar(v) => v,
        QueryResult::Vector(samples) => match samples.as_slice() {
            [] => {
                return Err(Error::sli(
                    sli,
                    format!(
                        "no data: `{expr}` returned an empty vector (no matching series in the window)"
                    ),
                ));
            }
            [one] => one.value,
            several => {
                let first: Vec<String> = several.iter().take(3).map(describe).collect();
                return Err(Error::sli(
                    sli,
                    format!(
                        "`{expr}` returned {} series ({}{}); aggregate them (e.g. with sum or avg) to one value",
                        several.len(),
                        first.join(", "),
                        if several.len() > 3 { ", …" } else { "" }
                    ),
                ));
            }
        },
        QueryResult::Other(kind) => {
            return Err(Error::sli(
                sli,
                format!(
                    "`{expr}` returned a {kind}; an SLI query must return an instant vector or a scalar"
                ),
            ));
        }
    };
    if value.is_nan() {
        return Err(Error::sli(
            sli,
            format!("`{expr}` returned NaN (for example 0/0: no requests in the window)"),
        ));
    }
    if value.is_infinite() {
        return Err(Error::sli(sli, format!("`{expr}` returned {value}")));
    }
    Ok(value)
}

#[async_trait]
impl SliProvider for PrometheusSliProvider {
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
            "Prometheus",
            results,
            |e| {
                if e.is_auth() {
                    FetchFailure::Auth
                } else if e.is_unreachable() {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn sample(job: &str, v: f64) -> Sample {
        Sample {
            metric: BTreeMap::from([("job".to_owned(), job.to_owned())]),
            value: v,
        }
    }

    /// Exactly one finite value is an SLI; everything else is a clear failure.
    #[test]
    fn single_value_rules() {
        assert_eq!(
            single_value("a", "q", QueryResult::Scalar(2.0)).unwrap(),
            2.0
        );
        assert_eq!(
            single_value("a", "q", QueryResult::Vector(vec![sample("x", 3.0)])).unwrap(),
            3.0
        );
        let cases = [
            (QueryResult::Vector(vec![]), "empty vector"),
            (
                QueryResult::Vector(vec![sample("x", 1.0), sample("y", 2.0)]),
                "returned 2 series ({job=\"x\"}, {job=\"y\"})",
            ),
            (
                QueryResult::Vector(vec![sample("x", f64::NAN)]),
                "returned NaN",
            ),
            (QueryResult::Scalar(f64::INFINITY), "returned inf"),
            (QueryResult::Other("matrix".to_owned()), "returned a matrix"),
        ];
        for (result, want) in cases {
            let e = single_value("a", "q", result).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(e.starts_with("SLI `a`: "), "{e}");
        }
    }

    /// Configured queries win over the defaults; unknown SLIs have no query.
    #[test]
    fn configured_queries_win() {
        let client = PrometheusClient::builder("http://127.0.0.1:1")
            .build()
            .unwrap();
        let config = SliConfig::from_yaml_str(
            "spec_version: '1.0'\nindicators:\n  throughput: sum(up{job='$SERVICE'})\n",
        )
        .unwrap();
        let p = PrometheusSliProvider::new(client).with_sli_config(config);
        let scope = QueryScope::new(
            "sockshop".parse().unwrap(),
            "dev".parse().unwrap(),
            "carts".parse().unwrap(),
            Duration::from_secs(60),
        );
        assert_eq!(
            p.query_for("throughput", &scope).unwrap(),
            "sum(up{job='carts'})"
        );
        assert!(p.query_for("error_rate", &scope).unwrap().contains("[60s]"));
        assert_eq!(p.query_for("cpu", &scope), None);
    }
}
