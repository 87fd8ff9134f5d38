//! Typed, validated Keptn files and events.
//!
//! `keptn-spec` is the vocabulary of the keptn-rs family: shipyards, SLOs, SLI configurations,
//! remediation files and Keptn CloudEvents as Rust types, parsed with located errors.
//! It does no I/O and has no async code.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

mod duration;
mod error;
mod indicator;
pub mod names;
pub mod shipyard;
mod yaml;

pub use duration::{GoDuration, InvalidDuration};
pub use error::{Diagnostic, Error, FieldPath, Issue, Location, Result, Validation};
pub use indicator::SliValue;
pub use names::{ProjectName, ServiceName, StageName};
pub use yaml::{ParseOptions, Parsed, Strictness, from_yaml_str, parse_yaml_file, to_yaml_string};
