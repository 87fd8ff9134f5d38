//! How `--kube` reaches a Service of the cluster: the `--kube-url` template and the
//! `--kube-url-for` overrides, applied to the in-cluster URIs the deployer reports.

use std::collections::BTreeMap;

/// The default `--kube-url`: the Service's in-cluster DNS name (works when the tour runs in a
/// pod of the cluster).
pub const DEFAULT_TEMPLATE: &str = "http://{service}.{namespace}.svc.cluster.local:{port}";

/// How the tour reaches a Kubernetes Service: a URL template plus per-Service overrides.
///
/// ```
/// use keptn_examples::tour_kube::ServiceUrls;
/// let urls = ServiceUrls::new("http://{service}.{namespace}.example.com")?
///     .with_override("carts.sockshop-production=http://127.0.0.1:8080")?;
/// assert_eq!(
///     urls.resolve("http://carts-canary.sockshop-staging"),
///     Some("http://carts-canary.sockshop-staging.example.com".to_owned())
/// );
/// assert_eq!(urls.url("carts", "sockshop-production", 80), "http://127.0.0.1:8080");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrls {
    pub(super) template: String,
    overrides: BTreeMap<(String, String), String>,
}

impl Default for ServiceUrls {
    fn default() -> Self {
        Self {
            template: DEFAULT_TEMPLATE.to_owned(),
            overrides: BTreeMap::new(),
        }
    }
}

fn check_url(what: &str, url: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{what} `{url}` must start with http:// or https://"
        ));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("{what} `{url}` contains whitespace"));
    }
    Ok(())
}

impl ServiceUrls {
    /// A template with the placeholders `{service}` (the Kubernetes Service name, such as
    /// `carts` or `carts-canary`), `{namespace}` (`sockshop-staging`) and `{port}` (the
    /// Service port).
    ///
    /// # Errors
    /// A message naming the problem: not http(s), an unknown placeholder, an unclosed `{`.
    pub fn new(template: &str) -> Result<Self, String> {
        check_url("--kube-url", template)?;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("--kube-url `{template}` has an unclosed `{{`"));
            };
            let name = &after[..close];
            if !matches!(name, "service" | "namespace" | "port") {
                return Err(format!(
                    "--kube-url `{template}` has the unknown placeholder `{{{name}}}` \
                     (known: {{service}}, {{namespace}}, {{port}})"
                ));
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("--kube-url `{template}` has a `}}` without `{{`"));
        }
        Ok(Self {
            template: template.trim_end_matches('/').to_owned(),
            overrides: BTreeMap::new(),
        })
    }

    /// Adds an override `NAME.NAMESPACE=URL`: the Service `NAME` in `NAMESPACE` is reached at
    /// `URL` (e.g. a `kubectl port-forward` on 127.0.0.1).
    ///
    /// # Errors
    /// A message when the spec is not `NAME.NAMESPACE=URL` or the URL is not http(s).
    pub fn with_override(mut self, spec: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--kube-url-for `{spec}`: expected NAME.NAMESPACE=URL, such as \
                 carts.sockshop-production=http://127.0.0.1:8080"
            )
        };
        let (key, url) = spec.split_once('=').ok_or_else(bad)?;
        let (name, namespace) = key.split_once('.').ok_or_else(bad)?;
        if name.is_empty() || namespace.is_empty() || namespace.contains('.') {
            return Err(bad());
        }
        check_url("--kube-url-for URL", url)?;
        self.overrides.insert(
            (name.to_owned(), namespace.to_owned()),
            url.trim_end_matches('/').to_owned(),
        );
        Ok(self)
    }

    /// Whether `--kube-url-for` names Service `service` in `namespace`.
    pub fn has_override(&self, service: &str, namespace: &str) -> bool {
        self.overrides
            .contains_key(&(service.to_owned(), namespace.to_owned()))
    }

    /// The URL of Service `service` in `namespace` with Service port `port`.
    pub fn url(&self, service: &str, namespace: &str, port: u16) -> String {
        if let Some(url) = self
            .overrides
            .get(&(service.to_owned(), namespace.to_owned()))
        {
            return url.clone();
        }
        self.template
            .replace("{service}", service)
            .replace("{namespace}", namespace)
            .replace("{port}", &port.to_string())
    }

    /// Maps an in-cluster URI as Keptn reports it (`http://{name}.{namespace}[:{port}][/path]`)
    /// to the URL the tour uses; `None` when `uri` does not have that shape.
    pub fn resolve(&self, uri: &str) -> Option<String> {
        let (name, namespace, port, path) = parse_in_cluster(uri)?;
        Some(format!("{}{path}", self.url(name, namespace, port)))
    }
}

/// Splits `http://{name}.{namespace}[:{port}][/path]` (port 80 when absent).
pub(super) fn parse_in_cluster(uri: &str) -> Option<(&str, &str, u16, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 80),
    };
    let (name, namespace) = host.split_once('.')?;
    if name.is_empty() || namespace.is_empty() || namespace.contains('.') {
        return None;
    }
    Some((name, namespace, port, path))
}

/// Which deployment an in-cluster Service name addresses: `{service}-canary` → `canary`,
/// `{service}-primary` → `primary`, otherwise `direct`.
pub fn deployment_of(service_name: &str) -> &'static str {
    if service_name.ends_with("-canary") {
        "canary"
    } else if service_name.ends_with("-primary") {
        "primary"
    } else {
        "direct"
    }
}
