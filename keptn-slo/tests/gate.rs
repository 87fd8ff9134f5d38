//! `QualityGate`: provider + history + engine, with a timeout; the file provider.

mod util;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use keptn_slo::{
    EvaluationHistory, FileSliProvider, HistoryKey, InMemoryHistory, ProviderError, QualityGate,
    SliProvider, SliQuery,
};
use keptn_spec::evaluation::Status;
use keptn_spec::{ProjectName, ServiceName, SliValue, StageName, Verdict};
use util::{SEED, ctx, slo};

fn query() -> SliQuery {
    SliQuery::new(
        ProjectName::new("sockshop").unwrap(),
        StageName::new("staging").unwrap(),
        ServiceName::new("carts").unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 10, 0).unwrap(),
        vec![],
    )
}

fn key() -> HistoryKey {
    let q = query();
    HistoryKey::new(q.project, q.stage, q.service)
}

#[derive(Debug)]
struct Fixed(Result<Vec<SliValue>, ProviderError>);

#[async_trait]
impl SliProvider for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    async fn fetch_slis(&self, _: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        self.0.clone()
    }
}

#[derive(Debug)]
struct Never;

#[async_trait]
impl SliProvider for Never {
    fn name(&self) -> &str {
        "never"
    }
    async fn fetch_slis(&self, _: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        std::future::pending().await
    }
}

/// Two builds through the gate: the second compares with the first (recorded in the history).
#[tokio::test]
async fn gate_records_and_compares_with_history() {
    let s = slo(SEED);
    let history = Arc::new(InMemoryHistory::new());
    let good = QualityGate::new(
        Arc::new(Fixed(Ok(vec![SliValue::ok("response_time_p95", 400.0)]))),
        history.clone(),
    );
    let first = good
        .evaluate(Some(&s), &query(), &ctx(), "e1")
        .await
        .unwrap();
    assert_eq!(first.verdict(), Verdict::Pass);
    assert_eq!(first.data.evaluation.time_start, Some(query().start));
    let slow = QualityGate::new(
        Arc::new(Fixed(Ok(vec![SliValue::ok("response_time_p95", 1400.0)]))),
        history.clone(),
    );
    let second = slow
        .evaluate(Some(&s), &query(), &ctx(), "e2")
        .await
        .unwrap();
    assert_eq!(second.verdict(), Verdict::Fail);
    assert_eq!(second.data.evaluation.compared_events(), ["e1"]);
    assert_eq!(history.list(&key()).await.unwrap().len(), 2);
}

/// A provider error gives an errored, failed evaluation (never a stalled gate).
#[tokio::test]
async fn gate_provider_error_is_an_errored_evaluation() {
    let gate = QualityGate::new(
        Arc::new(Fixed(Err(ProviderError::new(
            "fixed",
            "unauthorized",
            false,
        )))),
        Arc::new(InMemoryHistory::new()),
    );
    let e = gate
        .evaluate(Some(&slo(SEED)), &query(), &ctx(), "e1")
        .await
        .unwrap();
    assert_eq!((e.verdict(), e.status()), (Verdict::Fail, Status::Errored));
    assert!(
        e.data.message.contains("unauthorized"),
        "{}",
        e.data.message
    );
}

/// A provider that answers without a value for an indicator, or marks it failed, fails the
/// evaluation as Keptn does, on the pipeline; a value that misses its target fails the build.
#[tokio::test]
async fn gate_without_data_fails_on_the_pipeline() {
    use keptn_slo::FailedOn;
    let s = slo(
        "objectives:\n  - sli: response_time_p95\n    pass: [{criteria: [\"<600\"]}]\ntotal_score: {pass: \"90%\"}\n",
    );
    for (values, expected) in [
        (vec![SliValue::ok("response_time_p95", 400.0)], None),
        (
            vec![SliValue::ok("response_time_p95", 1400.0)],
            Some(FailedOn::Build),
        ),
        (vec![], Some(FailedOn::Pipeline)),
        (
            vec![SliValue::failed("response_time_p95", "no data points")],
            Some(FailedOn::Pipeline),
        ),
    ] {
        let gate = QualityGate::new(
            Arc::new(Fixed(Ok(values.clone()))),
            Arc::new(InMemoryHistory::new()),
        );
        let e = gate
            .evaluate(Some(&s), &query(), &ctx(), "e1")
            .await
            .unwrap();
        assert_eq!(e.failed_on(), expected, "{values:?}");
        assert_eq!(e.verdict() == Verdict::Pass, expected.is_none());
        assert_eq!(e.status(), Status::Succeeded);
    }
}

/// A provider that never answers is cut off by the timeout (tokio's paused clock).
#[tokio::test(start_paused = true)]
async fn gate_times_out_a_silent_provider() {
    let gate = QualityGate::new(Arc::new(Never), Arc::new(InMemoryHistory::new()))
        .with_timeout(Duration::from_secs(30));
    let e = gate
        .evaluate(Some(&slo(SEED)), &query(), &ctx(), "e1")
        .await
        .unwrap();
    assert_eq!((e.verdict(), e.status()), (Verdict::Fail, Status::Errored));
    assert!(
        e.data.message.contains("did not answer within 30s"),
        "{}",
        e.data.message
    );
}

/// The file provider reads either shape and reports missing indicators as failed values.
#[tokio::test]
async fn file_provider_reads_values_and_fails_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sli.json");
    std::fs::write(&path, r#"{"status":"succeeded","result":"pass","indicatorValues":[{"metric":"a","value":1.5,"success":true}]}"#).unwrap();
    let p = FileSliProvider::new(&path);
    let mut q = query();
    q.indicators = vec!["a".into(), "b".into()];
    let values = p.fetch_slis(&q).await.unwrap();
    assert_eq!(values[0], SliValue::ok("a", 1.5));
    assert!(!values[1].success);
    assert_eq!(values[1].metric, "b");
    std::fs::write(
        &path,
        r#"{"status":"errored","message":"no token","indicatorValues":[]}"#,
    )
    .unwrap();
    assert_eq!(p.fetch_slis(&q).await.unwrap_err().message, "no token");
}

/// Public types can be shared across threads.
#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<keptn_slo::Evaluation>();
    check::<QualityGate>();
    check::<keptn_slo::FileHistory>();
    check::<InMemoryHistory>();
    check::<keptn_slo::SliReport>();
    check::<keptn_slo::PreviousEvaluation>();
}
