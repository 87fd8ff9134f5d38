//! Dynatrace for Keptn-style delivery: an SLI provider on the Metrics API v2, the monitoring
//! set-up, problem notifications and event forwarding.
//!
//! This crate is being built; its API is not there yet.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
