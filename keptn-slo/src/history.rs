//! The `EvaluationHistory` port: previous evaluations per project/stage/service.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde::{Deserialize, Serialize};

use crate::report::PreviousEvaluation;

/// Which service's history: project, stage and service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistoryKey {
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
}

impl HistoryKey {
    /// A key.
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project,
            stage,
            service,
        }
    }
}

impl fmt::Display for HistoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.stage, self.service)
    }
}

/// Errors of an evaluation history.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Reading or writing the store failed.
    #[error("history store {path} could not be accessed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A complete (newline-terminated) entry is not valid: the file was edited or damaged.
    #[error("history store {path} line {line} is not a valid entry: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No evaluation with this id exists for the key.
    #[error("no evaluation `{id}` in the history of {key}")]
    NotFound {
        /// The key.
        key: String,
        /// The id.
        id: String,
    },
    /// The blocking task running the file operation failed.
    #[error("history store task failed: {0}")]
    Task(String),
}

/// Previous evaluations of services, newest first.
///
/// Contract: [`list`](EvaluationHistory::list) returns every recorded evaluation of the key,
/// newest first, with invalidated ones flagged (the engine skips them, as Keptn's datastore
/// query with `excludeInvalidated=true` does).
#[async_trait]
pub trait EvaluationHistory: Send + Sync + fmt::Debug {
    /// Appends an evaluation.
    ///
    /// # Errors
    /// [`HistoryError`] when it cannot be stored.
    async fn record(
        &self,
        key: &HistoryKey,
        evaluation: PreviousEvaluation,
    ) -> Result<(), HistoryError>;

    /// All evaluations of `key`, newest first.
    ///
    /// # Errors
    /// [`HistoryError`] when the store cannot be read.
    async fn list(&self, key: &HistoryKey) -> Result<Vec<PreviousEvaluation>, HistoryError>;

    /// Marks the evaluation with event id `id` invalidated (Keptn's `evaluation.invalidated`).
    ///
    /// # Errors
    /// [`HistoryError::NotFound`] when there is no such evaluation, or a store error.
    async fn invalidate(&self, key: &HistoryKey, id: &str) -> Result<(), HistoryError>;
}

/// An evaluation history in memory.
#[derive(Debug, Default, Clone)]
pub struct InMemoryHistory {
    entries: Arc<Mutex<HashMap<HistoryKey, Vec<PreviousEvaluation>>>>,
}

impl InMemoryHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl EvaluationHistory for InMemoryHistory {
    async fn record(
        &self,
        key: &HistoryKey,
        evaluation: PreviousEvaluation,
    ) -> Result<(), HistoryError> {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(key.clone()).or_default().push(evaluation);
        Ok(())
    }

    async fn list(&self, key: &HistoryKey) -> Result<Vec<PreviousEvaluation>, HistoryError> {
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map
            .get(key)
            .map(|v| v.iter().rev().cloned().collect())
            .unwrap_or_default())
    }

    async fn invalidate(&self, key: &HistoryKey, id: &str) -> Result<(), HistoryError> {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let found = map
            .get_mut(key)
            .into_iter()
            .flatten()
            .filter(|e| e.id.as_deref() == Some(id))
            .map(|e| e.invalidated = true)
            .count();
        if found == 0 {
            return Err(HistoryError::NotFound {
                key: key.to_string(),
                id: id.to_owned(),
            });
        }
        Ok(())
    }
}

/// An evaluation history in files: one JSON-lines file per project/stage/service
/// (`<root>/<project>/<stage>/<service>.jsonl`), append-only.
///
/// Crash safety: each entry is one line written with a single `write` and flushed to disk
/// (`fsync`) before `record` returns. A crash mid-write leaves at most a torn last line without
/// its newline; readers ignore it and the next append cuts it off first, so older entries are
/// never affected. Invalidation appends a marker line rather than rewriting the file.
///
/// Concurrency: writers in one process are serialized; several processes writing the same
/// history at once are not supported.
#[derive(Debug, Clone)]
pub struct FileHistory {
    root: PathBuf,
    lock: Arc<Mutex<()>>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluation: Option<PreviousEvaluation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invalidated: Option<String>,
}

