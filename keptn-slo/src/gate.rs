//! `QualityGate`: SLI provider + evaluation history + engine, with a timeout.

use std::sync::Arc;
use std::time::Duration;

use keptn_spec::Slo;

use crate::engine::{Evaluation, EvaluationContext, evaluate};
use crate::history::{EvaluationHistory, HistoryError, HistoryKey};
use crate::provider::{SliProvider, SliQuery};
use crate::report::{PreviousEvaluation, SliReport};

/// The evaluation was made but could not be recorded in the history.
#[derive(Debug, thiserror::Error)]
#[error("evaluation {id} could not be recorded in the history")]
#[non_exhaustive]
pub struct GateError {
    /// The evaluation id.
    pub id: String,
    /// The evaluation that was made (its verdict stands).
    pub evaluation: Box<Evaluation>,
    /// The history error.
    #[source]
    pub source: HistoryError,
}

/// A quality gate: fetches SLIs, reads the history, evaluates, records the result.
///
/// It always produces an evaluation (Keptn never leaves a gate without a finished event): a
/// provider error or timeout gives `status: errored, result: fail`, a history that cannot be
/// read gives the same with the history error as message.
///
/// ```no_run
/// use std::{sync::Arc, time::Duration};
/// use keptn_slo::{EvaluationContext, FileSliProvider, HistoryKey, InMemoryHistory, QualityGate, SliQuery};
/// use keptn_spec::{ProjectName, ServiceName, Slo, StageName};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let gate = QualityGate::new(Arc::new(FileSliProvider::new("sli.json")), Arc::new(InMemoryHistory::new()))
///     .with_timeout(Duration::from_secs(30));
/// let slo = Slo::from_yaml_str(&std::fs::read_to_string("slo.yaml")?)?;
/// let (p, s, svc) = (ProjectName::new("sockshop")?, StageName::new("staging")?, ServiceName::new("carts")?);
/// let now = chrono::Utc::now();
/// let query = SliQuery::new(p.clone(), s.clone(), svc.clone(), now - chrono::Duration::minutes(10), now, vec![]);
/// let evaluation = gate
///     .evaluate(Some(&slo), &query, &EvaluationContext::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?), "evaluation-1")
///     .await?;
/// println!("{}", evaluation.verdict());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct QualityGate {
    provider: Arc<dyn SliProvider>,
    history: Arc<dyn EvaluationHistory>,
    timeout: Duration,
}

impl QualityGate {
    /// A gate with a 5-minute provider timeout.
    pub fn new(provider: Arc<dyn SliProvider>, history: Arc<dyn EvaluationHistory>) -> Self {
        Self {
            provider,
            history,
            timeout: Duration::from_secs(300),
        }
    }

    /// Sets how long the provider may take.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Evaluates one window and records the result under `id`.
    ///
    /// The query's indicators and custom filters are taken from the SLO when there is one.
    ///
    /// # Errors
    /// [`GateError`] (holding the evaluation) when the result cannot be recorded.
    pub async fn evaluate(
        &self,
        slo: Option<&Slo>,
        query: &SliQuery,
        ctx: &EvaluationContext,
        id: impl Into<String>,
    ) -> Result<Evaluation, GateError> {
        let id = id.into();
        let mut query = query.clone();
        if let Some(slo) = slo {
            query.indicators = slo.indicators();
            query.custom_filters = slo.filter.clone();
        }
        let key = HistoryKey::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        );
        let fetched = tokio::time::timeout(self.timeout, self.provider.fetch_slis(&query)).await;
        let report = match fetched {
            Ok(Ok(values)) => SliReport::succeeded(values),
            Ok(Err(e)) => SliReport::errored(e.to_string()),
            Err(_) => SliReport::errored(format!(
                "SLI provider `{}` did not answer within {:?}",
                self.provider.name(),
                self.timeout
            )),
        }
        .with_window(query.start, query.end);
        let evaluation = match self.history.list(&key).await {
            Ok(previous) => evaluate(slo, &report, &previous, ctx),
            Err(e) => {
                let mut failed =
                    SliReport::errored(format!("could not read previous evaluations: {e}"));
                failed.start = report.start;
                failed.end = report.end;
                let mut ev = evaluate(slo, &failed, &[], ctx);
                ev.data.message = format!("could not read previous evaluations: {e}");
                ev
            }
        };
        let record = PreviousEvaluation::new(id.clone(), evaluation.data.clone());
        match self.history.record(&key, record).await {
            Ok(()) => Ok(evaluation),
            Err(source) => Err(GateError {
                id,
                evaluation: Box::new(evaluation),
                source,
            }),
        }
    }
}
