//! The crate's error type.

use std::path::PathBuf;

/// Errors of the control plane and its store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The state file could not be opened, migrated, read or written.
    #[error("state store {}: cannot {action}", .path.display())]
    Store {
        /// The state file (`:memory:` for an in-memory database).
        path: PathBuf,
        /// What was being done, such as `open the database` or `commit a state change`.
        action: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The state file is not one this version can use (not a SQLite database, a schema from a
    /// newer version, a damaged record). Nothing in it was changed.
    #[error("state store {}: {message}", .path.display())]
    Incompatible {
        /// The state file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A stored record could not be read back (a damaged row).
    #[error("state store: record {what} is damaged: {message}")]
    Record {
        /// Which record, such as `sequence 1f0…`.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A project, shipyard, sequence or resource given to the control plane is not usable.
    #[error("{0}")]
    Invalid(String),
    /// Something named in a request does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The event bus is closed (the control plane shut down).
    #[error("the event bus is closed")]
    BusClosed,
    /// Waiting for a sequence took longer than allowed.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, String),
    /// An event could not be built or read.
    #[error("event: {0}")]
    Event(#[from] keptn_spec::Error),
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
