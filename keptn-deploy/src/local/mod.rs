//! The embedded local deployer: each service version runs as a local process on a loopback
//! port, behind a per-stage reverse proxy that owns the service's public port, records every
//! request and switches between primary and canary atomically.
//!
//! The pieces, usable on their own:
//! - [`CommandTemplate`] / [`ServiceProcess`]: start a version from a command template
//!   (`{port}`, `{version}`, `{service}`), wait for its readiness probe, stop it with `SIGTERM` then
//!   `SIGKILL`, never leak it;
//! - [`StageProxy`] / [`Upstream`]: the reverse proxy and its routing target;
//! - [`RequestRecorder`]: bounded-memory request statistics (latency histograms per time slice);
//! - [`LocalSliProvider`]: a [`keptn_slo::SliProvider`] answering `response_time_p50/p90/p95`,
//!   `throughput` and `error_rate` from the recorders;
//! - [`LocalDeployer`]: the [`Deployer`](crate::Deployer) for all of it: direct and blue/green
//!   deployments, promotion and rollback.
//!
//! ```no_run
//! use keptn_deploy::local::{CommandTemplate, LocalDeployer};
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
//! Requires the `local` feature (on by default) and a Unix system (process groups and signals).

mod deployer;
mod error;
mod histogram;
mod proxy;
mod recorder;
mod sli;
mod supervisor;

pub use deployer::{LocalDeployer, deployment};
pub use error::LocalError;
pub use proxy::{StageProxy, Upstream};
pub use recorder::{RequestRecorder, WindowStats};
pub use sli::{LocalSliProvider, SUPPORTED_SLIS};
pub use supervisor::{CommandTemplate, SUPERVISOR_PID_ENV, ServiceProcess, process_is_running};
