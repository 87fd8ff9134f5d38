//! Keptn's SLO quality gate.
//!
//! The engine is pure and synchronous; SLI values come through the [`SliProvider`] port.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

mod provider;

pub use provider::{ProviderError, SliProvider, SliQuery};
