//! The one place where YAML is read: every other module parses through here, so that
//! a change of YAML library touches one file.

use serde::de::DeserializeOwned;

use crate::error::{Error, Location, Result};

/// Deserializes a value of type `T` from a YAML document.
///
/// # Errors
/// [`Error::Parse`] with the line and column of the problem when the text is not YAML or
/// does not match the shape of `T`.
pub fn from_yaml_str<T: DeserializeOwned>(src: &str) -> Result<T> {
    serde_saphyr::from_str(src).map_err(|e| Error::Parse {
        file: None,
        location: e.location().map(|l| Location {
            line: l.line(),
            column: l.column(),
        }),
        message: e.to_string(),
    })
}
