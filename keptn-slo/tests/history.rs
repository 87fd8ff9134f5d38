//! Evaluation history stores: ordering, invalidation, crash safety of the file store.

mod util;

use std::io::Write;

use keptn_slo::{EvaluationHistory, FileHistory, HistoryError, HistoryKey, InMemoryHistory};
use keptn_spec::{ProjectName, ServiceName, StageName, Verdict};
use util::prev;

fn key() -> HistoryKey {
    HistoryKey::new(
        ProjectName::new("sockshop").unwrap(),
        StageName::new("staging").unwrap(),
        ServiceName::new("carts").unwrap(),
    )
}

fn ids(list: &[keptn_slo::PreviousEvaluation]) -> Vec<(String, bool)> {
    list.iter()
        .map(|p| (p.id.clone().unwrap(), p.invalidated))
        .collect()
}

async fn exercise(h: &dyn EvaluationHistory) {
    assert!(h.list(&key()).await.unwrap().is_empty());
    h.record(&key(), prev("e1", Verdict::Pass, &[("a", 1.0)]))
        .await
        .unwrap();
    h.record(&key(), prev("e2", Verdict::Fail, &[("a", 2.0)]))
        .await
        .unwrap();
    assert_eq!(
        ids(&h.list(&key()).await.unwrap()),
        [("e2".into(), false), ("e1".into(), false)]
    );
    h.invalidate(&key(), "e1").await.unwrap();
    assert_eq!(
        ids(&h.list(&key()).await.unwrap()),
        [("e2".into(), false), ("e1".into(), true)]
    );
    let err = h.invalidate(&key(), "nope").await.unwrap_err();
    assert!(matches!(err, HistoryError::NotFound { .. }), "{err}");
    let other = HistoryKey::new(
        key().project,
        StageName::new("production").unwrap(),
        key().service,
    );
    assert!(h.list(&other).await.unwrap().is_empty());
}

/// The in-memory store lists newest first and supports invalidation.
#[tokio::test]
async fn in_memory_history_orders_and_invalidates() {
    exercise(&InMemoryHistory::new()).await;
}

/// The file store behaves the same and keeps one JSON-lines file per project/stage/service.
#[tokio::test]
async fn file_history_orders_and_invalidates() {
    let dir = tempfile::tempdir().unwrap();
    let h = FileHistory::new(dir.path());
    exercise(&h).await;
    assert!(h.path(&key()).ends_with("sockshop/staging/carts.jsonl"));
    // A second store on the same directory reads what the first wrote (survives a restart).
    let again = FileHistory::new(dir.path());
    assert_eq!(
        ids(&again.list(&key()).await.unwrap()),
        [("e2".into(), false), ("e1".into(), true)]
    );
}

/// A crash mid-write leaves a torn last line: it is ignored, older entries stay intact, and
/// the next record cuts it off before appending.
#[tokio::test]
async fn file_history_ignores_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let h = FileHistory::new(dir.path());
    h.record(&key(), prev("e1", Verdict::Pass, &[("a", 1.0)]))
        .await
        .unwrap();
    let path = h.path(&key());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"evaluation":{"id":"torn","result":"pa"#)
        .unwrap();
    drop(f);
    assert_eq!(ids(&h.list(&key()).await.unwrap()), [("e1".into(), false)]);
    h.record(&key(), prev("e2", Verdict::Pass, &[("a", 2.0)]))
        .await
        .unwrap();
    assert_eq!(
        ids(&h.list(&key()).await.unwrap()),
        [("e2".into(), false), ("e1".into(), false)]
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("torn"));
    assert_eq!(text.lines().count(), 2);
}

/// A damaged complete line is reported with its line number, not silently skipped.
#[tokio::test]
async fn file_history_reports_a_corrupt_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let h = FileHistory::new(dir.path());
    h.record(&key(), prev("e1", Verdict::Pass, &[]))
        .await
        .unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(h.path(&key()))
        .unwrap();
    f.write_all(b"garbage\n").unwrap();
    drop(f);
    let err = h.list(&key()).await.unwrap_err();
    assert!(
        matches!(err, HistoryError::Corrupt { line: 2, .. }),
        "{err}"
    );
}
