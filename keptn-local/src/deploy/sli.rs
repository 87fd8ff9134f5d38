//! `LocalSliProvider`: SLIs measured from the traffic of the local stage proxies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::{ProjectName, ServiceName, SliValue, StageName};

use super::recorder::{RequestRecorder, WindowStats};

/// The SLIs [`LocalSliProvider`] can measure.
pub const SUPPORTED_SLIS: [&str; 5] = [
    "response_time_p50",
    "response_time_p90",
    "response_time_p95",
    "throughput",
    "error_rate",
];

type Key = (ProjectName, StageName, ServiceName);

/// An [`SliProvider`] answering from the requests the local stage proxies recorded: it plays the
/// part Dynatrace plays in Keptn's tour, from real traffic.
///
/// Indicators (same names and units as Keptn's Dynatrace defaults):
///
/// | SLI | value |
/// | --- | --- |
/// | `response_time_p50`, `response_time_p90`, `response_time_p95` | latency percentile in milliseconds (nearest rank, ±1.6 %) |
/// | `throughput` | number of requests in the window (Dynatrace's `requestCount.total:sum`) |
/// | `error_rate` | ratio (0..1) of requests answered with a status outside 2xx or not at all (as Prometheus' default query) |
///
/// `query.deployment` selects the deployment (`primary`, `canary`, `direct`); without one, all
/// deployments of the service count. A window without any request makes every indicator fail
/// (`success: false` with a message) — never zero — so a gate cannot pass on missing data. Unknown
/// indicators fail the same way, as do services no proxy records for.
///
/// Cloning is cheap and clones share the registry.
#[derive(Debug, Clone, Default)]
pub struct LocalSliProvider {
    recorders: Arc<Mutex<BTreeMap<Key, Arc<RequestRecorder>>>>,
}

impl LocalSliProvider {
    /// An empty provider; register recorders with [`LocalSliProvider::register`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `recorder` the source of SLIs for `service` in `stage` of `project` (replacing any
    /// earlier one).
    pub fn register(
        &self,
        project: ProjectName,
        stage: StageName,
        service: ServiceName,
        recorder: Arc<RequestRecorder>,
    ) {
        let mut map = self
            .recorders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert((project, stage, service), recorder);
    }

    /// The recorder registered for a service, if any.
    pub fn recorder(
        &self,
        project: &ProjectName,
        stage: &StageName,
        service: &ServiceName,
    ) -> Option<Arc<RequestRecorder>> {
        let map = self
            .recorders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&(project.clone(), stage.clone(), service.clone()))
            .cloned()
    }

    /// Measures every indicator of `query` synchronously (what [`SliProvider::fetch_slis`] returns).
    pub fn measure(&self, query: &SliQuery) -> Vec<SliValue> {
        let deployment = query.deployment.as_deref().filter(|d| !d.is_empty());
        let scope = format!(
            "{}/{}/{}{}",
            query.project,
            query.stage,
            query.service,
            deployment.map(|d| format!(" ({d})")).unwrap_or_default()
        );
        let Some(recorder) = self.recorder(&query.project, &query.stage, &query.service) else {
            return query
                .indicators
                .iter()
                .map(|sli| {
                    SliValue::failed(sli, format!("no local proxy records requests of {scope}"))
                })
                .collect();
        };
        let stats = recorder.summarize(deployment, query.start, query.end);
        query
            .indicators
            .iter()
            .map(|sli| value_of(sli, &stats, &scope, query))
            .collect()
    }
}

fn value_of(sli: &str, stats: &WindowStats, scope: &str, query: &SliQuery) -> SliValue {
    if !SUPPORTED_SLIS.contains(&sli) {
        return SliValue::failed(
            sli,
            format!(
                "unsupported SLI `{sli}` (the local provider measures {})",
                SUPPORTED_SLIS.join(", ")
            ),
        );
    }
    if stats.requests == 0 {
        return SliValue::failed(
            sli,
            format!(
                "no requests recorded for {scope} between {} and {}",
                query.start.to_rfc3339(),
                query.end.to_rfc3339()
            ),
        );
    }
    match stats.sli(sli) {
        Some(v) => SliValue::ok(sli, v),
        None => SliValue::failed(sli, format!("no data for {scope}")),
    }
}

