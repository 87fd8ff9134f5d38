//! The error type of `keptn-spec`.

use std::fmt;

/// A position in a source file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column number.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Errors from parsing and validating Keptn files and events.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid YAML/JSON, or does not have the expected shape.
    #[error("{}{}{message}", file_prefix(.file.as_deref()), location_prefix(.location.as_ref()))]
    Parse {
        /// The file name, when the caller gave one.
        file: Option<String>,
        /// Where in the input the problem is, when known.
        location: Option<Location>,
        /// What is wrong and what was expected.
        message: String,
    },
}

fn file_prefix(file: Option<&str>) -> String {
    file.map(|f| format!("{f}:")).unwrap_or_default()
}

fn location_prefix(location: Option<&Location>) -> String {
    match location {
        Some(l) => format!("{l}: "),
        None => String::new(),
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
