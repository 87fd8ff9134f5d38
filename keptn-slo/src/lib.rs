//! Keptn's SLO quality gate: a pure engine that gives the verdict Keptn 1.4.5's lighthouse
//! would give on the same data, explains it, and runs anywhere.
//!
//! * [`evaluate`] — SLO + SLI values + previous evaluations → [`Evaluation`], whose `data` is
//!   exactly Keptn's `evaluation.finished` payload. Pure and synchronous: no clock, no I/O.
//!   [`CompiledSlo`] prepares an SLO once for repeated evaluations (same results, about a third
//!   less work per call; `benches/evaluate.rs` measures both).
//! * [`Evaluation::explain`] — per objective: observed value, baseline, each target with its
//!   margin and, for a failed or warning objective, the value at which it would have passed.
//! * Ports (feature `gate`, on by default): `SliProvider` (where values come from;
//!   `FileSliProvider` reads a JSON file) and `EvaluationHistory` (`InMemoryHistory`,
//!   crash-safe `FileHistory`), and `QualityGate` — provider + history + engine, with a
//!   timeout. These need tokio and async-trait.
//!
//! * Beyond Keptn, opt-in through `slo.yaml` keys Keptn ignores: the no-data policy
//!   (`no_data: fail|warn|ignore|inconclusive`, see [`keptn_spec::slo::NoDataPolicy`] and
//!   [`Evaluation::is_inconclusive`]), shadow objectives (`shadow: true`: evaluated and
//!   reported, never counted), shadow SLOs (top-level `shadow: true`, see
//!   [`Evaluation::shadow_verdict`]) and [`replay`] (backtest an SLO on a recorded history):
//!
//! ```
//! use keptn_slo::{evaluate, EvaluationContext, SliReport};
//! use keptn_spec::{Slo, SliValue, Verdict};
//! use keptn_spec::evaluation::IndicatorStatus;
//!
//! // Trial a stricter response-time objective before it blocks anyone.
//! let slo = Slo::from_yaml_str(r#"
//! objectives:
//!   - sli: response_time_p95
//!     pass: [{ criteria: ["<600"] }]
//!   - sli: response_time_p95
//!     displayName: stricter (trial)
//!     shadow: true
//!     pass: [{ criteria: ["<300"] }]
//! total_score: { pass: "90%" }
//! "#)?;
//! let sli = SliReport::succeeded(vec![SliValue::ok("response_time_p95", 420.0)]);
//! let e = evaluate(Some(&slo), &sli, &[], &EvaluationContext::default());
//! assert_eq!(e.verdict(), Verdict::Pass);
//! assert_eq!(e.score(), 100.0);
//! // the shadow would have failed this build
//! assert_eq!(e.data.evaluation.indicator_results()[1].status, IndicatorStatus::Fail);
//! assert_eq!(e.data.keptn_rs.shadow_objectives, ["stricter (trial)"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For the engine alone (no async runtime, no tokio, no async-trait, no clap), depend on the
//! crate with `default-features = false`:
//!
//! ```toml
//! keptn-slo = { version = "0.1", default-features = false }
//! ```
//!
//! The verdicts follow Keptn's quality gates
//! (<https://keptn.sh/docs/1.0.x/quality_gates/>) as Keptn 1.4.5's lighthouse computes them,
//! including the JSON it writes (`null` where Keptn leaves a list or value unset).
//!
//! ```
//! use keptn_slo::{evaluate, EvaluationContext, PreviousEvaluation, SliReport};
//! use keptn_spec::{Slo, SliValue, Verdict};
//!
//! let slo = Slo::from_yaml_str(r#"
//! comparison: { compare_with: single_result, include_result_with_score: pass, aggregate_function: avg }
//! objectives:
//!   - sli: response_time_p95
//!     pass: [{ criteria: ["<=+10%", "<600"] }]
//!     warning: [{ criteria: ["<=800"] }]
//! total_score: { pass: "90%", warning: "75%" }
//! "#)?;
//! let ctx = EvaluationContext::new("sockshop".parse()?, "staging".parse()?, "carts".parse()?);
//!
//! // First build: no baseline, so the relative criterion is satisfied.
//! let first = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("response_time_p95", 500.0)]), &[], &ctx);
//! assert_eq!(first.verdict(), Verdict::Pass);
//!
//! // Slow build: 1,050 ms against a baseline of 500 ms.
//! let history = [PreviousEvaluation::new("e1", first.data.clone())];
//! let slow = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("response_time_p95", 1050.0)]), &history, &ctx);
//! assert_eq!(slow.verdict(), Verdict::Fail);
//! assert_eq!(slow.data.evaluation.indicator_results()[0].pass_targets()[0].target_value, 550.0);
//! assert_eq!(slow.data.evaluation.compared_events(), ["e1"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod engine;
mod explain;
#[cfg(feature = "gate")]
mod file_provider;
#[cfg(feature = "gate")]
mod gate;
#[cfg(feature = "gate")]
mod history;
mod lean_scan;
#[cfg(feature = "gate")]
mod multi;
#[cfg(feature = "gate")]
mod provider;
pub mod render;
pub mod replay;
mod report;

pub use engine::{
    CompiledSlo, Evaluation, EvaluationContext, FailedOn, NO_VALUE_MESSAGE, aggregate, base64,
    evaluate, select_previous,
};
pub use explain::{ObjectiveExplanation, PassCondition, TargetExplanation, TargetKind};
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use file_provider::FileSliProvider;
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use gate::{GateError, QualityGate};
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use history::{EvaluationHistory, FileHistory, HistoryError, HistoryKey, InMemoryHistory};
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use multi::{MULTI_PROVIDER_NAME, MultiProvider};
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use provider::{FetchFailure, ProviderError, SliProvider, SliQuery, collect_values};
pub use report::{PreviousEvaluation, SliReport, SliReportResult};

/// The attribute that implements [`SliProvider`] and [`EvaluationHistory`] (async trait methods
/// behind `dyn`), so an application does not pin its own async-trait version.
#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub use async_trait::async_trait;
/// The crate of the SLO model, the names and the verdict this crate's API takes and returns.
pub use keptn_spec;
/// What a gate needs from keptn-spec: the SLO, SLI values, typed names and the verdict.
pub use keptn_spec::{ProjectName, ServiceName, SliValue, Slo, StageName, Verdict};
