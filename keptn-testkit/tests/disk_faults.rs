//! Property: **a state file is never left corrupt** — a full or read-only disk under the
//! evaluation history (`keptn-slo`'s [`FileHistory`]) or the control plane's SQLite state file
//! (`keptn-control`'s [`SqliteStore`]) gives a clear error naming the file, and the file,
//! reopened, still holds everything written before and takes new writes once space is back.
//!
//! The disks are tiny tmpfs mounts ([`Tmpfs`]); where mounting is not allowed (not root),
//! every test prints `SKIPPED …` and passes.

use std::error::Error as _;
use std::sync::Arc;

use keptn_control::store::{Change, EventQuery};
use keptn_control::{SqliteStore, Store};
use keptn_slo::{
    EvaluationContext, EvaluationHistory, FileHistory, HistoryError, HistoryKey, InMemoryHistory,
    PreviousEvaluation, QualityGate, SliReport, evaluate,
};
use keptn_spec::SliValue;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Task};
use keptn_testkit::{Tmpfs, skip};
use serde_json::json;

const ENOSPC: i32 = 28;
const EROFS: i32 = 30;

fn tmpfs(test: &str, kib: u32) -> Option<Tmpfs> {
    Tmpfs::mount(kib).map_or_else(|why| skip(test, &why), Some)
}

fn key() -> HistoryKey {
    HistoryKey::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

/// An evaluation entry; `note` (its message) makes it as large as a test needs.
fn entry(id: &str, note: &str) -> PreviousEvaluation {
    let ctx = EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let report = if note.is_empty() {
        SliReport::succeeded(vec![SliValue::ok("error_rate", 0.01)])
    } else {
        SliReport::errored(note)
    };
    PreviousEvaluation::new(id, evaluate(None, &report, &[], &ctx).data)
}

fn ids(entries: &[PreviousEvaluation]) -> Vec<String> {
    entries.iter().filter_map(|e| e.id.clone()).collect()
}

fn os_error(e: &HistoryError) -> Option<i32> {
    e.source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error)
}

#[tokio::test]
async fn evaluation_history_on_a_full_disk_errors_clearly_and_is_never_left_corrupt() {
    let Some(disk) = tmpfs("evaluation_history_on_a_full_disk", 64) else {
        return;
    };
    let history = FileHistory::new(disk.path().join("history"));
    history.record(&key(), entry("e1", "")).await.unwrap();
    history.record(&key(), entry("e2", "")).await.unwrap();
    disk.fill().unwrap();

    // larger than the page the file still has room in: part of it is written, then ENOSPC
    let big = "x".repeat(16 * 1024);
    let err = history.record(&key(), entry("e3", &big)).await.unwrap_err();
    let path = history.path(&key());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(os_error(&err), Some(ENOSPC), "{err:?}");
    // the write was cut off mid-line: the file ends in a torn entry
    assert!(!std::fs::read(&path).unwrap().ends_with(b"\n"));

    // reopened (a new handle, as after a restart): the earlier entries, nothing torn
    let reopened = FileHistory::new(disk.path().join("history"));
    assert_eq!(ids(&reopened.list(&key()).await.unwrap()), ["e2", "e1"]); // newest first

    // space is back: the next entry lands after the intact ones
    disk.free().unwrap();
    reopened.record(&key(), entry("e4", "")).await.unwrap();
    assert_eq!(
        ids(&FileHistory::new(disk.path().join("history"))
            .list(&key())
            .await
            .unwrap()),
        ["e4", "e2", "e1"]
    );
}

#[tokio::test]
async fn evaluation_history_on_a_read_only_disk_errors_clearly_and_keeps_its_entries() {
    let Some(disk) = tmpfs("evaluation_history_on_a_read_only_disk", 64) else {
        return;
    };
    let history = FileHistory::new(disk.path().join("history"));
    history.record(&key(), entry("e1", "")).await.unwrap();
    disk.read_only().unwrap();

    let err = history.record(&key(), entry("e2", "")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&history.path(&key()).display().to_string()),
        "{err}"
    );
    assert_eq!(os_error(&err), Some(EROFS), "{err:?}");
    assert_eq!(ids(&history.list(&key()).await.unwrap()), ["e1"]);

    disk.writable().unwrap();
    history.record(&key(), entry("e3", "")).await.unwrap();
    assert_eq!(ids(&history.list(&key()).await.unwrap()), ["e3", "e1"]);
}

