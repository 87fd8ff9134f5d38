//! Integration tests of keptn-remediate, in one binary to save link time.
//!
//! - `workflow`: the remediation workflow with in-memory actions (feature `testing`);
//! - `gate`: verification by re-evaluating an SLO through `keptn_slo::QualityGate`;
//! - `unleash_fake`: the Unleash client and toggle action against a local fake that follows
//!   Unleash's published Admin API and the legacy 3.x toggle API (error paths a real server will
//!   not produce on demand: 401, 429, 503, slow answers; and the legacy API Unleash 7 dropped);
//! - `unleash_real`: against a real Unleash (`scripts/unleash.sh up`), skipped with a message
//!   when `UNLEASH_URL` is not set;
//! - `kube_real`: `KubeScaler` against a real kube-apiserver (feature `kube`), skipped with a
//!   message when `KUBECONFIG` is not set.
//!
//! The embedded flag store's tests (this crate's client, action and verifier against it) live
//! in keptn-local.

#[cfg(feature = "testing")]
mod workflow;

mod gate;

#[cfg(feature = "unleash")]
mod unleash_fake;

#[cfg(feature = "unleash")]
mod unleash_real;

#[cfg(feature = "kube")]
mod kube_real;

/// The public types can be shared across tasks and threads.
#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<keptn_remediate::Remediator>();
    check::<keptn_remediate::ActionRegistry>();
    check::<keptn_remediate::RemediationReport>();
    check::<keptn_remediate::Error>();
    check::<keptn_remediate::QualityGateVerifier>();
    check::<keptn_remediate::ScalingAction<std::sync::Arc<dyn keptn_remediate::Scaler>>>();
    #[cfg(feature = "unleash")]
    {
        check::<keptn_remediate::unleash::UnleashClient>();
        check::<keptn_remediate::unleash::FeatureToggleAction>();
        check::<keptn_remediate::unleash::FlagStateVerifier>();
    }
}
