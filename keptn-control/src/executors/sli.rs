//! Any keptn-slo [`SliProvider`] as the executor of `get-sli`.

use std::sync::Arc;

use async_trait::async_trait;
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::event::{
    GetSliFinishedData, GetSliResult, GetSliTriggeredData, KeptnEvent, Payload, Status, Task,
    Verdict,
};

use super::answer::errored;
use crate::executor::{ExecutorContext, TaskExecutor};

/// Answers `get-sli.triggered` events addressed to its provider (`sliProvider` equals
/// [`SliProvider::name`]; others are left alone, as Keptn's providers do) with the values the
/// provider fetched, or `errored` with its error.
#[derive(Debug, Clone)]
pub struct SliProviderExecutor {
    provider: Arc<dyn SliProvider>,
    source: String,
}

impl SliProviderExecutor {
    /// Serves `provider`; the answers' source is `<name>-sli-service`.
    pub fn new(provider: Arc<dyn SliProvider>) -> Self {
        let source = format!("{}-sli-service", provider.name());
        Self { provider, source }
    }
}

#[async_trait]
impl TaskExecutor for SliProviderExecutor {
    fn task(&self) -> Task {
        Task::GetSli
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn accepts(&self, triggered: &KeptnEvent) -> bool {
        triggered
            .data_as::<GetSliTriggeredData>()
            .is_ok_and(|d| d.get_sli.sli_provider == self.provider.name())
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let data: GetSliTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the get-sli request: {e}")),
        };
        let request = &data.get_sli;
        let (Some(project), Some(stage), Some(service), Some(start), Some(end)) = (
            data.common.project.clone(),
            data.common.stage.clone(),
            data.common.service.clone(),
            request.start,
            request.end,
        ) else {
            return errored("get-sli needs project, stage, service, start and end");
        };
        let mut query = SliQuery::new(
            project,
            stage,
            service,
            start,
            end,
            request.indicators.clone(),
        )
        .with_custom_filters(
            request
                .custom_filters
                .iter()
                .map(|f| (f.key.clone(), f.value.clone()))
                .collect(),
        )
        .with_labels(data.common.labels.clone());
        if let Some(deployment) = &data.deployment {
            query = query.with_deployment(deployment.clone());
        }
        let mut finished = GetSliFinishedData::default();
        let mut result = GetSliResult::default();
        result.start = Some(start);
        result.end = Some(end);
        match self.provider.fetch_slis(&query).await {
            Ok(values) => {
                result.indicator_values = values;
                finished.common.status = Some(Status::Succeeded);
                finished.common.result = Some(Verdict::Pass);
            }
            Err(e) => {
                finished.common.status = Some(Status::Errored);
                finished.common.result = Some(Verdict::Fail);
                finished.common.message = Some(e.to_string());
            }
        }
        finished.get_sli = result;
        Payload::GetSliFinished(finished)
    }
}
