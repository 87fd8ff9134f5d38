//! Shared helpers for the keptn-rs example programs (see `examples/README.md`).

pub mod carts;
pub mod sli_fetch;
pub mod slo_cli;
pub mod tour_args;
pub mod tour_backend;
pub mod tour_dynatrace;
pub mod tour_healing;
pub mod tour_kube;
pub mod tour_prometheus;
pub mod tour_report;
pub mod tour_ui;