/// Through the gate: the evaluation is made and returned with the history error, its verdict
/// standing; the history keeps what it had.
#[tokio::test]
async fn gate_reports_a_history_it_cannot_write_and_keeps_its_verdict() {
    let Some(disk) = tmpfs("gate_reports_a_history_it_cannot_write", 64) else {
        return;
    };
    let history = Arc::new(FileHistory::new(disk.path().join("history")));
    history.record(&key(), entry("e1", "")).await.unwrap();
    disk.read_only().unwrap();
    let provider = Arc::new(keptn_slo::FileSliProvider::new(
        disk.path().join("none.json"),
    ));
    let gate = QualityGate::new(provider, history.clone());
    let now = chrono::Utc::now();
    let query = keptn_slo::SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        now - chrono::Duration::minutes(5),
        now,
        vec!["error_rate".to_owned()],
    );
    let ctx = EvaluationContext::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let err = gate.evaluate(None, &query, &ctx, "e2").await.unwrap_err();
    assert_eq!(err.id, "e2");
    assert_eq!(os_error(&err.source), Some(EROFS), "{err:?}");
    // the SLI file is missing: the evaluation failed, and says so even though unrecorded
    assert_eq!(err.evaluation.verdict(), keptn_spec::Verdict::Fail);
    assert_eq!(ids(&history.list(&key()).await.unwrap()), ["e1"]);
    // the in-memory history is unaffected by any of this
    assert!(
        InMemoryHistory::new()
            .list(&key())
            .await
            .unwrap()
            .is_empty()
    );
}

fn event(ctx: KeptnContext, n: usize, pad: usize) -> KeptnEvent {
    KeptnEvent::new(
        EventType::task(Task::Custom("write".into()), Phase::Triggered),
        format!("writer-{n}"),
        ctx,
        &json!({"n": n, "pad": "p".repeat(pad)}),
    )
}

async fn commit(store: &SqliteStore, e: KeptnEvent) -> keptn_control::Result<()> {
    let mut change = Change::default();
    change.events = vec![e];
    store.commit(&change).await
}

/// SQLite's own check of the whole file.
fn integrity(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn control_state_file_on_a_full_disk_errors_clearly_and_is_never_left_corrupt() {
    let Some(disk) = tmpfs("control_state_file_on_a_full_disk", 1024) else {
        return;
    };
    let path = disk.path().join("state.db");
    let ctx = KeptnContext::new_random();
    let store = SqliteStore::open(&path).unwrap();
    for n in 0..3 {
        commit(&store, event(ctx, n, 100)).await.unwrap();
    }
    disk.fill().unwrap();
    // a change far larger than the space left
    let err = commit(&store, event(ctx, 99, 256 * 1024))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        format!("{:?}", err.source())
            .to_lowercase()
            .contains("full"),
        "{err:?}"
    );
    drop(store);

    disk.free().unwrap();
    assert_eq!(integrity(&path), "ok");
    let store = SqliteStore::open(&path).unwrap();
    let kept = store.events(&EventQuery::context(ctx)).await.unwrap();
    assert_eq!(
        kept.len(),
        3,
        "the three committed events, not the failed one"
    );
    commit(&store, event(ctx, 4, 100)).await.unwrap();
    assert_eq!(
        store.events(&EventQuery::context(ctx)).await.unwrap().len(),
        4
    );
}

#[tokio::test]
async fn control_state_file_on_a_read_only_disk_errors_clearly_and_is_not_changed() {
    let Some(disk) = tmpfs("control_state_file_on_a_read_only_disk", 1024) else {
        return;
    };
    let path = disk.path().join("state.db");
    let ctx = KeptnContext::new_random();
    {
        let store = SqliteStore::open(&path).unwrap();
        for n in 0..3 {
            commit(&store, event(ctx, n, 100)).await.unwrap();
        }
    }
    let before = std::fs::read(&path).unwrap();
    disk.read_only().unwrap();

    // opening may already fail (WAL needs its side files); if it opens, the write fails
    let err = match SqliteStore::open(&path) {
        Err(e) => e,
        Ok(store) => commit(&store, event(ctx, 3, 100)).await.unwrap_err(),
    };
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );

    disk.writable().unwrap();
    assert_eq!(integrity(&path), "ok");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.events(&EventQuery::context(ctx)).await.unwrap().len(),
        3
    );
}
