//! Keptn-style automated remediation: when a problem opens, find the matching remediation,
//! run its actions one at a time, verify after each, and stop when the problem is resolved —
//! or escalate when the actions are exhausted.
//!
//! - [`RemediationAction`]: one action (`toggle-feature`/`featuretoggle` through Unleash with
//!   the `unleash` feature, [`ScalingAction`] through a [`Scaler`] such as `kubernetes::KubeScaler` with the `kube`
//!   feature, or your own), kept by name in
//!   an [`ActionRegistry`] that checks remediation files when they are loaded.
//! - [`Remediator`]: the workflow (matching per Keptn 0.8.5+ for `spec.keptn.sh/0.1.4` files,
//!   title prefix for the 0.6 list), emitting Keptn events into an
//!   [`EventSink`](keptn_spec::event::EventSink), with duplicate suppression by problem PID and a
//!   dry-run [`Mode`].
//! - [`Verifier`]: "is the problem resolved?" — by the RESOLVED notification
//!   ([`ResolvedEventVerifier`]), by reading flags back
//!   ([`unleash::FlagStateVerifier`]), or your own.
//!
//! ```
//! use std::time::Duration;
//! use keptn_remediate::{ActionRegistry, Problem, RemediationStatus, Remediator, ScalingAction};
//! # #[cfg(feature = "testing")] {
//! use keptn_remediate::testing::InMemoryScaler;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
//! let scaler = InMemoryScaler::new().with("sockshop-production", "carts-primary", 1);
//! let registry = ActionRegistry::new().with(ScalingAction::new(scaler.clone()));
//! let remediator = Remediator::builder(registry).wait(Duration::from_millis(10)).build();
//! remediator.add_remediation_yaml(
//!     "sockshop".parse()?, "production".parse()?, None,
//!     "remediations:\n- name: Response time degradation\n  actions:\n  - action: scaling\n    value: \"+1\"\n",
//!     Some("remediation.yaml"),
//! )?;
//!
//! let problem = Problem::new("PID-1", "Response time degradation", "sockshop".parse()?, "production".parse()?)
//!     .with_service("carts".parse()?);
//! let report = remediator.on_problem_open(problem).await;
//! assert_eq!(scaler.get("sockshop-production", "carts-primary"), Some(2));
//! // Nobody reported the problem resolved, so after its only action the workflow escalates.
//! assert_eq!(report.status, RemediationStatus::Escalated);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
mod error;
mod notification;
mod registry;
mod report;
mod scaling;
mod verify;
mod workflow;

#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod kubernetes;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "unleash")]
#[cfg_attr(docsrs, doc(cfg(feature = "unleash")))]
pub mod unleash;

pub use action::{ActionContext, ActionOutcome, ActionStatus, Change, RemediationAction};
/// The attribute for implementing this crate's async traits ([`RemediationAction`],
/// [`Verifier`], [`Scaler`]).
pub use async_trait::async_trait;
pub use error::{ActionIssue, Error, Result};
/// The problem model, defined in keptn-spec and re-exported here for implementers of actions.
pub use keptn_spec::Problem;
pub use notification::ProblemNotification;
pub use registry::ActionRegistry;
pub use report::{EVENT_SOURCE, StepReport, VerificationReport};
pub use scaling::{DEFAULT_MAX_REPLICAS, ScaleError, Scaler, ScalingAction};
pub use verify::{
    QualityGateVerifier, ResolvedEventVerifier, ResolvedSignal, Verification, Verifier,
    VerifyError, VerifyRequest,
};
pub use workflow::{
    DEFAULT_REMEMBER_PROBLEMS, MatchedRemediation, Mode, RemediationReport, RemediationStatus,
    Remediator, RemediatorBuilder, SEQUENCE,
};
