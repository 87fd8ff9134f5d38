//! The notifier's guarded DNS resolver: the addresses it checks are the ones the client uses.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use super::AddressPolicy;

/// A refusal by [`GuardedResolver`], found again in the HTTP client's error chain.
#[derive(Debug)]
pub(crate) struct Refusal(pub(crate) String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// The refusal somewhere in `error`'s chain of sources, if the guard caused it.
pub(crate) fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r.0.clone());
        }
        next = e.source();
    }
    None
}

/// The addresses a [`Lookup`] finds for a name, when they are ready.
pub(crate) type BoxLookup =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// How host names are turned into addresses (the system resolver; tests answer themselves).
pub(crate) type Lookup = Arc<dyn Fn(String) -> BoxLookup + Send + Sync>;

/// The system resolver as a [`Lookup`].
pub(crate) fn system_lookup() -> Lookup {
    Arc::new(|name: String| -> BoxLookup {
        Box::pin(async move {
            // the port is replaced by the URL's when connecting
            Ok(tokio::net::lookup_host((name.as_str(), 0)).await?.collect())
        })
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The notifier's DNS resolver: resolves once, checks every address against the policy and
/// gives the HTTP client exactly the addresses it checked.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<AddressPolicy>,
    pub(crate) lookup: Lookup,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        let policy = Arc::clone(&self.policy);
        let lookup = (self.lookup)(name.clone());
        Box::pin(async move {
            let addrs = lookup.await.map_err(|e| Box::new(e) as BoxError)?;
            if let Some(why) = policy.refused_addrs(&name, addrs.iter().copied()) {
                return Err(Box::new(Refusal(why)) as BoxError);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The proxy variables a default HTTP client follows.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The proxies of the proxy variables a default HTTP client follows: `(variable, URL)`.
pub(crate) fn proxy_urls() -> Vec<(&'static str, reqwest::Url)> {
    PROXY_VARIABLES
        .iter()
        .filter_map(|name| {
            let v = std::env::var(name).ok()?;
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            let v = if v.contains("://") {
                v.to_owned()
            } else {
                format!("http://{v}")
            };
            Some((*name, reqwest::Url::parse(&v).ok()?))
        })
        .collect()
}

/// The hosts of the proxy variables a default HTTP client follows.
#[cfg(test)]
pub(crate) fn proxy_hosts() -> Vec<String> {
    proxy_urls()
        .iter()
        .filter_map(|(_, url)| url.host_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::{Notifier, RetryPolicy, Target};

    /// A one-request HTTP server on loopback: answers 200 and counts connections.
    async fn receiver() -> (u16, Arc<AtomicU64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 8192];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        (port, hits)
    }

    fn hook(url: &str) -> Vec<Target> {
        let yaml = format!(
            "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nmetadata: {{name: pin}}\n\
             spec:\n  webhooks:\n    - type: sh.keptn.event.evaluation.finished\n      \
             subscriptionID: pin\n      requests:\n        - url: {url}\n          method: POST\n"
        );
        let config: keptn_spec::webhook::WebhookConfig = keptn_spec::from_yaml_str(&yaml).unwrap();
        Target::webhooks(&config, &crate::StaticSecrets::new()).unwrap()
    }

    /// A lookup that answers `addr` for every name and counts its calls.
    fn fake_lookup(addr: std::net::IpAddr) -> (Lookup, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        let lookup: Lookup = Arc::new(move |_name: String| -> BoxLookup {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(vec![std::net::SocketAddr::new(addr, 0)]) })
        });
        (lookup, calls)
    }

    fn event() -> Value {
        serde_json::json!({"type": "sh.keptn.event.evaluation.finished", "shkeptncontext": "c1",
                           "data": {"project": "sockshop"}})
    }

    /// The notifier's client connects to exactly the address its guarded lookup checked: a name
    /// no DNS server knows reaches the receiver through the one lookup, which runs once.
    #[tokio::test]
    async fn the_client_connects_to_the_checked_address() {
        if !proxy_hosts().is_empty() {
            eprintln!("skipped: a proxy variable is set, requests would go to the proxy");
            return;
        }
        let (port, hits) = receiver().await;
        let (lookup, calls) = fake_lookup([127, 0, 0, 1].into());
        let mut builder = Notifier::builder()
            .retry(RetryPolicy::none())
            .allow("127.0.0.1/32".parse().unwrap())
            .targets(hook(&format!("http://pinned.invalid:{port}/hook")));
        builder.lookup = Some(lookup);
        let notifier = builder.build().unwrap();
        notifier.emit_value(event());
        notifier.flush(Duration::from_secs(10)).await.unwrap();
        let stats = notifier.stats();
        assert_eq!(stats.delivered(), 1, "{stats}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "resolved once");
    }

    /// An answer that turns internal (DNS rebinding) is refused at the lookup the connection
    /// uses, not retried, and nothing reaches the address.
    #[tokio::test]
    async fn an_internal_answer_at_connect_time_is_refused() {
        if !proxy_hosts().is_empty() {
            eprintln!("skipped: a proxy variable is set, requests would go to the proxy");
            return;
        }
        let (port, hits) = receiver().await;
        let (lookup, calls) = fake_lookup([127, 0, 0, 1].into());
        let mut builder = Notifier::builder()
            .max_attempts(3)
            .targets(hook(&format!("http://rebound.invalid:{port}/hook")));
        builder.lookup = Some(lookup);
        let notifier = builder.build().unwrap();
        notifier.emit_value(event());
        notifier.flush(Duration::from_secs(10)).await.unwrap();
        let stats = notifier.stats();
        assert_eq!(stats.failed(), 1, "{stats}");
        assert_eq!(stats.retries(), 0, "a refusal is not retried");
        let error = stats.targets[0].last_error.clone().unwrap();
        assert!(
            error.contains("`rebound.invalid` resolves to 127.0.0.1 is a loopback address"),
            "{error}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
