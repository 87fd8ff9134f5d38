//! The `SliProvider` port: where SLI values come from.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keptn_spec::{ProjectName, ServiceName, SliValue, StageName};

use crate::EvaluationContext;

/// What to measure: every indicator of one evaluation window (Keptn's `get-sli.triggered` data).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SliQuery {
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The deployment to measure (`canary`, `primary`, `direct`, …), when known.
    pub deployment: Option<String>,
    /// Start of the evaluation window.
    pub start: DateTime<Utc>,
    /// End of the evaluation window.
    pub end: DateTime<Utc>,
    /// The SLI names to fetch, in SLO file order.
    pub indicators: Vec<String>,
    /// The SLO's `filter` map (Keptn's `customFilters`).
    pub custom_filters: BTreeMap<String, String>,
    /// Free labels of the event (`$LABEL.<name>` placeholders).
    pub labels: BTreeMap<String, String>,
}

impl SliQuery {
    /// A query for `indicators` of one service in one window, with no deployment, filters or labels.
    pub fn new(
        project: ProjectName,
        stage: StageName,
        service: ServiceName,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        indicators: Vec<String>,
    ) -> Self {
        Self {
            project,
            stage,
            service,
            deployment: None,
            start,
            end,
            indicators,
            custom_filters: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Sets the deployment to measure.
    #[must_use]
    pub fn with_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// Sets the custom filters (the SLO's `filter` map).
    #[must_use]
    pub fn with_custom_filters(mut self, filters: BTreeMap<String, String>) -> Self {
        self.custom_filters = filters;
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    /// A query for the `window` that ends at `end` (a [`std::time::SystemTime`] or a chrono
    /// time), with the indicators left to the SLO ([`QualityGate::evaluate`] fills them in).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use keptn_slo::{EvaluationContext, SliQuery};
    ///
    /// let (project, stage, service) = ("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
    /// let query = SliQuery::ending_at(project, stage, service, SystemTime::now(), Duration::from_secs(600));
    /// assert_eq!(query.end - query.start, chrono::Duration::minutes(10));
    /// // the evaluation's context is the query's project, stage, service and labels
    /// let ctx = EvaluationContext::from(&query);
    /// assert_eq!(ctx.service.as_ref(), Some(&query.service));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`QualityGate::evaluate`]: crate::QualityGate::evaluate
    pub fn ending_at(
        project: ProjectName,
        stage: StageName,
        service: ServiceName,
        end: impl Into<DateTime<Utc>>,
        window: Duration,
    ) -> Self {
        let end = end.into();
        // a window longer than chrono can hold (about 292 million years) starts at the epoch
        let start = chrono::Duration::from_std(window)
            .ok()
            .and_then(|w| end.checked_sub_signed(w))
            .unwrap_or(DateTime::UNIX_EPOCH);
        Self::new(project, stage, service, start, end, Vec::new())
    }
}

impl From<&SliQuery> for EvaluationContext {
    /// The context of the query's project, stage and service, with its labels.
    fn from(query: &SliQuery) -> Self {
        EvaluationContext::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        )
        .with_labels(query.labels.clone())
    }
}

/// A whole fetch failed: the provider could not answer at all (Keptn's `get-sli.finished` with
/// `status: errored`). Failures of single SLIs are not errors: they are [`SliValue`]s with
/// `success: false`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SLI provider `{provider}` failed: {message}")]
#[non_exhaustive]
pub struct ProviderError {
    /// The provider's name, such as `dynatrace`.
    pub provider: String,
    /// What went wrong (never contains secrets).
    pub message: String,
    /// Whether retrying the same fetch may succeed.
    pub transient: bool,
}

impl ProviderError {
    /// A provider failure with a message.
    pub fn new(provider: impl Into<String>, message: impl Into<String>, transient: bool) -> Self {
        Self {
            provider: provider.into(),
            message: message.into(),
            transient,
        }
    }
}

/// Fetches SLI values from a monitoring backend for one evaluation window.
///
/// Contract:
/// - one call fetches every indicator of `query` and returns one [`SliValue`] per indicator;
/// - a single SLI that cannot be measured (no data, a bad query, several series) is returned as
///   [`SliValue::failed`] with a message, never as zero;
/// - `Err` means the provider could not answer at all (authentication, unreachable backend);
/// - implementations never block a thread and bound their own time.
#[async_trait]
pub trait SliProvider: Send + Sync + fmt::Debug {
    /// The provider's name as Keptn's `sliProvider` field uses it (`dynatrace`, `prometheus`, …).
    fn name(&self) -> &str;

    /// Runs every indicator in `query` and returns one value (or one failed value) per SLI.
    ///
    /// # Errors
    /// [`ProviderError`] when the provider cannot answer at all.
    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError>;
}

/// How one indicator's failed fetch counts when [`collect_values`] puts a provider's answers
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFailure {
    /// The backend refused the credentials: the whole fetch fails, and retrying will not help.
    Auth,
    /// The backend could not be reached (connection, timeout).
    Unreachable,
    /// Only this indicator failed (bad query, no data, …).
    Indicator,
}

/// Puts a provider's per-indicator results together the same way for every backend: a refused
/// credential fails the whole fetch; when every indicator failed as [`FetchFailure::Unreachable`]
/// the whole fetch fails as transient ("`backend` is unreachable: …"); otherwise each indicator
/// gets its value, or a failed value with `message(error)`.
///
/// # Errors
/// The whole-fetch failures above, as a [`ProviderError`] of `provider`.
pub fn collect_values<E: fmt::Display>(
    provider: &str,
    backend: &str,
    results: Vec<(String, Result<f64, E>)>,
    classify: impl Fn(&E) -> FetchFailure,
    message: impl Fn(E) -> String,
) -> Result<Vec<SliValue>, ProviderError> {
    let failure = |r: &Result<f64, E>| r.as_ref().err().map(&classify);
    if let Some((_, Err(e))) = results
        .iter()
        .find(|(_, r)| failure(r) == Some(FetchFailure::Auth))
    {
        return Err(ProviderError::new(provider, e.to_string(), false));
    }
    if !results.is_empty()
        && results
            .iter()
            .all(|(_, r)| failure(r) == Some(FetchFailure::Unreachable))
    {
        let msg = results
            .iter()
            .find_map(|(_, r)| r.as_ref().err().map(ToString::to_string))
            .unwrap_or_default();
        return Err(ProviderError::new(
            provider,
            format!("{backend} is unreachable: {msg}"),
            true,
        ));
    }
    Ok(results
        .into_iter()
        .map(|(sli, r)| match r {
            Ok(v) => SliValue::ok(sli, v),
            Err(e) => SliValue::failed(sli, message(e)),
        })
        .collect())
}
