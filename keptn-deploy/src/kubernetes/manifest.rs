//! Pure functions that build the Kubernetes objects of a Keptn-style deployment.
//!
//! Naming follows Keptn's helm-service: namespace `{project}-{stage}`; with `direct` one
//! Deployment and one Service named `{service}`; with blue/green the canary Deployment
//! `{service}`, the primary Deployment `{service}-primary`, the Services `{service}-canary` and
//! `{service}-primary` (fixed selectors, for tests and monitoring) and the public Service
//! `{service}`, whose selector picks whichever deployment serves.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, Namespace, PodSpec, Probe, Service,
    ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use keptn_spec::ServiceName;
use serde_json::json;

use super::compat;
use crate::{Artifact, DeploymentStrategy, StageService};

mod template;
pub use template::{PortSpec, ServiceTemplate};

/// The field manager our server-side applies use.
pub const FIELD_MANAGER: &str = "keptn-rs";
/// Label holding the deployment role (`direct`, `primary`, `canary`) on pods, selectors and
/// Deployments.
pub const ROLE_LABEL: &str = "keptn.sh/deployment";
/// Annotation on Deployments and the public Service recording the deployment strategy.
pub const STRATEGY_ANNOTATION: &str = "keptn.sh/deployment-strategy";
/// Annotation on Deployments recording the deployed image.
pub const IMAGE_ANNOTATION: &str = "keptn.sh/image";

/// The role of one Deployment of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The only Deployment of a `direct` service.
    Direct,
    /// The serving Deployment `{service}-primary` of a blue/green service.
    Primary,
    /// The new version `{service}` of a blue/green service, waiting for promotion.
    Canary,
}

impl Role {
    /// `direct`, `primary` or `canary`: the value of [`ROLE_LABEL`] and of Keptn's
    /// `keptn_deployment` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Primary => "primary",
            Self::Canary => "canary",
        }
    }

    /// The Kubernetes Deployment name for `service` in this role.
    pub fn deployment_name(self, service: &ServiceName) -> String {
        match self {
            Self::Direct => service.as_str().to_owned(),
            Self::Primary => keptn_spec::names::primary_name(service),
            Self::Canary => keptn_spec::names::canary_name(service),
        }
    }

    /// Parses a role label value.
    pub fn from_label(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(Self::Direct),
            "primary" => Some(Self::Primary),
            "canary" => Some(Self::Canary),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The labels every object of `target` carries (without the role).
pub fn common_labels(
    target: &StageService,
    template: &ServiceTemplate,
) -> BTreeMap<String, String> {
    let mut labels = template.labels.clone();
    labels.insert("app.kubernetes.io/name".into(), target.service.to_string());
    labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
    labels.insert("keptn.sh/project".into(), target.project.to_string());
    labels.insert("keptn.sh/stage".into(), target.stage.to_string());
    labels.insert("keptn.sh/service".into(), target.service.to_string());
    labels
}

/// The pod selector of the Deployment with `role`.
pub fn selector_labels(target: &StageService, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            target.service.to_string(),
        ),
        (ROLE_LABEL.to_owned(), role.as_str().to_owned()),
    ])
}

/// Keptn's Dynatrace process properties: `keptn_project=P keptn_stage=S keptn_service=X
/// keptn_deployment=R`.
pub fn dt_custom_prop(target: &StageService, role: Role) -> String {
    format!(
        "keptn_project={} keptn_stage={} keptn_service={} keptn_deployment={}",
        target.project,
        target.stage,
        target.service,
        role.as_str()
    )
}

