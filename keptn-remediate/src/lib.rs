//! Keptn-style automated remediation: remediation actions, the remediation workflow and the
//! Unleash feature-toggle action.
//!
//! This crate is being built; its API is not there yet.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]
