//! Client-side SLIs for `--kube`: what the tour's own HTTP clients measured, per service,
//! stage and deployment.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keptn_deploy::StageService;
use keptn_local::RequestRecorder;
use keptn_slo::{ProviderError, SliProvider, SliQuery};
use keptn_spec::SliValue;

/// The SLIs [`ClientSideSli`] measures: the same as the local provider's, from the same
/// [`RequestRecorder`] statistics.
pub const CLIENT_SIDE_SLIS: [&str; 5] = keptn_local::SUPPORTED_SLIS;

/// SLIs from the tour's own HTTP clients: every request the test runner and the production
/// users send is recorded per service, stage and deployment (bounded memory, see
/// [`RequestRecorder`]).
///
/// | SLI | value |
/// | --- | --- |
/// | `response_time_p50/p90/p95` | client-side latency percentile in ms (includes the network) |
/// | `throughput` | requests in the window |
/// | `error_rate` | ratio (0..1) of requests that failed (no answer, or not the expected answer) |
///
/// A window without requests fails every indicator (never zero), as do unknown indicators, so
/// a quality gate cannot pass on missing data. Clones share the recordings.
#[derive(Debug, Clone, Default)]
pub struct ClientSideSli {
    recorders: Arc<Mutex<BTreeMap<StageService, Arc<RequestRecorder>>>>,
}

impl ClientSideSli {
    /// No recordings yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one request to `deployment` of `target`, sent at `at`, answered after `latency`;
    /// `ok` is whether it got the expected answer.
    pub fn record(
        &self,
        target: &StageService,
        deployment: &str,
        at: DateTime<Utc>,
        latency: Duration,
        ok: bool,
    ) {
        let recorder = {
            let mut map = self
                .recorders
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            map.entry(target.clone()).or_default().clone()
        };
        recorder.record(deployment, at, latency, ok.then_some(200));
    }

    /// The values of `query`'s indicators.
    pub fn measure(&self, query: &SliQuery) -> Vec<SliValue> {
        let target = StageService::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        );
        let deployment = query.deployment.as_deref().filter(|d| !d.is_empty());
        let scope = format!(
            "{target}{}",
            deployment.map(|d| format!(" ({d})")).unwrap_or_default()
        );
        let recorder = self
            .recorders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&target)
            .cloned();
        let stats = recorder.map(|r| r.summarize(deployment, query.start, query.end));
        query
            .indicators
            .iter()
            .map(|sli| {
                if !CLIENT_SIDE_SLIS.contains(&sli.as_str()) {
                    return SliValue::failed(
                        sli,
                        format!(
                            "unsupported SLI `{sli}` (client-side measurements give {})",
                            CLIENT_SIDE_SLIS.join(", ")
                        ),
                    );
                }
                let Some(stats) = stats.as_ref().filter(|s| s.requests > 0) else {
                    return SliValue::failed(
                        sli,
                        format!(
                            "the tour sent no requests to {scope} between {} and {}",
                            query.start.to_rfc3339(),
                            query.end.to_rfc3339()
                        ),
                    );
                };
                match stats.sli(sli) {
                    Some(v) => SliValue::ok(sli, v),
                    None => SliValue::failed(sli, format!("no data for {scope}")),
                }
            })
            .collect()
    }
}

#[async_trait]
impl SliProvider for ClientSideSli {
    fn name(&self) -> &str {
        "client-side"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        Ok(self.measure(query))
    }
}