/// A label value derived from an image tag (63 characters of `[A-Za-z0-9._-]`).
fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The namespace `{project}-{stage}`.
pub fn namespace(target: &StageService) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(target.namespace()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    FIELD_MANAGER.to_owned(),
                ),
                ("keptn.sh/project".to_owned(), target.project.to_string()),
                ("keptn.sh/stage".to_owned(), target.stage.to_string()),
            ])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The Deployment running `artifact` in `role`, with `replicas` (default: the template's, else
/// the user manifest's, else 1).
pub fn deployment(
    target: &StageService,
    artifact: &Artifact,
    role: Role,
    strategy: DeploymentStrategy,
    template: &ServiceTemplate,
    replicas: Option<u32>,
) -> Deployment {
    let name = role.deployment_name(&target.service);
    let mut labels = common_labels(target, template);
    labels.insert(ROLE_LABEL.into(), role.as_str().into());
    let mut pod_labels = labels.clone();
    pod_labels.insert(
        "app.kubernetes.io/version".into(),
        label_value(artifact.tag()),
    );
    let selector = selector_labels(target, role);

    let (mut spec, mut meta) = match &template.user {
        Some(user) => (
            compat::spec(&user.deployment).cloned().unwrap_or_default(),
            user.deployment.metadata.clone(),
        ),
        None => (DeploymentSpec::default(), ObjectMeta::default()),
    };
    let replicas = replicas
        .or(template.replicas)
        .or_else(|| spec.replicas.and_then(|r| u32::try_from(r).ok()))
        .unwrap_or(1);
    spec.replicas = Some(i32::try_from(replicas).unwrap_or(i32::MAX));

    let mut match_labels = spec.selector.match_labels.take().unwrap_or_default();
    match_labels.extend(selector);
    spec.selector = LabelSelector {
        match_labels: Some(match_labels),
        match_expressions: spec.selector.match_expressions.take(),
    };

    let mut pod_meta = spec.template.metadata.take().unwrap_or_default();
    let mut all_pod_labels = pod_meta.labels.take().unwrap_or_default();
    all_pod_labels.extend(pod_labels);
    pod_meta.labels = Some(all_pod_labels);
    spec.template.metadata = Some(pod_meta);

    let mut pod = spec.template.spec.take().unwrap_or_default();
    if pod.containers.is_empty() {
        pod = PodSpec {
            containers: vec![Container {
                name: target.service.to_string(),
                ..Container::default()
            }],
            ..pod
        };
    }
    let idx = pod
        .containers
        .iter()
        .position(|c| c.name == target.service.as_str())
        .unwrap_or(0);
    let container = &mut pod.containers[idx];
    container.image = Some(artifact.image().to_owned());
    if template.user.is_none() {
        container.ports = Some(
            template
                .ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.target_port),
                    ..ContainerPort::default()
                })
                .collect(),
        );
        if let (Some(path), Some(p)) = (&template.readiness_path, template.ports.first()) {
            container.readiness_probe = Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some(path.clone()),
                    port: IntOrString::Int(i32::from(p.target_port)),
                    ..HTTPGetAction::default()
                }),
                ..Probe::default()
            });
        }
    }
    let mut env = container.env.take().unwrap_or_default();
    let mut set = |name: &str, value: String| {
        env.retain(|e| e.name != name);
        env.push(EnvVar {
            name: name.to_owned(),
            value: Some(value),
            ..EnvVar::default()
        });
    };
    for (k, v) in &template.env {
        set(k, v.clone());
    }
    set("DT_CUSTOM_PROP", dt_custom_prop(target, role));
    set("KEPTN_PROJECT", target.project.to_string());
    set("KEPTN_STAGE", target.stage.to_string());
    set("KEPTN_SERVICE", target.service.to_string());
    set("KEPTN_DEPLOYMENT", role.as_str().to_owned());
    container.env = Some(env);
    spec.template.spec = Some(pod);

    let mut meta_labels = meta.labels.take().unwrap_or_default();
    meta_labels.extend(labels);
    let mut annotations = meta.annotations.take().unwrap_or_default();
    annotations.insert(STRATEGY_ANNOTATION.into(), strategy.as_str().into());
    annotations.insert(IMAGE_ANNOTATION.into(), artifact.image().to_owned());
    compat::deployment(
        ObjectMeta {
            name: Some(name),
            namespace: Some(target.namespace()),
            labels: Some(meta_labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec,
    )
}

/// A Service named `name` selecting the pods of the Deployment with role `selects`.
pub fn service(
    target: &StageService,
    name: &str,
    selects: Role,
    strategy: DeploymentStrategy,
    template: &ServiceTemplate,
) -> Service {
    let mut spec = match &template.user {
        Some(user) => {
            let mut s = user.service.spec.clone().unwrap_or_default();
            // cluster IPs are allocated by the server; never apply the user's
            s.cluster_ip = None;
            s.cluster_ips = None;
            s
        }
        None => ServiceSpec {
            ports: Some(
                template
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(p.name.clone()),
                        port: i32::from(p.port),
                        target_port: Some(IntOrString::Int(i32::from(p.target_port))),
                        protocol: Some("TCP".into()),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        },
    };
    let mut selector = spec.selector.take().unwrap_or_default();
    selector.extend(selector_labels(target, selects));
    spec.selector = Some(selector);
    let mut labels = common_labels(target, template);
    if let Some(user) = &template.user
        && let Some(l) = &user.service.metadata.labels
    {
        for (k, v) in l {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(target.namespace()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                STRATEGY_ANNOTATION.to_owned(),
                strategy.as_str().to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The Services of a service: `direct` → `{service}`; blue/green → `{service}-canary`,
/// `{service}-primary` and the public `{service}` selecting `serving`.
pub fn services(
    target: &StageService,
    strategy: DeploymentStrategy,
    serving: Role,
    template: &ServiceTemplate,
) -> Vec<Service> {
    let svc = target.service.as_str();
    match strategy {
        DeploymentStrategy::BlueGreenService => vec![
            service(
                target,
                &format!("{svc}-canary"),
                Role::Canary,
                strategy,
                template,
            ),
            service(
                target,
                &format!("{svc}-primary"),
                Role::Primary,
                strategy,
                template,
            ),
            service(target, svc, serving, strategy, template),
        ],
        _ => vec![service(target, svc, Role::Direct, strategy, template)],
    }
}

/// The in-cluster URI of the Service `name`: `http://{name}.{namespace}[:{port}]`.
pub fn service_uri(target: &StageService, name: &str, port: Option<u16>) -> String {
    match port {
        Some(80) | None => format!("http://{name}.{}", target.namespace()),
        Some(p) => format!("http://{name}.{}:{p}", target.namespace()),
    }
}

/// The primary Deployment made from the canary as the cluster runs it (Keptn regenerates the
/// primary from the user's release the same way): same pod spec and image, primary name, role
/// labels, selector and `DT_CUSTOM_PROP`, and `replicas` (the canary's when `None`).
pub fn primary_from_canary(
    target: &StageService,
    canary: &Deployment,
    replicas: Option<u32>,
) -> Deployment {
    let mut spec = compat::spec(canary).cloned().unwrap_or_default();
    let selector = selector_labels(target, Role::Primary);
    let mut match_labels = spec.selector.match_labels.take().unwrap_or_default();
    match_labels.extend(selector);
    spec.selector.match_labels = Some(match_labels);
    if let Some(meta) = spec.template.metadata.as_mut() {
        let mut labels = meta.labels.take().unwrap_or_default();
        labels.insert(ROLE_LABEL.into(), Role::Primary.as_str().into());
        meta.labels = Some(labels);
    }
    if let Some(r) = replicas {
        spec.replicas = Some(i32::try_from(r).unwrap_or(i32::MAX));
    }
    if let Some(pod) = spec.template.spec.as_mut() {
        for c in &mut pod.containers {
            if let Some(env) = c.env.as_mut() {
                for e in env.iter_mut() {
                    if e.name == "DT_CUSTOM_PROP" {
                        e.value = Some(dt_custom_prop(target, Role::Primary));
                    } else if e.name == "KEPTN_DEPLOYMENT" {
                        e.value = Some(Role::Primary.as_str().to_owned());
                    }
                }
            }
        }
    }
    let mut labels = canary.metadata.labels.clone().unwrap_or_default();
    labels.insert(ROLE_LABEL.into(), Role::Primary.as_str().into());
    let annotations: BTreeMap<String, String> = canary
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k.starts_with("keptn.sh/"))
        .collect();
    compat::deployment(
        ObjectMeta {
            name: Some(Role::Primary.deployment_name(&target.service)),
            namespace: Some(target.namespace()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec,
    )
}

/// An Istio `VirtualService` (`networking.istio.io/v1beta1`) named `{service}` routing
/// `canary_weight` percent to `{service}-canary` and the rest to `{service}-primary`,
/// for mesh and in-cluster hosts (Keptn's generated chart; Keptn used `v1alpha3` and the
/// `public-gateway.istio-system` gateway, which is kept).
pub fn virtual_service(
    target: &StageService,
    canary_weight: u8,
    port: Option<u16>,
) -> serde_json::Value {
    let svc = target.service.as_str();
    let ns = target.namespace();
    let w = u32::from(canary_weight.min(100));
    let dest = |name: String, weight: u32| {
        let mut d = json!({ "destination": { "host": format!("{name}.{ns}.svc.cluster.local") }, "weight": weight });
        if let Some(p) = port {
            d["destination"]["port"] = json!({ "number": p });
        }
        d
    };
    json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": svc,
            "namespace": ns,
            "labels": { "app.kubernetes.io/managed-by": FIELD_MANAGER, "keptn.sh/service": svc },
        },
        "spec": {
            "hosts": [svc, format!("{svc}.{ns}.svc.cluster.local")],
            "gateways": ["public-gateway.istio-system", "mesh"],
            "http": [{
                "route": [dest(format!("{svc}-canary"), w), dest(format!("{svc}-primary"), 100 - w)]
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::template::split_documents;
    use super::*;

    fn target() -> StageService {
        StageService::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
        )
    }

    fn artifact() -> Artifact {
        Artifact::new("docker.io/keptnexamples/carts:0.11.2").unwrap()
    }

    fn env(d: &Deployment, name: &str) -> Option<String> {
        compat::spec(d)?.template.spec.as_ref()?.containers[0]
            .env
            .as_ref()?
            .iter()
            .find(|e| e.name == name)?
            .value
            .clone()
    }

    /// The canary Deployment is named after the service, runs the image, selects by role and
    /// carries Keptn's Dynatrace metadata.
    #[test]
    fn canary_deployment_has_keptn_names_labels_and_metadata() {
        let t = ServiceTemplate::new().port(8080).readiness_path("/health");
        let d = deployment(
            &target(),
            &artifact(),
            Role::Canary,
            DeploymentStrategy::BlueGreenService,
            &t,
            None,
        );
        assert_eq!(d.metadata.name.as_deref(), Some("carts"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("sockshop-staging"));
        let spec = compat::spec(&d).unwrap();
        assert_eq!(spec.replicas, Some(1));
        let sel = spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(sel.get(ROLE_LABEL).map(String::as_str), Some("canary"));
        assert_eq!(
            sel.get("app.kubernetes.io/name").map(String::as_str),
            Some("carts")
        );
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        for (k, v) in sel {
            assert_eq!(
                pod_labels.get(k),
                Some(v),
                "pod labels must match the selector"
            );
        }
        assert_eq!(pod_labels["app.kubernetes.io/version"], "0.11.2");
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.name, "carts");
        assert_eq!(
            c.image.as_deref(),
            Some("docker.io/keptnexamples/carts:0.11.2")
        );
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8080);
        let probe = c
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap();
        assert_eq!(probe.path.as_deref(), Some("/health"));
        assert_eq!(
            env(&d, "DT_CUSTOM_PROP").as_deref(),
            Some(
                "keptn_project=sockshop keptn_stage=staging keptn_service=carts keptn_deployment=canary"
            )
        );
        let ann = d.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann[STRATEGY_ANNOTATION], "blue_green_service");
        assert_eq!(
            ann[IMAGE_ANNOTATION],
            "docker.io/keptnexamples/carts:0.11.2"
        );
    }

    /// Direct and primary deployments get their own names and role labels.
    #[test]
    fn primary_and_direct_names() {
        let t = ServiceTemplate::new();
        let p = deployment(
            &target(),
            &artifact(),
            Role::Primary,
            DeploymentStrategy::BlueGreenService,
            &t,
            Some(3),
        );
        assert_eq!(p.metadata.name.as_deref(), Some("carts-primary"));
        assert_eq!(compat::spec(&p).unwrap().replicas, Some(3));
        let d = deployment(
            &target(),
            &artifact(),
            Role::Direct,
            DeploymentStrategy::Direct,
            &t,
            None,
        );
        assert_eq!(d.metadata.name.as_deref(), Some("carts"));
        assert_eq!(
            compat::spec(&d)
                .unwrap()
                .selector
                .match_labels
                .as_ref()
                .unwrap()[ROLE_LABEL],
            "direct"
        );
    }

    /// Blue/green has three Services; the public one selects the serving role only.
    #[test]
    fn blue_green_services_and_public_selector() {
        let t = ServiceTemplate::new().service_port(80, 8080);
        let s = services(
            &target(),
            DeploymentStrategy::BlueGreenService,
            Role::Primary,
            &t,
        );
        let names: Vec<_> = s.iter().map(|s| s.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["carts-canary", "carts-primary", "carts"]);
        let public = s[2].spec.as_ref().unwrap();
        assert_eq!(public.selector.as_ref().unwrap()[ROLE_LABEL], "primary");
        let port = &public.ports.as_ref().unwrap()[0];
        assert_eq!(port.port, 80);
        assert_eq!(port.target_port, Some(IntOrString::Int(8080)));
        assert_eq!(
            s[0].spec.as_ref().unwrap().selector.as_ref().unwrap()[ROLE_LABEL],
            "canary"
        );
        let direct = services(&target(), DeploymentStrategy::Direct, Role::Direct, &t);
        assert_eq!(direct.len(), 1);
        assert_eq!(
            service_uri(&target(), "carts-canary", t.primary_port()),
            "http://carts-canary.sockshop-staging"
        );
        assert_eq!(
            service_uri(&target(), "carts", Some(8080)),
            "http://carts.sockshop-staging:8080"
        );
    }

    /// Promotion copies the canary's pod spec into the primary, relabelled as primary.
    #[test]
    fn primary_from_canary_keeps_spec_and_relabels() {
        let t = ServiceTemplate::new().env("FOO", "bar");
        let c = deployment(
            &target(),
            &artifact(),
            Role::Canary,
            DeploymentStrategy::BlueGreenService,
            &t,
            Some(2),
        );
        let p = primary_from_canary(&target(), &c, None);
        assert_eq!(p.metadata.name.as_deref(), Some("carts-primary"));
        let spec = compat::spec(&p).unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap()[ROLE_LABEL],
            "primary"
        );
        assert_eq!(
            spec.template
                .metadata
                .as_ref()
                .unwrap()
                .labels
                .as_ref()
                .unwrap()[ROLE_LABEL],
            "primary"
        );
        assert_eq!(env(&p, "FOO").as_deref(), Some("bar"));
        assert!(
            env(&p, "DT_CUSTOM_PROP")
                .unwrap()
                .ends_with("keptn_deployment=primary")
        );
        assert_eq!(
            spec.template.spec.as_ref().unwrap().containers[0]
                .image
                .as_deref(),
            Some("docker.io/keptnexamples/carts:0.11.2")
        );
    }

    /// The VirtualService splits traffic by weight and the weights add up to 100.
    #[test]
    fn virtual_service_weights() {
        let vs = virtual_service(&target(), 30, Some(80));
        let route = &vs["spec"]["http"][0]["route"];
        assert_eq!(
            route[0]["destination"]["host"],
            "carts-canary.sockshop-staging.svc.cluster.local"
        );
        assert_eq!(route[0]["weight"], 30);
        assert_eq!(route[1]["weight"], 70);
        assert_eq!(
            virtual_service(&target(), 200, None)["spec"]["http"][0]["route"][1]["weight"],
            0
        );
    }

    /// A user's manifest directory becomes the template; only names, labels and image change.
    #[test]
    fn user_manifests_are_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("all.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: carts\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: carts\n  template:\n    metadata:\n      labels:\n        app: carts\n    spec:\n      containers:\n      - name: carts\n        image: placeholder\n        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: carts\nspec:\n  clusterIP: 10.0.0.1\n  selector:\n    app: carts\n  ports:\n  - port: 80\n    targetPort: 8080\n",
        )
        .unwrap();
        let t = ServiceTemplate::from_manifests_dir(dir.path(), &"carts".parse().unwrap()).unwrap();
        assert_eq!(t.primary_port(), Some(80));
        let d = deployment(
            &target(),
            &artifact(),
            Role::Canary,
            DeploymentStrategy::BlueGreenService,
            &t,
            None,
        );
        let spec = compat::spec(&d).unwrap();
        assert_eq!(spec.replicas, Some(2));
        let sel = spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(sel["app"], "carts");
        assert_eq!(sel[ROLE_LABEL], "canary");
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some("docker.io/keptnexamples/carts:0.11.2")
        );
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8080);
        let s = service(
            &target(),
            "carts",
            Role::Primary,
            DeploymentStrategy::BlueGreenService,
            &t,
        );
        let spec = s.spec.unwrap();
        assert_eq!(spec.cluster_ip, None, "cluster IPs are the server's");
        assert_eq!(spec.selector.as_ref().unwrap()["app"], "carts");
        assert_eq!(spec.selector.as_ref().unwrap()[ROLE_LABEL], "primary");
    }

    /// Manifest errors name the file, the document's line and the rule broken.
    #[test]
    fn user_manifest_errors_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let svc: ServiceName = "carts".parse().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "kind: ConfigMap\nmetadata:\n  name: x\n",
        )
        .unwrap();
        let err = ServiceTemplate::from_manifests_dir(dir.path(), &svc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.yaml: document starting at line 1: kind `ConfigMap` is not supported"),
            "{err}"
        );

        std::fs::write(dir.path().join("a.yaml"), "kind: Service\nmetadata:\n  name: other\n---\nkind: Deployment\nmetadata: {name: carts}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers: [{name: carts}]\n").unwrap();
        let err = ServiceTemplate::from_manifests_dir(dir.path(), &svc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "the Service is named `other` but must be named like the Keptn service `carts`"
            ),
            "{err}"
        );

        std::fs::write(
            dir.path().join("a.yaml"),
            "kind: Service\nmetadata: [unclosed\n",
        )
        .unwrap();
        let err = ServiceTemplate::from_manifests_dir(dir.path(), &svc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.yaml: document starting at line 1:"),
            "{err}"
        );

        std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
        let err = ServiceTemplate::from_manifests_dir(dir.path(), &svc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("found 0 Deployment(s) and 0 Service(s)"),
            "{err}"
        );
    }

    /// Documents are split at `---` lines with their first line numbers.
    #[test]
    fn split_documents_tracks_lines() {
        let docs = split_documents("a: 1\n---\nb: 2\nc: 3\n---\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, 1);
        assert_eq!(docs[1].0, 3);
    }
}
