//! The quality gate as Keptn's lighthouse runs it: `evaluation.triggered` → `get-sli` → verdict.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keptn_slo::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::event::{
    CustomFilter, EvaluationTriggeredData, EventId, EventType, GetSliFinishedData, GetSliRequest,
    GetSliTriggeredData, KeptnEvent, Payload, Phase, Status, Task, Verdict,
};
use keptn_spec::{GoDuration, SliValue, Slo};

use super::answer::errored;
use super::providers;
use crate::bus::Topic;
use crate::executor::{ExecutorContext, TaskExecutor};
use crate::ids;
use crate::model::ResourceScope;
use crate::store::EventQuery;

/// The `source` of the lighthouse's events.
pub const LIGHTHOUSE_SOURCE: &str = "lighthouse-service";

/// The resource URI of a service's SLO in a stage.
pub const SLO_URI: &str = "slo.yaml";

/// Executes `evaluation` as Keptn's lighthouse: reads `slo.yaml` of the stage's service from the
/// store (none → the evaluation passes, as in Keptn), sends `sh.keptn.event.get-sli.triggered`
/// (`sliProvider`, `indicators`, `start`, `end`, `customFilters`), waits for the matching
/// `get-sli.finished` and scores it with [`keptn_slo::evaluate`] against the stored evaluation
/// history, to which the result is added. No answer within the SLI timeout fails the
/// evaluation: a gate never passes on missing data. An evaluation run again after a restart
/// takes a `get-sli.finished` already stored for its request instead of asking again.
///
/// Several providers in one gate (which Keptn could not do): an indicator named in another
/// provider's `<provider>/sli.yaml` (service, stage or project level) and not in the
/// lighthouse's own provider's is asked from that provider. `get-sli` then goes out once per
/// provider, with its `sliProvider` and only its indicators, all before waiting; the answers are
/// merged, and a provider that fails or does not answer fails only its own indicators.
#[derive(Debug, Clone)]
pub struct Lighthouse {
    provider: String,
    sli_timeout: Duration,
}

impl Lighthouse {
    /// A lighthouse asking the SLI provider called `provider` (such as `dynatrace`).
    pub fn new(provider: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            sli_timeout: Duration::from_secs(300),
        }
    }

    /// How long to wait for `get-sli.finished` (default 5 minutes).
    #[must_use]
    pub fn sli_timeout(mut self, timeout: Duration) -> Self {
        self.sli_timeout = timeout;
        self
    }

    /// Asks each provider of `groups` for its indicators (one `get-sli.triggered` each, all
    /// sent before waiting) and merges the answers: a provider that fails or does not answer
    /// in time fails only its own indicators; the report is errored when every provider failed.
    async fn fetch(
        &self,
        triggered: &KeptnEvent,
        request: &GetSliTriggeredData,
        groups: Vec<(String, Vec<String>)>,
        cx: &ExecutorContext,
    ) -> SliReport {
        let Some(context) = triggered.shkeptncontext else {
            return SliReport::errored("the evaluation has no keptn context");
        };
        let ty = EventType::task(Task::GetSli, Phase::Triggered);
        let finished_ty = EventType::task(Task::GetSli, Phase::Finished);
        let mut answers = match cx.bus().subscribe(Topic::Type(finished_ty.clone())).await {
            Ok(s) => s,
            Err(e) => return SliReport::errored(format!("cannot listen for SLIs: {e}")),
        };
        let single = groups.len() == 1;
        let mut asked = Vec::new();
        for (provider, indicators) in groups {
            // One provider keeps Keptn's single request id; several get one id each.
            let id = if single {
                ids::derive(&triggered.id, "get-sli")
            } else {
                ids::derive(&triggered.id, &format!("get-sli:{provider}"))
            };
            let mut data = request.clone();
            data.get_sli.sli_provider.clone_from(&provider);
            data.get_sli.indicators.clone_from(&indicators);
            let event =
                KeptnEvent::new(ty.clone(), LIGHTHOUSE_SOURCE, context, &data).with_id(id.clone());
            // After a restart the evaluation runs again with the same request ids; an answer
            // stored before the crash is the answer (no poller sees an answered request as
            // open).
            let mut stored = EventQuery::all().of_type(finished_ty.clone());
            stored.triggered_id = Some(id.clone());
            stored.limit = Some(1);
            let earlier = match cx.store().events(&stored).await {
                Ok(mut found) => found.pop(),
                Err(e) => {
                    return SliReport::errored(format!("cannot read earlier SLI answers: {e}"));
                }
            };
            if earlier.is_none()
                && let Err(e) = cx.bus().publish(&event).await
            {
                return SliReport::errored(format!("cannot ask for SLIs: {e}"));
            }
            asked.push(Asked {
                provider,
                indicators,
                id,
                answer: earlier,
            });
        }
        let wait = async {
            while asked.iter().any(|a| a.answer.is_none()) {
                let Some(answer) = answers.next().await else {
                    return false;
                };
                if let Some(a) = asked
                    .iter_mut()
                    .find(|a| a.answer.is_none() && answer.triggeredid.as_ref() == Some(&a.id))
                {
                    a.answer = Some(answer);
                }
            }
            true
        };
        let bus_closed = matches!(
            tokio::time::timeout(self.sli_timeout, wait).await,
            Ok(false)
        );
        let mut values = Vec::new();
        let mut failures = Vec::new();
        let count = asked.len();
        for a in asked {
            let outcome = match &a.answer {
                Some(answer) => answer_values(answer),
                None if bus_closed => Err("the event bus closed while waiting for SLIs".to_owned()),
                None => Err(format!(
                    "SLI provider `{}` did not answer get-sli within {:?}",
                    a.provider, self.sli_timeout
                )),
            };
            match outcome {
                Ok(v) => values.extend(v),
                Err(message) => {
                    values.extend(
                        a.indicators
                            .iter()
                            .map(|sli| SliValue::failed(sli, format!("{}: {message}", a.provider))),
                    );
                    failures.push(message);
                }
            }
        }
        if failures.len() == count {
            return SliReport::errored(failures.join("; "));
        }
        let position = |sli: &str| request.get_sli.indicators.iter().position(|i| i == sli);
        values.sort_by_key(|v| position(&v.metric));
        SliReport::succeeded(values)
    }
}

