//! keptn-remediate (Unleash) and keptn-dynatrace; this crate holds only the stand-ins.
//!
//! The local deployer: each service version runs as a local process on a loopback
//! port, behind a per-stage reverse proxy that owns the service's public port, records every
//! request and switches between primary and canary atomically.
//!
//! The pieces, usable on their own:
//! - [`CommandTemplate`] / [`ServiceProcess`]: start a version from a command template
//!   (`{port}`, `{version}`, `{service}`), wait for its readiness probe, stop it with `SIGTERM` then
//!   `SIGKILL`, never leak it;
//! - [`StageProxy`] / [`Upstream`]: the reverse proxy and its routing target;
//! - [`RequestRecorder`]: bounded-memory request statistics (latency histograms per time slice);
//!   each proxy also serves its recorder's cumulative counts at [`METRICS_PATH`] (`/metrics`) in
//!   Prometheus' text format: the counter [`REQUESTS_METRIC`] by `deployment` and `status` and the
//!   histogram [`LATENCY_METRIC`] by `deployment`, the names keptn-prometheus' default queries
//!   read (the scrape configuration adds their `job` label);
//! - [`LocalSliProvider`]: a [`keptn_slo::SliProvider`] answering `response_time_p50/p90/p95`,
//!   `throughput` and `error_rate` from the recorders;
//! - [`LocalDeployer`]: the [`Deployer`](keptn_deploy::Deployer) for all of it: direct and blue/green
//!   deployments, promotion and rollback.
//!
//! ```no_run
//! use keptn_local::{CommandTemplate, LocalDeployer};
//! use keptn_deploy::{Artifact, Deployer, DeploymentRequest, DeploymentStrategy, StageService};
//! use keptn_slo::{SliProvider, SliQuery};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let target = StageService::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
//! let deployer = LocalDeployer::new().with_service(
//!     &target.service,
//!     CommandTemplate::new("./carts").args(["--port", "{port}", "--version", "{version}"]),
//! );
//! let image = Artifact::new("docker.io/keptnexamples/carts:0.11.1")?;
//! let request = DeploymentRequest::new(target.clone(), image, DeploymentStrategy::BlueGreenService);
//! let result = deployer.deploy(&request).await?;
//! let start = chrono::Utc::now();
//! // … send test traffic to result.uris_local[0] (the canary) …
//! let query = SliQuery::new(target.project.clone(), target.stage.clone(), target.service.clone(),
//!     start, chrono::Utc::now(), vec!["response_time_p95".into()]).with_deployment("canary");
//! let slis = deployer.sli_provider().fetch_slis(&query).await?;
//! deployer.promote(&target).await?;
//! deployer.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Beside the deployer:
//! - [`flagstore`]: a feature-flag store speaking the part of Unleash's HTTP API that flag
//!   clients and keptn-remediate's Unleash client use;
//! - [`monitor`]: watches SLIs through any [`keptn_slo::SliProvider`], opens a problem when an
//!   objective stays breached and resolves it when it recovers.
//!
//! Requires a Unix system (process groups and signals).

#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

mod deploy;
pub mod flagstore;
pub mod monitor;

pub use deploy::{
    CommandTemplate, LATENCY_BUCKETS_MS, LATENCY_METRIC, LocalDeployer, LocalError,
    LocalSliProvider, METRICS_CONTENT_TYPE, METRICS_PATH, REQUESTS_METRIC, RequestRecorder,
    SUPERVISOR_PID_ENV, SUPPORTED_SLIS, ServiceProcess, StageProxy, Upstream, WindowStats,
    deployment, process_is_running,
};