impl FileHistory {
    /// A history stored under `root` (created when needed).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// The file that holds `key`'s history.
    pub fn path(&self, key: &HistoryKey) -> PathBuf {
        self.root
            .join(key.project.as_str())
            .join(key.stage.as_str())
            .join(format!("{}.jsonl", key.service))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path, &Mutex<()>) -> Result<T, HistoryError> + Send + 'static,
        path: PathBuf,
    ) -> Result<T, HistoryError> {
        let lock = Arc::clone(&self.lock);
        tokio::task::spawn_blocking(move || f(&path, &lock))
            .await
            .map_err(|e| HistoryError::Task(e.to_string()))?
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HistoryError + '_ {
    move |source| HistoryError::Io {
        path: path.to_owned(),
        source,
    }
}

fn append_line(path: &Path, line: &Line) -> Result<(), HistoryError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(path))?;
    }
    let mut text = serde_json::to_string(line).map_err(|e| HistoryError::Corrupt {
        path: path.to_owned(),
        line: 0,
        message: e.to_string(),
    })?;
    text.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    // Cut off a torn last line left by a crash, so the new entry starts on a fresh line. Only
    // the tail is read: appending stays independent of the history's size.
    let len = file.metadata().map_err(io(path))?.len();
    if len > 0 {
        let keep = complete_length(&mut file, len).map_err(io(path))?;
        if keep < len {
            file.set_len(keep).map_err(io(path))?;
        }
    }
    file.seek(SeekFrom::End(0)).map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_data().map_err(io(path))?;
    Ok(())
}

/// The length of `file` (of `len` bytes) up to and including its last newline: `len` when it
/// ends with one, 0 when it has none. Reads backwards from the end in blocks.
fn complete_length(file: &mut File, len: u64) -> std::io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(p) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + p as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Reads all entries, oldest first, applying invalidation markers.
fn read_entries(path: &Path) -> Result<Vec<PreviousEvaluation>, HistoryError> {
    let mut content = String::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut content).map_err(io(path))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    }
    let complete = match content.rfind('\n') {
        Some(p) => &content[..=p],
        None => "", // only a torn line
    };
    let mut entries: Vec<PreviousEvaluation> = Vec::new();
    for (i, text) in complete.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text).map_err(|e| HistoryError::Corrupt {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if let Some(e) = line.evaluation {
            entries.push(e);
        }
        if let Some(id) = line.invalidated {
            for e in &mut entries {
                if e.id.as_deref() == Some(id.as_str()) {
                    e.invalidated = true;
                }
            }
        }
    }
    Ok(entries)
}

#[async_trait]
impl EvaluationHistory for FileHistory {
    async fn record(
        &self,
        key: &HistoryKey,
        evaluation: PreviousEvaluation,
    ) -> Result<(), HistoryError> {
        let line = Line {
            evaluation: Some(evaluation),
            invalidated: None,
        };
        self.blocking(
            move |path, lock| {
                let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                append_line(path, &line)
            },
            self.path(key),
        )
        .await
    }

    async fn list(&self, key: &HistoryKey) -> Result<Vec<PreviousEvaluation>, HistoryError> {
        self.blocking(
            |path, lock| {
                let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let mut entries = read_entries(path)?;
                entries.reverse();
                Ok(entries)
            },
            self.path(key),
        )
        .await
    }

    async fn invalidate(&self, key: &HistoryKey, id: &str) -> Result<(), HistoryError> {
        let id = id.to_owned();
        let key_text = key.to_string();
        self.blocking(
            move |path, lock| {
                let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let entries = read_entries(path)?;
                if !entries.iter().any(|e| e.id.as_deref() == Some(id.as_str())) {
                    return Err(HistoryError::NotFound { key: key_text, id });
                }
                append_line(
                    path,
                    &Line {
                        evaluation: None,
                        invalidated: Some(id),
                    },
                )
            },
            self.path(key),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complete part of a file is found from its tail, also when the torn line is longer
    /// than one block or there is no newline at all.
    #[test]
    fn complete_length_reads_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let torn = "x".repeat(150_000);
        for (content, want) in [
            (format!("a\nbb\n{torn}"), 5u64),
            (format!("a\n{torn}\n"), 150_003),
            (torn.clone(), 0),
            ("a\n".to_owned(), 2),
        ] {
            fs::write(&path, &content).unwrap();
            let mut f = File::open(&path).unwrap();
            assert_eq!(complete_length(&mut f, content.len() as u64).unwrap(), want);
        }
    }
}
