//! Keptn CloudEvents: the envelope, typed event types, the Keptn context and the
//! [`EventSink`] every part of the family emits into.
//!
//! * [`KeptnEvent`] — a CloudEvents 1.0 envelope with Keptn's extensions (`shkeptncontext`,
//!   `triggeredid`, `shkeptnspecversion`, `gitcommitid`) and JSON `data`; unknown attributes
//!   round-trip through [`KeptnEvent::extra`]. Parse with [`KeptnEvent::from_json_str`]
//!   (located errors).
//! * [`EventType`] — `sh.keptn.event.<task>.<phase>`, `sh.keptn.event.<stage>.<sequence>.<phase>`,
//!   the problem events and the generation-1 names of Keptn 0.6/0.7 ([`Gen1Type`]), with
//!   [`EventType::to_gen2`].
//! * [`KeptnContext`] — the flow's UUID, including Keptn's deterministic derivation from a
//!   Dynatrace `PID` ([`KeptnContext::derive`]).
//! * [`EventSink`] — synchronous, non-blocking by contract; [`MemoryEventSink`], [`FanOut`],
//!   [`ChannelEventSink`], [`DiscardEventSink`].
//!
//! ```
//! use keptn_spec::event::{EventSink, EventType, KeptnContext, KeptnEvent, MemoryEventSink, Phase, Task};
//! use serde_json::json;
//!
//! let sink = MemoryEventSink::new();
//! let context = KeptnContext::new_random();
//!
//! // The shipyard-controller asks for a deployment …
//! let triggered = KeptnEvent::triggered(
//!     &EventType::task(Task::Deployment, Phase::Triggered),
//!     "shipyard-controller",
//!     context,
//!     &json!({"project": "sockshop", "stage": "dev", "service": "carts",
//!             "configurationChange": {"values": {"image": "docker.io/keptnexamples/carts:0.11.1"}}}),
//! )?;
//! sink.emit(&triggered);
//!
//! // … and the deployer answers in the same context.
//! let finished = triggered.finished("helm-service", &json!({"status": "succeeded", "result": "pass"}))?;
//! assert_eq!(finished.triggeredid.as_ref(), Some(&triggered.id));
//! sink.emit(&finished);
//!
//! // Events travel as CloudEvents JSON.
//! let wire = finished.to_json_string();
//! let back = KeptnEvent::from_json_str(&wire)?;
//! assert_eq!(back, finished);
//! assert_eq!(back.ty.to_string(), "sh.keptn.event.deployment.finished");
//! assert_eq!(sink.in_context(&context).len(), 2);
//! # Ok::<(), keptn_spec::Error>(())
//! ```

mod context;
mod data;
mod envelope;
mod gen1;
mod gen1_type;
mod payload;
mod sink;
mod types;

pub use crate::evaluation::{EvaluationFinishedData, Status, Verdict};
pub use context::{EventId, KeptnContext};
pub use data::{
    ActionDetails, ActionFinishedData, ActionTriggeredData, ApprovalStrategy,
    ApprovalTriggeredData, CommonData, ConfigurationChange, ConfigureMonitoring,
    ConfigureMonitoringTriggeredData, CustomFilter, DeploymentDetails, DeploymentFinishedData,
    DeploymentTriggeredData, EvaluationTriggeredData, EvaluationWindow, EventData, Extra,
    GetActionFinishedData, GetActionTriggeredData, GetSliFinishedData, GetSliRequest, GetSliResult,
    GetSliTriggeredData, ProblemDetails, ProblemEventData, ProblemState, ReleaseDetails,
    ReleaseFinishedData, ReleaseTriggeredData, RemediationActionRef, RemediationProgress,
    RemediationStatusChangedData, RemediationTriggeredData, RollbackTriggeredData, TestDetails,
    TestFinishedData, TestTriggeredData,
};
pub use envelope::{
    CLOUDEVENTS_SPEC_VERSION, EventPayload, JSON_CONTENT_TYPE, KEPTN_SPEC_VERSION, KeptnEvent,
};
pub use gen1_type::Gen1Type;
pub use payload::Payload;
pub use sink::{ChannelEventSink, DiscardEventSink, EventSink, FanOut, MemoryEventSink};
pub use types::{EVENT_PREFIX, EventType, Phase, Task};
