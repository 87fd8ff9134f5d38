//! An [`EventSink`] writing one CloudEvent JSON per line to a file (the event timeline a Bridge
//! can read).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keptn_spec::event::{EventSink, KeptnEvent};

use crate::{Error, Result};

/// Appends every event as one line of CloudEvents JSON to a file, flushing after each event so
/// the file is complete up to the last emitted event even if the process dies.
///
/// [`EventSink::emit`] cannot fail, so write errors are logged and remembered: check
/// [`JsonLinesSink::error`] after a run.
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<BufWriter<File>>,
    error: Mutex<Option<String>>,
}

impl JsonLinesSink {
    /// Opens `path` for appending, creating it if missing.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be opened.
    pub fn append(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            file: Mutex::new(BufWriter::new(file)),
            error: Mutex::new(None),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write error, if any happened.
    pub fn error(&self) -> Option<String> {
        self.error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads every event of a JSON-lines file, in order.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Manifest`] naming the line of an
    /// event that does not parse.
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<KeptnEvent>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                KeptnEvent::from_json_str(l).map_err(|e| Error::Manifest {
                    path: path.to_owned(),
                    message: format!("line {}: {e}", i + 1),
                })
            })
            .collect()
    }
}

impl EventSink for JsonLinesSink {
    fn emit(&self, event: &KeptnEvent) {
        let line = event.to_json_string();
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = writeln!(file, "{line}").and_then(|()| file.flush());
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write event");
            let mut slot = self
                .error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(format!("{}: {e}", self.path.display()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_spec::event::{EventType, KeptnContext, Phase, Task};
    use serde_json::json;

    /// Events written as JSON lines read back equal, in order, across re-opens.
    #[test]
    fn json_lines_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let ctx = KeptnContext::new_random();
        let t = KeptnEvent::triggered(
            &EventType::task(Task::Deployment, Phase::Triggered),
            "test",
            ctx,
            &json!({"project": "p"}),
        )
        .unwrap();
        let f = t.finished("test", &json!({"result": "pass"})).unwrap();
        JsonLinesSink::append(&path).unwrap().emit(&t);
        let sink = JsonLinesSink::append(&path).unwrap();
        sink.emit(&f);
        assert_eq!(sink.error(), None);
        assert_eq!(JsonLinesSink::read(&path).unwrap(), vec![t, f]);
    }

    /// A corrupt line is reported with its line number.
    #[test]
    fn corrupt_line_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{not json\n").unwrap();
        let err = JsonLinesSink::read(&path).unwrap_err().to_string();
        assert!(err.contains("events.jsonl: line 1:"), "{err}");
    }
}
