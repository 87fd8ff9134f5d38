//! Durable state behind one trait: projects, resources, sequences, the event log and the
//! evaluation history. [`MemoryStore`] for tests, [`SqliteStore`] as the embedded default.

mod memory;
mod port;
mod sqlite;

pub use memory::MemoryStore;
pub use port::{Change, EventFilter, EventPage, EventQuery, SHIPYARD_URI, SequenceQuery, Store};
pub use sqlite::{SCHEMA_VERSION, SqliteStore};
