//! Contract tests against the published Dynatrace API.
//!
//! A real Dynatrace tenant cannot be reached from CI, so these tests run the real client code
//! against [`keptn_dynatrace::testing::FakeTenant`], a local server that follows the published
//! API documents (`../shared/dynatrace-openapi/`): paths, query parameters, the
//! `Authorization: Api-Token …` header, JSON bodies and `{"error":{"code","message"}}` error
//! bodies, rejecting what the real API rejects. Every request the tests make is also checked
//! against the OpenAPI documents themselves when they are present (`conformance.rs`).

mod conformance;
mod events;
mod ingest;
mod metrics;
mod monitoring;
mod support;
