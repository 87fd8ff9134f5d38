//! Typed, validated Keptn files and events.
//!
//! `keptn-spec` is the vocabulary of the keptn-rs family: shipyards, SLOs, SLI configurations,
//! remediation files and Keptn CloudEvents as Rust types, parsed with located errors.
//! It does no I/O and has no async code.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

pub mod criterion;
pub mod document;
mod duration;
mod error;
pub mod evaluation;
pub mod event;
mod indicator;
pub mod names;
pub mod remediation;
pub mod shipyard;
pub mod sli;
pub mod slo;
pub mod webhook;
mod yaml;

pub use criterion::Criterion;
pub use duration::{GoDuration, InvalidDuration};
pub use error::{Diagnostic, Error, FieldPath, Issue, Location, Result, Validation};
pub use evaluation::{EvaluationFinishedData, Verdict};
pub use indicator::SliValue;
pub use names::{ProjectName, ServiceName, StageName};
pub use slo::Slo;
pub use yaml::{ParseOptions, Parsed, Strictness, from_yaml_str, parse_yaml_file, to_yaml_string};
