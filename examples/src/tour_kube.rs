//! The full tour's Kubernetes side (`full_tour --kube`): where the services of the cluster are
//! reached from the machine running the tour, and SLIs measured on the client side when no
//! monitoring (Dynatrace) is configured.
//!
//! - [`ServiceUrls`]: the `--kube-url` template (`{service}`, `{namespace}`, `{port}`) and
//!   `--kube-url-for NAME.NAMESPACE=URL` overrides (for `kubectl port-forward`), applied to the
//!   in-cluster URIs the [`KubeDeployer`](keptn_deploy::kubernetes::KubeDeployer) reports.
//! - [`ClientSideSli`]: an [`SliProvider`](keptn_slo::SliProvider) answering
//!   `response_time_p50/p90/p95`, `throughput` and `error_rate` from what the tour's own HTTP
//!   clients (test runner, production users) measured. Latencies include the network between
//!   the tour and the service; they are not server-side response times.
//! - [`KubeReach`]: both together, plus the reachability check that turns "the tour runs outside
//!   the cluster" into one clear error instead of a cascade of failed tests. On a node of the
//!   cluster ([`KubeReach::with_cluster_ips`], `--kube-reach cluster-ip`) each Service is reached
//!   at its ClusterIP read from the API server (see [`keptn_deploy::kubernetes::reach`]).
//! - [`carts_templates`]: the seed's Kubernetes shapes of carts and carts-db.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use keptn_deploy::StageService;
use keptn_deploy::kubernetes::ServiceTemplate;
use keptn_deploy::runner::RequestSample;
use keptn_spec::ServiceName;

mod sli;
mod urls;

pub use sli::{CLIENT_SIDE_SLIS, ClientSideSli};
use urls::parse_in_cluster;
pub use urls::{DEFAULT_TEMPLATE, ServiceUrls, deployment_of};

/// The Service ports of the seed's charts: carts listens on 8080 behind Service port 80;
/// carts-db (MongoDB) on 27017.
pub const CARTS_PORT: (u16, u16) = (80, 8080);
/// carts-db's port (Service and container).
pub const CARTS_DB_PORT: u16 = 27017;

/// The Kubernetes shapes of the seed's services: carts (image `keptnexamples/carts`, Service
/// port 80 → container 8080, readiness on `/health`) and carts-db (`mongo`, port 27017).
pub fn carts_templates() -> Vec<(ServiceName, ServiceTemplate)> {
    let name = |s: &str| s.parse::<ServiceName>().expect("a valid service name");
    vec![
        (
            name("carts"),
            ServiceTemplate::new()
                .service_port(CARTS_PORT.0, CARTS_PORT.1)
                .readiness_path("/health"),
        ),
        (name("carts-db"), ServiceTemplate::new().port(CARTS_DB_PORT)),
    ]
}

/// Where the tour reaches the cluster's services, and the client-side SLIs it records on the
/// way.
pub struct KubeReach {
    urls: ServiceUrls,
    /// With `--kube-reach cluster-ip`: the API client the ClusterIPs are read with.
    cluster_ips: Option<keptn_deploy::kube::Client>,
    /// (Service, namespace) → `http://CLUSTER-IP:PORT`, filled by the reachability checks.
    found: Mutex<BTreeMap<(String, String), String>>,
    ports: BTreeMap<ServiceName, u16>,
    sli: ClientSideSli,
    /// Tested URL → deployment label, filled when a deployment URI is resolved.
    labels: Mutex<BTreeMap<String, String>>,
    client: reqwest::Client,
}

impl fmt::Debug for KubeReach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeReach")
            .field("urls", &self.urls)
            .field("ports", &self.ports)
            .field("cluster_ips", &self.cluster_ips.is_some())
            .finish_non_exhaustive()
    }
}