#[async_trait]
impl SliProvider for LocalSliProvider {
    fn name(&self) -> &str {
        "local"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        Ok(self.measure(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};
    use std::time::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn query(deployment: Option<&str>, from_s: i64, to_s: i64, slis: &[&str]) -> SliQuery {
        let q = SliQuery::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
            t0() + TimeDelta::seconds(from_s),
            t0() + TimeDelta::seconds(to_s),
            slis.iter().map(|s| (*s).to_owned()).collect(),
        );
        match deployment {
            Some(d) => q.with_deployment(d),
            None => q,
        }
    }

    fn provider() -> LocalSliProvider {
        let p = LocalSliProvider::new();
        let rec = Arc::new(RequestRecorder::default());
        for i in 0..200 {
            let at = t0() + TimeDelta::milliseconds(i * 5);
            rec.record(
                "canary",
                at,
                Duration::from_millis(1000 + i as u64),
                Some(200),
            );
            let status = if i % 10 < 3 { 500 } else { 200 };
            rec.record("primary", at, Duration::from_millis(40), Some(status));
        }
        p.register(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
            rec,
        );
        p
    }

    /// Every supported SLI is measured for the requested deployment and window.
    #[tokio::test]
    async fn answers_every_supported_sli() {
        let p = provider();
        let values = p
            .fetch_slis(&query(Some("canary"), 0, 1, &SUPPORTED_SLIS))
            .await
            .unwrap();
        assert!(values.iter().all(|v| v.success), "{values:?}");
        let by_name: BTreeMap<_, _> = values
            .iter()
            .map(|v| (v.metric.as_str(), v.value))
            .collect();
        assert!((by_name["response_time_p95"] - 1190.0).abs() < 1190.0 / 64.0);
        assert!((by_name["response_time_p50"] - 1100.0).abs() < 1100.0 / 64.0);
        assert_eq!(by_name["throughput"], 200.0);
        assert_eq!(by_name["error_rate"], 0.0);
        let primary = p.measure(&query(Some("primary"), 0, 1, &["error_rate"]));
        assert!((primary[0].value - 0.3).abs() < 1e-12, "{primary:?}");
        let all = p.measure(&query(None, 0, 1, &["throughput"]));
        assert_eq!(all[0].value, 400.0);
    }

    /// A window without traffic fails every SLI with a message instead of answering zero.
    #[test]
    fn no_data_fails_instead_of_zero() {
        let p = provider();
        let values = p.measure(&query(
            Some("canary"),
            60,
            120,
            &["error_rate", "throughput"],
        ));
        assert_eq!(values.len(), 2);
        for v in values {
            assert!(!v.success);
            assert!(
                v.message
                    .unwrap()
                    .contains("no requests recorded for sockshop/staging/carts (canary)")
            );
        }
        let unknown_deployment = p.measure(&query(Some("blue"), 0, 1, &["response_time_p95"]));
        assert!(!unknown_deployment[0].success);
    }

    /// Unknown SLIs and unknown services fail with an explanation.
    #[test]
    fn unknown_sli_and_service_fail() {
        let p = provider();
        let v = p.measure(&query(None, 0, 1, &["problem_open"]));
        assert!(!v[0].success);
        assert!(
            v[0].message
                .as_deref()
                .unwrap()
                .contains("unsupported SLI `problem_open`")
        );
        let empty = LocalSliProvider::new();
        let v = empty.measure(&query(None, 0, 1, &["throughput"]));
        assert!(!v[0].success);
        assert!(v[0].message.as_deref().unwrap().contains("no local proxy"));
    }
}
