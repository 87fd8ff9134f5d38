//! Keptn's control plane as a library: it reacts to events, runs every sequence of a project's
//! shipyard the same way, remembers everything, and survives restarts.
//!
//! * [`ControlPlane`] — built with projects (their shipyards), [`TaskExecutor`]s, a [`Store`]
//!   and an [`EventBus`]. A sequence starts from `sh.keptn.event.<stage>.<sequence>.triggered`;
//!   each task goes out as `sh.keptn.event.<task>.triggered` and is answered `.started` /
//!   `.finished` by its executors (same `shkeptncontext` and `triggeredid`). Queueing per
//!   project/stage/service, `triggeredOn`, approval, abort/pause/resume as Keptn's
//!   shipyard-controller; outcomes are typed ([`SequenceOutcome`]).
//! * [`executors`] — what Keptn's control plane did itself: the [`Lighthouse`](executors::Lighthouse)
//!   (quality gate over `get-sli`), any keptn-slo `SliProvider` as the `get-sli` executor,
//!   remediation's `get-action`/`action`, and keptn-deploy's `Deployer`/`TestRunner` as
//!   `deployment`, `test`, `release` and `rollback`.
//! * [`store`] — projects, resources, sequences, the event log and the evaluation history in
//!   SQLite ([`SqliteStore`]) or memory ([`MemoryStore`]); every state change is one transaction,
//!   and a restarted control plane resumes what was in flight.
//!
//! A delivery (dev direct → staging blue/green with the gate → production) with your
//! own deployer, in under 50 lines (with an `slo.yaml` stored for staging, an SLI provider as
//! `get-sli` executor and a slow build, the staging gate fails and the `rollback` sequence runs —
//! `tests/delivery.rs`):
//!
//! ```
//! # use std::{collections::HashMap, sync::{Arc, Mutex}, time::Duration}; use keptn_spec::Verdict;
//! # use keptn_control::{ControlPlane, executors::*}; use keptn_deploy::{Result, *};
//! #[derive(Debug, Default)] // your deployer: here it remembers what serves and what waits as canary
//! struct MyDeployer(Mutex<HashMap<StageService, (Option<String>, Option<String>)>>);
//! impl MyDeployer {
//!     fn update(&self, t: &StageService, f: impl FnOnce(&mut (Option<String>, Option<String>))) -> ServiceStatus {
//!         let mut slots = self.0.lock().unwrap();
//!         let slot = slots.entry(t.clone()).or_default();
//!         f(slot);
//!         let mut status = ServiceStatus::absent(t.clone());
//!         status.serving = slot.0.as_ref().map(|i| RunningVersion::new("primary", i, 1, 1));
//!         status.canary = slot.1.as_ref().map(|i| RunningVersion::new("canary", i, 1, 1));
//!         status
//!     }
//! }
//! #[async_trait::async_trait]
//! impl Deployer for MyDeployer {
//!     fn name(&self) -> &str { "mine" }
//!     async fn deploy(&self, r: &DeploymentRequest) -> Result<DeploymentResult> {
//!         let (image, blue_green) = (r.artifact.to_string(), r.strategy == DeploymentStrategy::BlueGreenService);
//!         self.update(&r.target, |s| if blue_green && s.0.is_some() { s.1 = Some(image.clone()) } else { s.0 = Some(image.clone()) });
//!         Ok(DeploymentResult::new(r.strategy, vec![r.strategy.deployment_name().into()], image))
//!     }
//!     async fn promote(&self, t: &StageService) -> Result<ServiceStatus> { Ok(self.update(t, |s| if let Some(c) = s.1.take() { s.0 = Some(c) })) }
//!     async fn rollback(&self, t: &StageService) -> Result<ServiceStatus> { Ok(self.update(t, |s| s.1 = None)) }
//!     async fn status(&self, t: &StageService) -> Result<ServiceStatus> { Ok(self.update(t, |_| {})) }
//!     // `scale` keeps its default: it answers `Error::Unsupported`, which this tour never asks.
//! }
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let shipyard = "stages:\n- {name: dev, deployment_strategy: direct}\n\
//!                 - {name: staging, deployment_strategy: blue_green_service}\n- {name: production, deployment_strategy: blue_green_service}\n";
//! let plane = ControlPlane::builder()
//!     .project("sockshop".parse()?, shipyard)
//!     .deployer(Arc::new(MyDeployer::default())) // deployment, release and rollback
//!     .executor(TestExecutor::new(Arc::new(runner::HttpTestRunner::new()))) // no test strategy: passes
//!     .executor(Lighthouse::new("dynatrace")) // no slo.yaml stored: the gate passes, as in Keptn
//!     .build().await?;
//! let ctx = plane.trigger_delivery(&"sockshop".parse()?, &"dev".parse()?, "delivery", &"carts".parse()?, "carts:0.11.1").await?;
//! for outcome in plane.wait(ctx, Duration::from_secs(30)).await? {
//!     assert_eq!(outcome.result, Verdict::Pass, "{outcome:?}");
//!     println!("{} {}: {:?}, serving {:?}", outcome.stage, outcome.sequence, outcome.result, outcome.serving);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bus;
mod controller;
mod error;
mod executor;
pub mod executors;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod ids;
mod ingress;
mod merge;
mod model;
mod plane;
pub mod report;
pub mod store;

pub use bus::{EventBus, InProcessBus, Subscription, Topic};
pub use controller::{CONTROLLER_SOURCE, REMEDIATION_SEQUENCE};
pub use error::{Error, Result};
pub use executor::{ApprovalDesk, ExecutorContext, TaskExecutor};
pub use ingress::EventIngress;
pub use model::{
    AfterAbort, ResourceScope, SequenceControl, SequenceOutcome, SequenceRecord, SequenceState,
    TaskResult, TaskRun,
};
pub use plane::{ControlPlane, ControlPlaneBuilder, DEFAULT_TASK_START_TIMEOUT};
pub use store::{MemoryStore, SqliteStore, Store};

/// The deployer port ([`keptn_deploy::Deployer`]) and test runners the executors drive.
pub use keptn_deploy;
/// The quality gate the [`Lighthouse`](executors::Lighthouse) runs and the SLI provider port.
pub use keptn_slo;
/// Events, shipyards, names and verdicts.
pub use keptn_spec;
