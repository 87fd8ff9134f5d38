//! Keptn-style delivery: deployer and test-runner traits and Kubernetes blue/green. The shipyard
//! sequences that use them run in `keptn-control` (its deployment, test, release and rollback
//! executors).
//!
//! - [`Deployer`] deploys one service in one stage with a [`DeploymentStrategy`] (`direct`,
//!   `blue_green_service`, `user_managed`), promotes or rolls back the canary, reports which
//!   version serves and scales it.
//! - `kubernetes::KubeDeployer` (feature `kube`, opt-in) does that on a Kubernetes cluster
//!   with Keptn's names: namespace `{project}-{stage}`, `{service}-primary` serving, the new
//!   version as canary beside it.
//! - [`TestRunner`] runs functional and performance tests; `runner::HttpTestRunner` (feature
//!   `http-runner`, default) is the built-in HTTP load tester.
//!
//! Features: `http-runner` and `rustls` (TLS for it) are on by default; with
//! `default-features = false` the crate is the traits and the event sinks,
//! with no HTTP or TLS stack. `kube` is opt-in, and k8s-openapi needs its Kubernetes version
//! chosen by the application (a library must not): add
//! `k8s-openapi = { version = "0.29", features = ["latest"] }` (or the `v1_*` feature of your
//! cluster) next to `keptn-deploy = { features = ["kube"] }`, otherwise k8s-openapi's build
//! script stops the build. `testing` adds in-memory doubles.
//! - [`JsonLinesSink`] writes Keptn CloudEvents as JSON lines.
//! - `testing` (feature `testing`) has in-memory doubles: `InMemoryDeployer`,
//!   `StaticTestRunner`.
//! - The embedded local deployer (each service version a local process behind a per-stage
//!   proxy, no cluster needed) is `LocalDeployer` in the `keptn-local` crate.
//!
//! ```
//! use keptn_deploy::{Artifact, DeploymentRequest, DeploymentStrategy, StageService};
//!
//! let target = StageService::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
//! let strategy: DeploymentStrategy = "blue_green_service".parse()?;
//! let request = DeploymentRequest::new(
//!     target.clone(),
//!     Artifact::new("docker.io/keptnexamples/carts:0.11.2")?,
//!     strategy,
//! );
//! assert_eq!(target.namespace(), "sockshop-staging");
//! assert_eq!(request.artifact.tag(), "0.11.2");
//! assert_eq!(request.values["image"], "docker.io/keptnexamples/carts:0.11.2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod deployer;
mod error;
mod strategy;

pub mod runner;
mod sink;

#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod kubernetes;

/// The attribute for implementing this crate's async traits ([`Deployer`], [`TestRunner`]).
pub use async_trait::async_trait;
pub use deployer::{
    Artifact, Deployer, DeploymentRequest, DeploymentResult, InvalidArtifact, RunningVersion,
    ServiceStatus, StageService,
};
pub use error::{Error, Result};
pub use runner::{Progress, TestOutcome, TestProgress, TestReport, TestRequest, TestRunner};
pub use sink::JsonLinesSink;
pub use strategy::{DeploymentStrategy, TestStrategy, UnknownStrategy};

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "kube")]
pub use kube;