impl KubeReach {
    /// Reaches Services through `urls`; `ports` are the Service ports per service (80 when
    /// missing).
    pub fn new(urls: ServiceUrls, ports: BTreeMap<ServiceName, u16>) -> Self {
        Self {
            urls,
            cluster_ips: None,
            found: Mutex::default(),
            ports,
            sli: ClientSideSli::new(),
            labels: Mutex::default(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Reaches every Service without a `--kube-url-for` override at its ClusterIP, read from
    /// the API server through `client` when the Service is checked, for a machine that is a
    /// node of the cluster (kube-proxy's rules answer for ClusterIPs there); an address that
    /// does not route locally is refused ([`check_routes_locally`](keptn_deploy::kubernetes::reach::check_routes_locally)).
    #[must_use]
    pub fn with_cluster_ips(mut self, client: keptn_deploy::kube::Client) -> Self {
        self.cluster_ips = Some(client);
        self
    }

    /// The URL of a Service: a ClusterIP found by a check, else the template or override.
    fn url_of(&self, name: &str, namespace: &str, port: u16) -> String {
        let found = self
            .found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(name.to_owned(), namespace.to_owned()))
            .cloned();
        found.unwrap_or_else(|| self.urls.url(name, namespace, port))
    }

    /// The client-side SLIs recorded so far (shared).
    pub fn sli(&self) -> &ClientSideSli {
        &self.sli
    }

    /// The public URL of `target`'s Service `{service}` (it selects the serving version).
    pub fn public_url(&self, target: &StageService) -> String {
        let port = self.ports.get(&target.service).copied().unwrap_or(80);
        self.url_of(target.service.as_str(), &target.namespace(), port)
    }

    /// Resolves a deployment URI for the tests and remembers which deployment it addresses.
    pub fn test_url(&self, uri: &str) -> String {
        match parse_in_cluster(uri) {
            Some((name, namespace, port, path)) => {
                let url = format!("{}{path}", self.url_of(name, namespace, port));
                self.labels
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(url.clone(), deployment_of(name).to_owned());
                url
            }
            None => uri.to_owned(),
        }
    }

    /// Records one test request (the [`HttpTestRunner`](keptn_deploy::runner::HttpTestRunner)
    /// observer).
    pub fn observe(&self, sample: &RequestSample<'_>) {
        let deployment = self
            .labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sample.base)
            .cloned()
            .unwrap_or_else(|| "direct".to_owned());
        self.sli.record(
            sample.target,
            &deployment,
            sample.started_at,
            sample.latency,
            sample.passed,
        );
    }

    /// Checks that Service `name` in `namespace` (Service port `port`) answers HTTP at all
    /// (any status) at the URL the tour uses for it, and returns that URL.
    ///
    /// # Errors
    /// A message naming the Service, the URL and the transport error, suggesting `--kube-url`,
    /// `--kube-url-for` and `kubectl port-forward`.
    pub async fn check_reachable(
        &self,
        name: &str,
        namespace: &str,
        port: u16,
    ) -> Result<String, String> {
        if let Some(client) = self
            .cluster_ips
            .as_ref()
            .filter(|_| !self.urls.has_override(name, namespace))
        {
            let ip = keptn_deploy::kubernetes::reach::service_cluster_ip(client, namespace, name)
                .await?;
            self.found
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    (name.to_owned(), namespace.to_owned()),
                    format!("http://{ip}:{port}"),
                );
        }
        let url = self.url_of(name, namespace, port);
        // At a ClusterIP, kube-proxy's rules for a Service whose pods just became ready may lag
        // by a moment (Endpoints, then the proxy's sync): retry connection failures up to 10 s.
        let mut answer = self.client.get(format!("{url}/health")).send().await;
        if self.cluster_ips.is_some() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while answer.as_ref().is_err_and(reqwest::Error::is_connect)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
                answer = self.client.get(format!("{url}/health")).send().await;
            }
        }
        match answer {
            Ok(_) => Ok(url),
            Err(e) => {
                let mut cause = if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "connection failed".to_owned()
                } else {
                    "request failed".to_owned()
                };
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    cause.push_str(&format!(": {s}"));
                    source = s.source();
                }
                Err(format!(
                    "Service {name} in {namespace} is not reachable at {url} ({cause}). The \
                     services run in the cluster and this program reaches them through \
                     --kube-url (now `{}`). Run the tour inside the cluster, or forward each \
                     Service and point the tour at it, e.g. `kubectl port-forward -n {namespace} \
                     svc/{name} 8080:{port}` with `--kube-url-for {name}.{namespace}=http://127.0.0.1:8080`, \
                     or use an ingress: --kube-url 'http://{{service}}.{{namespace}}.YOUR.DOMAIN'",
                    self.urls.template
                ))
            }
        }
    }

    /// [`check_reachable`](Self::check_reachable) for an in-cluster URI as the deployer reports
    /// it (`http://{name}.{namespace}[:{port}]`); other URIs are taken as they are.
    ///
    /// # Errors
    /// As [`check_reachable`](Self::check_reachable).
    pub async fn check_uri(&self, uri: &str) -> Result<String, String> {
        match parse_in_cluster(uri) {
            Some((name, namespace, port, _)) => self.check_reachable(name, namespace, port).await,
            None => Ok(uri.to_owned()),
        }
    }

    /// [`check_reachable`](Self::check_reachable) for the public Service of `target`.
    ///
    /// # Errors
    /// As [`check_reachable`](Self::check_reachable).
    pub async fn check_public(&self, target: &StageService) -> Result<String, String> {
        let port = self.ports.get(&target.service).copied().unwrap_or(80);
        self.check_reachable(target.service.as_str(), &target.namespace(), port)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};
    use keptn_slo::{SliProvider, SliQuery};

    fn target(stage: &str) -> StageService {
        StageService::new(
            "sockshop".parse().unwrap(),
            stage.parse().unwrap(),
            "carts".parse().unwrap(),
        )
    }

    /// The default template gives the in-cluster DNS names; ports and paths are kept.
    #[test]
    fn default_template_resolves_keptn_uris() {
        let urls = ServiceUrls::default();
        assert_eq!(
            urls.resolve("http://carts-canary.sockshop-staging"),
            Some("http://carts-canary.sockshop-staging.svc.cluster.local:80".into())
        );
        assert_eq!(
            urls.resolve("http://carts-db.sockshop-dev:27017/x"),
            Some("http://carts-db.sockshop-dev.svc.cluster.local:27017/x".into())
        );
        assert_eq!(urls.resolve("https://carts.sockshop-dev"), None);
        assert_eq!(urls.resolve("http://localhost:8080"), None);
        assert_eq!(urls.resolve("http://a.b.c"), None);
    }

    /// Overrides win over the template for exactly their Service and namespace.
    #[test]
    fn overrides_for_port_forwards() {
        let urls = ServiceUrls::new("http://{service}.{namespace}.example.com")
            .unwrap()
            .with_override("carts-canary.sockshop-staging=http://127.0.0.1:8081/")
            .unwrap();
        assert_eq!(
            urls.resolve("http://carts-canary.sockshop-staging/carts/1"),
            Some("http://127.0.0.1:8081/carts/1".into())
        );
        assert_eq!(
            urls.url("carts-canary", "sockshop-dev", 80),
            "http://carts-canary.sockshop-dev.example.com"
        );
    }

    /// Bad templates and overrides are refused with the reason.
    #[test]
    fn rejects_bad_templates() {
        let err = ServiceUrls::new("http://{svc}.x").unwrap_err();
        assert!(err.contains("unknown placeholder `{svc}`"), "{err}");
        assert!(
            ServiceUrls::new("http://{service")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            ServiceUrls::new("carts:80")
                .unwrap_err()
                .contains("http://")
        );
        assert!(ServiceUrls::new("http://a}b").is_err());
        for bad in [
            "carts=http://x",
            "carts.ns",
            ".ns=http://x",
            "a.b.c=http://x",
            "a.b=ftp://x",
        ] {
            assert!(
                ServiceUrls::default().with_override(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    /// Deployment labels follow Keptn's Service names.
    #[test]
    fn deployment_labels() {
        assert_eq!(deployment_of("carts-canary"), "canary");
        assert_eq!(deployment_of("carts-primary"), "primary");
        assert_eq!(deployment_of("carts"), "direct");
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn query(stage: &str, deployment: &str, slis: &[&str]) -> SliQuery {
        SliQuery::new(
            "sockshop".parse().unwrap(),
            stage.parse().unwrap(),
            "carts".parse().unwrap(),
            t0(),
            t0() + TimeDelta::seconds(10),
            slis.iter().map(|s| (*s).to_owned()).collect(),
        )
        .with_deployment(deployment)
    }

    /// Client-side recordings answer per stage and deployment; failures count as errors.
    #[test]
    fn client_side_sli_measures_what_was_sent() {
        let sli = ClientSideSli::new();
        for i in 0..100u64 {
            let at = t0() + TimeDelta::milliseconds(i as i64 * 50);
            sli.record(
                &target("staging"),
                "canary",
                at,
                Duration::from_millis(1000 + i),
                true,
            );
            sli.record(
                &target("production"),
                "primary",
                at,
                Duration::from_millis(20),
                i % 10 >= 3,
            );
        }
        let v = sli.measure(&query("staging", "canary", &CLIENT_SIDE_SLIS));
        assert!(v.iter().all(|v| v.success), "{v:?}");
        let p95 = v
            .iter()
            .find(|v| v.metric == "response_time_p95")
            .unwrap()
            .value;
        assert!((p95 - 1095.0).abs() < 1095.0 / 60.0, "{p95}");
        assert_eq!(
            v.iter().find(|v| v.metric == "throughput").unwrap().value,
            100.0
        );
        assert_eq!(
            v.iter().find(|v| v.metric == "error_rate").unwrap().value,
            0.0
        );
        let prod = sli.measure(&query("production", "primary", &["error_rate"]));
        assert!((prod[0].value - 0.3).abs() < 1e-12, "{prod:?}");
    }

    /// No requests, another deployment, another stage or an unknown SLI never answer zero.
    #[tokio::test]
    async fn client_side_sli_never_passes_on_missing_data() {
        let sli = ClientSideSli::new();
        sli.record(
            &target("staging"),
            "canary",
            t0(),
            Duration::from_millis(5),
            true,
        );
        for (stage, dep, metric, needle) in [
            (
                "staging",
                "primary",
                "response_time_p95",
                "sent no requests",
            ),
            ("dev", "direct", "error_rate", "sent no requests"),
            ("staging", "canary", "problem_open", "unsupported SLI"),
        ] {
            let v = sli.fetch_slis(&query(stage, dep, &[metric])).await.unwrap();
            assert!(!v[0].success, "{v:?}");
            assert!(v[0].message.as_deref().unwrap().contains(needle), "{v:?}");
        }
        assert_eq!(sli.name(), "client-side");
    }

    /// Resolved test URLs remember their deployment, and observed requests land there.
    #[tokio::test]
    async fn reach_labels_test_traffic() {
        let reach = KubeReach::new(
            ServiceUrls::new("http://127.0.0.1:1/{namespace}/{service}").unwrap(),
            BTreeMap::new(),
        );
        let url = reach.test_url("http://carts-canary.sockshop-staging");
        assert_eq!(url, "http://127.0.0.1:1/sockshop-staging/carts-canary");
        assert_eq!(
            reach.public_url(&target("production")),
            "http://127.0.0.1:1/sockshop-production/carts"
        );
        let t = target("staging");
        reach.observe(&RequestSample::new(
            &t,
            &url,
            t0() + TimeDelta::seconds(1),
            Duration::from_millis(3),
            Some(200),
            true,
        ));
        let v = reach
            .sli()
            .measure(&query("staging", "canary", &["throughput"]));
        assert_eq!(v[0].value, 1.0, "{v:?}");
        // nothing listens on port 1: a clear error naming the URL and the way out
        let err = reach
            .check_uri("http://carts-canary.sockshop-staging")
            .await
            .unwrap_err();
        assert!(err.contains(&url), "{err}");
        assert!(err.contains("--kube-url"), "{err}");
        assert!(
            err.contains("kubectl port-forward -n sockshop-staging svc/carts-canary"),
            "{err}"
        );
    }
}
