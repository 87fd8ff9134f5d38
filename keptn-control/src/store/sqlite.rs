//! The embedded default store: one SQLite file (SQLite is compiled in, nothing to install).
//!
//! The schema is versioned with `PRAGMA user_version` and migrated step by step when an older
//! file is opened; every state change is one `BEGIN IMMEDIATE` transaction; WAL mode and a busy
//! timeout let several processes share the file.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use keptn_slo::PreviousEvaluation;
use keptn_spec::ProjectName;
use keptn_spec::event::{EventId, KeptnEvent};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::port::{Change, EventFilter, EventPage, EventQuery, SHIPYARD_URI, SequenceQuery, Store};
use crate::model::{ResourceScope, SequenceRecord};
use crate::{Error, Result};

/// The schema version this build writes; older files are migrated up to it.
pub const SCHEMA_VERSION: u32 = 3;

/// `PRAGMA application_id` of our state files ("KPRS"), so a foreign SQLite file is refused.
const APPLICATION_ID: i64 = 0x4b50_5253;

/// The `WHERE` condition of an [`EventQuery`] (without its limit), bound by [`match_params`].
const EVENT_MATCH: &str = "(?1 IS NULL OR context = ?1) AND (?2 IS NULL OR type = ?2) \
                           AND (?3 IS NULL OR triggeredid = ?3)";

/// The parameters `?1`–`?3` of [`EVENT_MATCH`]: context, type and triggered id, each `NULL`
/// (any) when the query leaves it open.
fn match_params(query: &EventQuery) -> (Option<String>, Option<String>, Option<&str>) {
    (
        query.context.map(|c| c.to_string()),
        query.ty.as_ref().map(ToString::to_string),
        query.triggered_id.as_ref().map(EventId::as_str),
    )
}

/// How long a handle waits for another one holding the file (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations: `MIGRATIONS[i]` turns schema version `i` into `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 → 1: projects, resources, the event log, sequences
    "CREATE TABLE projects (name TEXT PRIMARY KEY);
     CREATE TABLE resources (
         project TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', service TEXT NOT NULL DEFAULT '',
         uri TEXT NOT NULL, content TEXT NOT NULL,
         PRIMARY KEY (project, stage, service, uri));
     CREATE TABLE events (
         seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, context TEXT,
         type TEXT NOT NULL, triggeredid TEXT, json TEXT NOT NULL);
     CREATE TABLE sequences (
         id TEXT PRIMARY KEY, context TEXT NOT NULL, project TEXT NOT NULL,
         state TEXT NOT NULL, created TEXT NOT NULL, json TEXT NOT NULL);",
    // 1 → 2: the evaluation history; indexes for the API's event queries
    "CREATE TABLE evaluations (
         seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, stage TEXT NOT NULL,
         service TEXT NOT NULL, id TEXT, json TEXT NOT NULL);
     CREATE UNIQUE INDEX evaluations_by_id ON evaluations (project, stage, service, id);
     CREATE INDEX events_by_context ON events (context);
     CREATE INDEX events_by_triggeredid ON events (triggeredid);",
    // 2 → 3: the task an aborted sequence still waits for (what a restart keeps waiting for)
    "ALTER TABLE sequences ADD COLUMN after_abort TEXT;
     CREATE INDEX sequences_after_abort ON sequences (after_abort)
         WHERE after_abort IS NOT NULL;",
];