/// One `get-sli` request of an evaluation and its answer, once there.
struct Asked {
    provider: String,
    indicators: Vec<String>,
    id: EventId,
    answer: Option<KeptnEvent>,
}

/// The values of a `get-sli.finished` answer, or why the provider failed.
fn answer_values(answer: &KeptnEvent) -> Result<Vec<SliValue>, String> {
    let data: GetSliFinishedData = answer
        .data_as()
        .map_err(|e| format!("malformed get-sli answer: {e}"))?;
    let failed = data.common.status == Some(Status::Errored)
        || data.common.status == Some(Status::Aborted)
        || data.common.result == Some(Verdict::Fail);
    if failed {
        return Err(data
            .common
            .message
            .unwrap_or_else(|| format!("SLI provider `{}` failed", answer.source)));
    }
    Ok(data.get_sli.indicator_values)
}

/// The evaluation window: `evaluation.start/end`, else the tests' `start/end`, else
/// `timeframe` (or 5 minutes) up to now.
fn window(data: &EvaluationTriggeredData) -> (DateTime<Utc>, DateTime<Utc>) {
    let eval = data.evaluation.clone().unwrap_or_default();
    if let (Some(s), Some(e)) = (eval.start, eval.end) {
        return (s, e);
    }
    if let (None, Some(test)) = (&eval.timeframe, &data.test)
        && let (Some(s), Some(e)) = (test.start, test.end)
    {
        return (s, e);
    }
    let span = eval
        .timeframe
        .as_deref()
        .and_then(|t| t.parse::<GoDuration>().ok())
        .map_or(Duration::from_secs(300), |d| d.as_duration());
    let end = eval.end.unwrap_or_else(Utc::now);
    let start = end - chrono::Duration::from_std(span).unwrap_or(chrono::Duration::minutes(5));
    (start, end)
}

#[async_trait]
impl TaskExecutor for Lighthouse {
    fn task(&self) -> Task {
        Task::Evaluation
    }

    fn source(&self) -> &str {
        LIGHTHOUSE_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload {
        let data: EvaluationTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the evaluation request: {e}")),
        };
        let (Some(project), Some(stage), Some(service)) = (
            data.common.project.clone(),
            data.common.stage.clone(),
            data.common.service.clone(),
        ) else {
            return errored("the evaluation has no project, stage and service");
        };
        let scope = ResourceScope::service(project.clone(), stage.clone(), service.clone());
        let ctx = EvaluationContext::new(project.clone(), stage.clone(), service.clone())
            .with_labels(data.common.labels.clone());
        let raw = match cx.store().resource(&scope, SLO_URI).await {
            Ok(r) => r,
            Err(e) => return errored(format!("cannot read {SLO_URI}: {e}")),
        };
        let (start, end) = window(&data);
        let Some(raw) = raw else {
            let report = SliReport::succeeded(Vec::new()).with_window(start, end);
            let evaluation = evaluate(None, &report, &[], &ctx);
            return Payload::EvaluationFinished(Box::new(evaluation.data));
        };
        let slo = match Slo::from_yaml_str(&raw) {
            Ok(s) => s,
            Err(e) => return errored(format!("{SLO_URI} of {scope} is invalid: {e}")),
        };
        let mut request = GetSliRequest::default();
        request.sli_provider.clone_from(&self.provider);
        request.start = Some(start);
        request.end = Some(end);
        request.indicators = slo.indicators();
        request.custom_filters = slo
            .filter
            .iter()
            .map(|(key, value)| CustomFilter {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        let mut get_sli = GetSliTriggeredData::default();
        get_sli.common.project = Some(project);
        get_sli.common.stage = Some(stage);
        get_sli.common.service = Some(service);
        get_sli.common.labels = data.common.labels.clone();
        get_sli.get_sli = request;
        get_sli.deployment = data
            .deployment
            .as_ref()
            .and_then(|d| d.deployment_names.first().cloned());
        let groups = match providers::assign(
            cx.store().as_ref(),
            &scope,
            &self.provider,
            &get_sli.get_sli.indicators,
        )
        .await
        {
            Ok(g) => g,
            Err(e) => return errored(e),
        };
        let report = self
            .fetch(triggered, &get_sli, groups, cx)
            .await
            .with_window(start, end);
        // The id the runner gives this task's `.finished` event; a repeated task must not compare
        // with its own earlier attempt.
        let own_id = ids::derive(
            &triggered.id,
            &format!("{}:{LIGHTHOUSE_SOURCE}", Phase::Finished),
        );
        let previous: Vec<PreviousEvaluation> = match cx.store().evaluations(&scope).await {
            Ok(p) => p
                .into_iter()
                .filter(|p| p.id.as_deref() != Some(own_id.as_str()))
                .collect(),
            Err(e) => return errored(format!("cannot read the evaluation history: {e}")),
        };
        let evaluation = evaluate(Some(&slo), &report, &previous, &ctx.with_slo_file(&raw));
        let record = PreviousEvaluation::new(own_id.as_str(), evaluation.data.clone());
        if let Err(e) = cx.store().record_evaluation(&scope, &record).await {
            return errored(format!("cannot record the evaluation: {e}"));
        }
        Payload::EvaluationFinished(Box::new(evaluation.data))
    }
}
