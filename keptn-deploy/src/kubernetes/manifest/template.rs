//! What a service's Deployments and Services look like apart from image and role: generated
//! from a few fields or based on the user's own manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use keptn_spec::ServiceName;

use crate::kubernetes::compat;
use crate::{Error, Result};

/// One port of a service: the Service's `port` and the container's `targetPort`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// Port name (`http`).
    pub name: String,
    /// The port the Service exposes.
    pub port: u16,
    /// The port the container listens on.
    pub target_port: u16,
}

/// What the Deployments and Services of a service look like, apart from image and role.
///
/// Either generated from a few fields ([`ServiceTemplate::new`] and setters), or taken from the
/// user's own manifests ([`ServiceTemplate::from_manifests_dir`], e.g. `helm template` output),
/// in which case the user's Deployment and Service are the base and only names, labels,
/// selectors, image, replicas and the `DT_CUSTOM_PROP` variable are changed.
#[derive(Debug, Clone, PartialEq, Default)]
#[must_use]
pub struct ServiceTemplate {
    pub(super) ports: Vec<PortSpec>,
    pub(super) env: Vec<(String, String)>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) readiness_path: Option<String>,
    pub(super) replicas: Option<u32>,
    pub(super) user: Option<UserManifests>,
}

/// The user's own Deployment and Service a template is based on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct UserManifests {
    pub(super) deployment: Deployment,
    pub(super) service: Service,
}

impl ServiceTemplate {
    /// A template with one `http` port 8080, one replica and no readiness probe.
    pub fn new() -> Self {
        Self {
            ports: vec![PortSpec {
                name: "http".into(),
                port: 8080,
                target_port: 8080,
            }],
            ..Self::default()
        }
    }

    /// Exposes `port` (Service and container) instead of the default 8080.
    pub fn port(mut self, port: u16) -> Self {
        self.ports = vec![PortSpec {
            name: "http".into(),
            port,
            target_port: port,
        }];
        self
    }

    /// Exposes `port` on the Service, forwarding to `target_port` in the container.
    pub fn service_port(mut self, port: u16, target_port: u16) -> Self {
        self.ports = vec![PortSpec {
            name: "http".into(),
            port,
            target_port,
        }];
        self
    }

    /// Adds an environment variable to the service's container.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Adds a label to every object and pod.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds an HTTP readiness probe on `path` at the first port.
    pub fn readiness_path(mut self, path: impl Into<String>) -> Self {
        self.readiness_path = Some(path.into());
        self
    }

    /// Sets the replica count (default: the user manifest's, else 1).
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// The lowest Service port (Keptn derives deployment URIs from it).
    pub fn primary_port(&self) -> Option<u16> {
        if let Some(user) = &self.user {
            return user
                .service
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .and_then(|p| p.iter().map(|p| p.port).min())
                .and_then(|p| u16::try_from(p).ok());
        }
        self.ports.iter().map(|p| p.port).min()
    }

    /// Uses the user's manifests in `dir` (every `*.yaml`/`*.yml` file, multi-document files
    /// allowed, such as `helm template` output) as the template for `service`.
    ///
    /// The directory must contain exactly one Deployment and exactly one Service, and the
    /// Service must be named like the Keptn service (Keptn's onboarding rule).
    ///
    /// # Errors
    /// [`Error::Io`] if a file cannot be read; [`Error::Manifest`] naming the file, document
    /// and line when a document is malformed, has another kind, or the Deployment/Service
    /// count or name rule is broken.
    pub fn from_manifests_dir(dir: impl AsRef<Path>, service: &ServiceName) -> Result<Self> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                files.push(path);
            }
        }
        files.sort();
        let mut deployments = Vec::new();
        let mut services = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            for (first_line, doc) in split_documents(&text) {
                let value: serde_json::Value =
                    keptn_spec::from_yaml_str(&doc).map_err(|e| Error::Manifest {
                        path: path.clone(),
                        message: format!("document starting at line {first_line}: {e}"),
                    })?;
                if value.is_null() {
                    continue;
                }
                let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
                let bad = |message: String| Error::Manifest {
                    path: path.clone(),
                    message: format!("document starting at line {first_line}: {message}"),
                };
                match kind {
                    "Deployment" => deployments.push((
                        path.clone(),
                        serde_json::from_value::<Deployment>(value)
                            .map_err(|e| bad(format!("not a valid Deployment: {e}")))?,
                    )),
                    "Service" => services.push((
                        path.clone(),
                        serde_json::from_value::<Service>(value)
                            .map_err(|e| bad(format!("not a valid Service: {e}")))?,
                    )),
                    "" => return Err(bad("the document has no `kind`".into())),
                    other => {
                        return Err(bad(format!(
                            "kind `{other}` is not supported in a service template; expected Deployment or Service"
                        )));
                    }
                }
            }
        }
        let whole = |message: String| Error::Manifest {
            path: dir.to_owned(),
            message,
        };
        let (deployment, service_obj) = match (deployments.len(), services.len()) {
            (1, 1) => (deployments.remove(0).1, services.remove(0)),
            (d, s) => {
                return Err(whole(format!(
                    "expected exactly one Deployment and one Service, found {d} Deployment(s) and {s} Service(s)"
                )));
            }
        };
        let (svc_path, svc) = service_obj;
        let svc_name = svc.metadata.name.clone().unwrap_or_default();
        if svc_name != service.as_str() {
            return Err(Error::Manifest {
                path: svc_path,
                message: format!(
                    "the Service is named `{svc_name}` but must be named like the Keptn service `{service}`"
                ),
            });
        }
        let has_containers = compat::spec(&deployment)
            .and_then(|s| s.template.spec.as_ref())
            .is_some_and(|p| !p.containers.is_empty());
        if !has_containers {
            return Err(whole("the Deployment has no containers".into()));
        }
        Ok(Self {
            user: Some(UserManifests {
                deployment,
                service: svc,
            }),
            ..Self::new()
        })
    }
}

/// Splits a multi-document YAML text at `---` lines; yields (1-based first line, document).
pub(super) fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            if !current.trim().is_empty() {
                docs.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        docs.push((start, current));
    }
    docs
}
