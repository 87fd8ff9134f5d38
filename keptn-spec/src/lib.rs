//! Typed, validated Keptn files and events.
//!
//! `keptn-spec` is the vocabulary of the keptn-rs family: shipyards, SLOs, SLI configurations,
//! remediation files and Keptn CloudEvents as Rust types, parsed with located errors.
//! It does no I/O and has no async code.
//!
//! | module | what |
//! | --- | --- |
//! | [`shipyard`] | stages, sequences, tasks; 0.1 shipyards converted to the 0.2 model |
//! | [`slo`], [`criterion`] | SLO files and criterion strings such as `<=+10%` |
//! | [`sli`] | SLI configurations with placeholder substitution |
//! | [`remediation`] | remediation files (0.6 list and `spec.keptn.sh/0.1.4`) |
//! | [`event`] | Keptn CloudEvents, typed event types and payloads |
//! | [`webhook`] | webhook configurations |
//! | [`document`] | any of the files above: detect the kind, parse, validate |
//! | [`names`] | entity names and Keptn's naming conventions |
//! | [`retry`] | the retry policy every HTTP client of the family follows |
//!
//! Every file goes through one parse layer ([`ParseOptions`]): errors carry file, line, column,
//! field path and what was expected; keys a model does not know are located warnings with a
//! "did you mean" (or errors in [`Strictness::Strict`] mode). Every model ([`Shipyard`](shipyard::Shipyard),
//! [`Slo`], [`SliConfig`](sli::SliConfig), [`RemediationFile`](remediation::RemediationFile),
//! [`WebhookConfig`](webhook::WebhookConfig), [`Document`](document::Document)) has the same two
//! entry points: `X::from_yaml_str(&str) -> Result<X>` for the common case, and
//! `X::parse(&str, &ParseOptions) -> Result<Parsed<X>>` where the file name, strictness and located
//! warnings matter. Events are JSON: [`KeptnEvent::from_json_str`](event::KeptnEvent::from_json_str).
//!
//! ```
//! use keptn_spec::{ParseOptions, ProjectName, ServiceName, names};
//! use keptn_spec::shipyard::{DeploymentStrategy, Shipyard, TaskKind};
//!
//! // The Keptn tutorial's 0.1 shipyard, converted to the canonical 0.2 model.
//! let src = "stages:\n  - name: dev\n    deployment_strategy: direct\n    test_strategy: functional\n\
//!            \x20 - name: staging\n    deployment_strategy: blue_green_service\n    test_strategy: performance\n";
//! let parsed = Shipyard::parse(src, &ParseOptions::new().file("shipyard.yaml"))?;
//! let shipyard = parsed.value;
//! let staging = shipyard.next_stage("dev").expect("two stages");
//! let delivery = staging.sequence("delivery").expect("converted");
//! assert_eq!(delivery.tasks[0].kind()?, TaskKind::Deployment(DeploymentStrategy::BlueGreenService));
//!
//! // Keptn's naming conventions for what the deployment creates.
//! let project: ProjectName = "sockshop".parse()?;
//! let service: ServiceName = "carts".parse()?;
//! assert_eq!(names::namespace(&project, &staging.name), "sockshop-staging");
//! assert_eq!(names::primary_name(&service), "carts-primary");
//!
//! // Mistakes are located and explained.
//! let err = Shipyard::parse("stages:\n  - name: Dev\n", &ParseOptions::new().file("shipyard.yaml"))
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "shipyard.yaml:2:11: stages[0].name: `Dev` is not a valid Keptn stage name: \
//!      it must start with a lowercase letter"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

pub mod criterion;
pub mod document;
mod duration;
mod error;
pub mod evaluation;
pub mod event;
mod indicator;
pub mod names;
mod parse;
mod problem;
pub mod remediation;
pub mod retry;
pub mod shipyard;
pub mod sli;
pub mod slo;
mod strategy;
pub mod webhook;
mod yaml;

pub use criterion::Criterion;
pub use duration::{GoDuration, InvalidDuration};
pub use error::{Diagnostic, Error, FieldPath, Issue, Location, Result, Validation};
pub use evaluation::{EvaluationFinishedData, Verdict};
pub use indicator::SliValue;
pub use names::{ProjectName, ServiceName, StageName};
pub use problem::Problem;
pub use slo::Slo;
pub use yaml::{ParseOptions, Parsed, Strictness, from_yaml_str, parse_yaml_file, to_yaml_string};