/// A [`Store`] in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the state file at `path` and migrates an older schema.
    ///
    /// # Errors
    /// [`Error::Incompatible`] when the file is not a SQLite database, is another program's
    /// database, or has a schema newer than [`SCHEMA_VERSION`] — the file is left untouched;
    /// [`Error::Store`] when it cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn =
            Connection::open(&path).map_err(|e| store_error(&path, "open the database", e))?;
        let store = Self {
            path,
            conn: Mutex::new(conn),
        };
        store.prepare()?;
        Ok(store)
    }

    /// A fresh database in memory (for tests that want the SQL paths without a file).
    ///
    /// # Errors
    /// [`Error::Store`] when SQLite cannot create it.
    pub fn in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let conn =
            Connection::open_in_memory().map_err(|e| store_error(&path, "open the database", e))?;
        let store = Self {
            path,
            conn: Mutex::new(conn),
        };
        store.prepare()?;
        Ok(store)
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file (after migration: [`SCHEMA_VERSION`]).
    ///
    /// # Errors
    /// [`Error::Store`] when it cannot be read.
    pub fn schema_version(&self) -> Result<u32> {
        let conn = self.lock();
        self.user_version(&conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn user_version(&self, conn: &Connection) -> Result<u32> {
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
            .map_err(|e| self.classify(e, "read the schema version"))
    }

    /// A read error on a file that is not a database becomes [`Error::Incompatible`].
    fn classify(&self, e: rusqlite::Error, action: &str) -> Error {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            )
        {
            return Error::Incompatible {
                path: self.path.clone(),
                message: format!(
                    "not a keptn-rs state file: SQLite says `{e}` (expected a SQLite database \
                     written by keptn-control; the file was not changed)"
                ),
            };
        }
        store_error(&self.path, action, e)
    }

    fn prepare(&self) -> Result<()> {
        let mut conn = self.lock();
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store_error(&self.path, "set the busy timeout", e))?;
        // Version, application id and tables are read in one read transaction, so another
        // handle creating the schema at the same time is seen either not at all or whole.
        let (version, app_id, tables) = {
            let tx = conn
                .transaction()
                .map_err(|e| self.classify(e, "begin reading the header"))?;
            let version = self.user_version(&tx)?;
            let app_id: i64 = tx
                .query_row("PRAGMA application_id", [], |r| r.get(0))
                .map_err(|e| self.classify(e, "read the application id"))?;
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.classify(e, "list the tables"))?;
            tx.commit()
                .map_err(|e| self.classify(e, "end reading the header"))?;
            (version, app_id, tables)
        };
        if version == 0 {
            if tables > 0 {
                return Err(self.incompatible(
                    "a SQLite database of another program (it has tables but no keptn-rs schema \
                     version); the file was not changed",
                ));
            }
        } else if app_id != APPLICATION_ID {
            return Err(self.incompatible(&format!(
                "a SQLite database of another program (application id {app_id:#x}, expected \
                 {APPLICATION_ID:#x}); the file was not changed"
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(self.incompatible(&format!(
                "schema version {version} is newer than this build understands (up to \
                 {SCHEMA_VERSION}); the file was not changed"
            )));
        }
        if self.path != Path::new(":memory:") {
            // Switching the journal mode needs the file to itself and SQLite does not wait for
            // it (the busy timeout does not apply), so another handle opening the same file at
            // the same moment is waited out here, up to the busy timeout.
            let started = std::time::Instant::now();
            loop {
                match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                    Ok(_) => break,
                    Err(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == rusqlite::ErrorCode::DatabaseBusy
                            && started.elapsed() < BUSY_TIMEOUT =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(self.classify(e, "switch to WAL mode")),
                }
            }
        }
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let to = from + 1;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| store_error(&self.path, "begin a migration", e))?;
            // Another process may have migrated while we waited for the lock.
            let now: u32 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| store_error(&self.path, "read the schema version", e))?;
            if now as usize >= to {
                continue;
            }
            tx.execute_batch(sql)
                .and_then(|()| {
                    tx.execute_batch(&format!(
                        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {to};"
                    ))
                })
                .map_err(|e| {
                    store_error(&self.path, &format!("migrate schema {from} to {to}"), e)
                })?;
            tx.commit().map_err(|e| {
                store_error(&self.path, &format!("commit migration {from} to {to}"), e)
            })?;
        }
        Ok(())
    }

    fn incompatible(&self, message: &str) -> Error {
        Error::Incompatible {
            path: self.path.clone(),
            message: format!("not a keptn-rs state file: {message}"),
        }
    }

    fn err(&self, action: &str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        let action = action.to_owned();
        move |e| store_error(&self.path, &action, e)
    }
}

fn store_error(path: &Path, action: &str, source: rusqlite::Error) -> Error {
    Error::Store {
        path: path.to_path_buf(),
        action: action.to_owned(),
        source,
    }
}

fn to_json(value: &impl Serialize) -> String {
    // Infallible for our types: string-keyed maps only.
    serde_json::to_string(value).unwrap_or_default()
}

fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Record {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

fn stage_of(scope: &ResourceScope) -> &str {
    scope.stage.as_ref().map_or("", |s| s.as_str())
}

fn service_of(scope: &ResourceScope) -> &str {
    scope.service.as_ref().map_or("", |s| s.as_str())
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_project(&self, project: &ProjectName, shipyard: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("begin a transaction"))?;
        tx.execute(
            "INSERT OR IGNORE INTO projects (name) VALUES (?1)",
            params![project.as_str()],
        )
        .map_err(self.err("create a project"))?;
        tx.execute(
            "INSERT OR REPLACE INTO resources (project, stage, service, uri, content)
             VALUES (?1, '', '', ?2, ?3)",
            params![project.as_str(), SHIPYARD_URI, shipyard],
        )
        .map_err(self.err("write the shipyard"))?;
        tx.commit().map_err(self.err("commit a project"))
    }

    async fn projects(&self) -> Result<Vec<ProjectName>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT name FROM projects ORDER BY name")
            .map_err(self.err("list projects"))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.err("list projects"))?;
        names
            .into_iter()
            .map(|n| {
                n.parse::<ProjectName>().map_err(|e| Error::Record {
                    what: format!("project `{n}`"),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    async fn delete_project(&self, project: &ProjectName) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("begin a transaction"))?;
        let n = tx
            .execute(
                "DELETE FROM projects WHERE name = ?1",
                params![project.as_str()],
            )
            .map_err(self.err("delete a project"))?;
        if n == 0 {
            return Err(Error::NotFound(format!("project `{project}`")));
        }
        tx.execute(
            "DELETE FROM resources WHERE project = ?1",
            params![project.as_str()],
        )
        .map_err(self.err("delete a project's resources"))?;
        tx.commit().map_err(self.err("commit a deletion"))
    }

    async fn put_resource(&self, scope: &ResourceScope, uri: &str, content: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("begin a transaction"))?;
        let known: Option<String> = tx
            .query_row(
                "SELECT name FROM projects WHERE name = ?1",
                params![scope.project.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("look up a project"))?;
        if known.is_none() {
            return Err(Error::NotFound(format!("project `{}`", scope.project)));
        }
        tx.execute(
            "INSERT OR REPLACE INTO resources (project, stage, service, uri, content)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                scope.project.as_str(),
                stage_of(scope),
                service_of(scope),
                uri,
                content
            ],
        )
        .map_err(self.err("write a resource"))?;
        tx.commit().map_err(self.err("commit a resource"))
    }

    async fn resource(&self, scope: &ResourceScope, uri: &str) -> Result<Option<String>> {
        let conn = self.lock();
        conn.query_row(
            "SELECT content FROM resources
             WHERE project = ?1 AND stage = ?2 AND service = ?3 AND uri = ?4",
            params![
                scope.project.as_str(),
                stage_of(scope),
                service_of(scope),
                uri
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.err("read a resource"))
    }

    async fn resource_uris(&self, scope: &ResourceScope) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT uri FROM resources WHERE project = ?1 AND stage = ?2 AND service = ?3
                 ORDER BY uri",
            )
            .map_err(self.err("list resources"))?;
        stmt.query_map(
            params![scope.project.as_str(), stage_of(scope), service_of(scope)],
            |r| r.get(0),
        )
        .and_then(Iterator::collect)
        .map_err(self.err("list resources"))
    }

    async fn commit(&self, change: &Change) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("begin a transaction"))?;
        for event in &change.events {
            tx.execute(
                "INSERT OR IGNORE INTO events (id, context, type, triggeredid, json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    event.id.as_str(),
                    event.shkeptncontext.map(|c| c.to_string()),
                    event.ty.to_string(),
                    event.triggeredid.as_ref().map(EventId::as_str),
                    event.to_json_string(),
                ],
            )
            .map_err(self.err("append an event"))?;
        }
        for record in &change.sequences {
            tx.execute(
                "INSERT OR REPLACE INTO sequences
                     (id, context, project, state, created, json, after_abort)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    record.id.as_str(),
                    record.context.to_string(),
                    record.project.as_str(),
                    record.state.as_str(),
                    record
                        .created
                        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    to_json(record),
                    record.after_abort.as_ref().map(|a| a.triggered_id.as_str()),
                ],
            )
            .map_err(self.err("write a sequence"))?;
        }
        tx.commit().map_err(self.err("commit a state change"))
    }

    async fn has_event(&self, id: &EventId) -> Result<bool> {
        let conn = self.lock();
        conn.query_row(
            "SELECT 1 FROM events WHERE id = ?1",
            params![id.as_str()],
            |_| Ok(()),
        )
        .optional()
        .map(|o| o.is_some())
        .map_err(self.err("look up an event"))
    }

    async fn event(&self, id: &EventId) -> Result<Option<KeptnEvent>> {
        let json: Option<String> = {
            let conn = self.lock();
            conn.query_row(
                "SELECT json FROM events WHERE id = ?1",
                params![id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read an event"))?
        };
        json.map(|j| from_json(&format!("event {id}"), &j))
            .transpose()
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<KeptnEvent>> {
        let rows: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT json FROM events WHERE {EVENT_MATCH} ORDER BY seq LIMIT ?4"
                ))
                .map_err(self.err("query events"))?;
            let limit = query
                .limit
                .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
            let (context, ty, triggered_id) = match_params(query);
            stmt.query_map(params![context, ty, triggered_id, limit], |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(self.err("query events"))?
        };
        rows.iter().map(|j| from_json("event", j)).collect()
    }

    /// Walks the log newest first one row at a time: only the page is kept in memory.
    async fn events_page(
        &self,
        query: &EventQuery,
        keep: EventFilter<'_>,
        skip: usize,
        take: usize,
    ) -> Result<EventPage> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT json FROM events WHERE {EVENT_MATCH} ORDER BY seq DESC"
            ))
            .map_err(self.err("query events"))?;
        let mut rows = stmt
            .query(match_params(query))
            .map_err(self.err("query events"))?;
        let mut page = EventPage::default();
        while let Some(row) = rows.next().map_err(self.err("query events"))? {
            let json: String = row.get(0).map_err(self.err("query events"))?;
            let event: KeptnEvent = from_json("event", &json)?;
            if keep(&event) {
                page.tally(skip, take, || event);
            }
        }
        Ok(page)
    }

    async fn sequence(&self, id: &EventId) -> Result<Option<SequenceRecord>> {
        let json: Option<String> = {
            let conn = self.lock();
            conn.query_row(
                "SELECT json FROM sequences WHERE id = ?1",
                params![id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read a sequence"))?
        };
        json.map(|j| from_json(&format!("sequence {id}"), &j))
            .transpose()
    }

    async fn sequences(&self, query: &SequenceQuery) -> Result<Vec<SequenceRecord>> {
        let rows: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(
                    "SELECT json FROM sequences
                     WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR context = ?2)
                       AND (?3 = 0 OR state NOT IN ('finished', 'aborted'))
                       AND (?4 = 0 OR after_abort IS NOT NULL)
                     ORDER BY created, id",
                )
                .map_err(self.err("query sequences"))?;
            stmt.query_map(
                params![
                    query.project.as_ref().map(ProjectName::as_str),
                    query.context.map(|c| c.to_string()),
                    i64::from(query.unfinished),
                    i64::from(query.after_abort),
                ],
                |r| r.get(0),
            )
            .and_then(Iterator::collect)
            .map_err(self.err("query sequences"))?
        };
        rows.iter().map(|j| from_json("sequence", j)).collect()
    }

    async fn record_evaluation(
        &self,
        scope: &ResourceScope,
        evaluation: &PreviousEvaluation,
    ) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR IGNORE INTO evaluations (project, stage, service, id, json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                scope.project.as_str(),
                stage_of(scope),
                service_of(scope),
                evaluation.id,
                to_json(evaluation),
            ],
        )
        .map_err(self.err("record an evaluation"))?;
        Ok(())
    }

    async fn evaluations(&self, scope: &ResourceScope) -> Result<Vec<PreviousEvaluation>> {
        let rows: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(
                    "SELECT json FROM evaluations WHERE project = ?1 AND stage = ?2 AND service = ?3
                     ORDER BY seq DESC",
                )
                .map_err(self.err("read the evaluation history"))?;
            stmt.query_map(
                params![scope.project.as_str(), stage_of(scope), service_of(scope)],
                |r| r.get(0),
            )
            .and_then(Iterator::collect)
            .map_err(self.err("read the evaluation history"))?
        };
        rows.iter().map(|j| from_json("evaluation", j)).collect()
    }
}
