//! Keptn-style delivery: deployer and test-runner traits, Kubernetes blue/green and the
//! shipyard delivery sequence.
//!
//! This crate is being built; its API is not there yet.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub mod local;
