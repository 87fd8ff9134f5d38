//! Field shapes that differ between the Kubernetes versions k8s-openapi supports.
//!
//! `Deployment::spec` is an `Option` up to Kubernetes 1.36 and required from 1.37; the version
//! is chosen by the final binary (k8s-openapi's `v1_*`/`latest` features), so the library
//! goes through these helpers.
#![allow(clippy::needless_return)]

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The spec of `d`, if it has one.
pub(crate) fn spec(d: &Deployment) -> Option<&DeploymentSpec> {
    k8s_openapi::k8s_if_ge_1_37! {
        return Some(&d.spec);
    }
    k8s_openapi::k8s_if_le_1_36! {
        return d.spec.as_ref();
    }
}

/// A Deployment with `metadata` and `spec` and no status.
pub(crate) fn deployment(metadata: ObjectMeta, spec: DeploymentSpec) -> Deployment {
    k8s_openapi::k8s_if_ge_1_37! {
        return Deployment { metadata, spec, status: None };
    }
    k8s_openapi::k8s_if_le_1_36! {
        return Deployment { metadata, spec: Some(spec), status: None };
    }
}
