//! The SQLite store: concurrent writers, migration of an older schema, refusal of files that
//! are not ours, and a control plane resuming from the file.

use std::sync::Arc;
use std::time::Duration;

use keptn_control::store::{Change, EventQuery, SCHEMA_VERSION, SequenceQuery};
use keptn_control::{ControlPlane, Error, ResourceScope, SequenceState, SqliteStore, Store};
use keptn_spec::ProjectName;
use keptn_spec::event::{EventType, KeptnContext, KeptnEvent, Phase, Task, Verdict};
use serde_json::json;

fn event(ctx: KeptnContext, n: usize) -> KeptnEvent {
    KeptnEvent::new(
        EventType::task(Task::Custom("write".into()), Phase::Triggered),
        format!("writer-{n}"),
        ctx,
        &json!({"n": n}),
    )
}

/// Two handles on one file, each in its own thread, write 50 changes each: all 100 arrive,
/// and a repeated event id is logged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let ctx = KeptnContext::new_random();
    let mut writers = Vec::new();
    for w in 0..2 {
        let path = path.clone();
        writers.push(tokio::spawn(async move {
            let store = SqliteStore::open(&path).unwrap();
            for i in 0..50 {
                let mut change = Change::default();
                let e = event(ctx, w * 100 + i);
                change.events = vec![e.clone(), e];
                store.commit(&change).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let events = store.events(&EventQuery::context(ctx)).await.unwrap();
    assert_eq!(events.len(), 100);
}

/// A file written with schema version 1 (before the evaluation history) is migrated, keeping
/// its projects and events.
#[tokio::test]
async fn an_older_schema_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let ctx = KeptnContext::new_random();
    let e = event(ctx, 1);
    {
        // What version 1 of keptn-control wrote.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE projects (name TEXT PRIMARY KEY);
             CREATE TABLE resources (project TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '',
                 service TEXT NOT NULL DEFAULT '', uri TEXT NOT NULL, content TEXT NOT NULL,
                 PRIMARY KEY (project, stage, service, uri));
             CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                 context TEXT, type TEXT NOT NULL, triggeredid TEXT, json TEXT NOT NULL);
             CREATE TABLE sequences (id TEXT PRIMARY KEY, context TEXT NOT NULL,
                 project TEXT NOT NULL, state TEXT NOT NULL, created TEXT NOT NULL,
                 json TEXT NOT NULL);
             INSERT INTO projects VALUES ('sockshop');
             PRAGMA application_id = 1263555155; PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO events (id, context, type, json) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                e.id.as_str(),
                ctx.to_string(),
                e.ty.to_string(),
                e.to_json_string()
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        store.projects().await.unwrap(),
        ["sockshop".parse::<ProjectName>().unwrap()]
    );
    assert_eq!(store.events(&EventQuery::context(ctx)).await.unwrap(), [e]);
    // the table version 2 added works
    let scope = ResourceScope::service(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    assert!(store.evaluations(&scope).await.unwrap().is_empty());
    // the column version 3 added works
    assert!(
        store
            .sequences(&SequenceQuery::after_abort())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A damaged file, another program's database and a newer schema are clear errors, and the
/// file is not changed.
#[test]
fn files_that_are_not_ours_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&garbage, &bytes).unwrap();
    let err = SqliteStore::open(&garbage).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("garbage.db") && msg.contains("not a keptn-rs state file"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        bytes,
        "nothing overwritten"
    );

    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    let err = SqliteStore::open(&foreign).unwrap_err();
    assert!(err.to_string().contains("another program"), "{err}");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);

    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = SqliteStore::open(&newer).unwrap_err();
    assert!(
        err.to_string().contains("schema version 99 is newer"),
        "{err}"
    );
}

const GATED: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
spec:
  stages:
    - name: dev
      sequences:
        - name: gated
          tasks:
            - name: approval
              properties: {pass: manual, warning: manual}
";

/// A control plane restarted on the same file still waits for the approval it was waiting
/// for, under the same event id, and finishes when it is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_still_wait_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let build = || async {
        ControlPlane::builder()
            .store(Arc::new(SqliteStore::open(&path).unwrap()))
            .project("gates".parse().unwrap(), GATED)
            .build()
            .await
            .unwrap()
    };
    let plane = build().await;
    let ty = EventType::sequence("dev".parse().unwrap(), "gated", Phase::Triggered).unwrap();
    let data = json!({"project": "gates", "stage": "dev", "service": "carts"});
    let ctx = plane
        .send(KeptnEvent::new(
            ty,
            "test",
            KeptnContext::new_random(),
            &data,
        ))
        .await
        .unwrap();
    let first = wait_approval(&plane).await;
    drop(plane);

    let plane = build().await;
    let again = wait_approval(&plane).await;
    assert_eq!(first, again, "the same approval.triggered id");
    plane.approve(&again, Verdict::Pass).unwrap();
    let out = plane.wait(ctx, Duration::from_secs(20)).await.unwrap();
    assert_eq!(
        (out[0].state, out[0].result),
        (SequenceState::Finished, Verdict::Pass)
    );
    let triggered = plane
        .store()
        .events(
            &EventQuery::context(ctx).of_type(EventType::task(Task::Approval, Phase::Triggered)),
        )
        .await
        .unwrap();
    assert_eq!(triggered.len(), 1, "logged once");
}

async fn wait_approval(plane: &ControlPlane) -> keptn_spec::event::EventId {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(id) = plane.open_approvals().pop() {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap()
}
