//! Which hosts notifications may go to.
//!
//! A `webhook.yaml` URL is a template over event data, so an event can steer a request; and a
//! notifier usually runs next to things no outside party should reach. As Keptn's
//! webhook-service refused requests to the Kubernetes API (its service IP from
//! `KUBERNETES_SERVICE_HOST` and the names `kubernetes`, `kubernetes.default`,
//! `kubernetes.default.svc`, `kubernetes.default.svc.cluster.local`, also when a host resolves
//! to them), a [`Notifier`](crate::Notifier) refuses before connecting:
//!
//! * loopback hosts: `localhost`, `*.localhost`, 127.0.0.0/8, `::1`;
//! * link-local hosts: 169.254.0.0/16 (cloud metadata services live there), `fe80::/10`;
//! * unspecified addresses: 0.0.0.0/8, `::`;
//! * cluster-internal names: the Kubernetes API names above, `*.svc`, `*.cluster.local`, and
//!   the address in `KUBERNETES_SERVICE_HOST`;
//!
//! checked on the host as written and on every address it resolves to (IPv4-mapped IPv6
//! addresses as their IPv4 address). Private ranges (10/8, 192.168/16, …) are allowed: intranet
//! chat servers are normal. A notifier that must reach such hosts (tests, a local tour) opts in
//! with [`NotifierBuilder::allow_internal_addresses`](crate::NotifierBuilder::allow_internal_addresses).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The Kubernetes API's names inside a cluster (Keptn's deny list).
const KUBE_API_NAMES: &[&str] = &[
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// A URL's host: an address, or a name. The URL parser has already turned every IPv4 form
/// (`2130706433`, `0x7f.1`) into dotted decimal and put IPv6 addresses in brackets.
enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn host_of(url: &reqwest::Url) -> Option<Host<'_>> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host),
    })
}

/// Why `url`'s host, as written, is refused, or `None`.
pub(crate) fn refused_host(url: &reqwest::Url) -> Option<String> {
    match host_of(url)? {
        Host::Ip(ip) => refused_ip(ip),
        Host::Name(name) => refused_name(name),
    }
}

fn refused_name(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(format!("`{name}` is a loopback host"));
    }
    if KUBE_API_NAMES.contains(&name.as_str())
        || name.ends_with(".svc")
        || name.ends_with(".cluster.local")
    {
        return Some(format!("`{name}` is a cluster-internal name"));
    }
    if kube_service_host().is_some_and(|h| h.eq_ignore_ascii_case(&name)) {
        return Some(format!(
            "`{name}` is the Kubernetes API (KUBERNETES_SERVICE_HOST)"
        ));
    }
    None
}

fn kube_service_host() -> Option<String> {
    std::env::var("KUBERNETES_SERVICE_HOST")
        .ok()
        .map(|h| {
            h.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        })
        .filter(|h| !h.is_empty())
}

/// Why an address is refused, or `None`.
pub(crate) fn refused_ip(ip: IpAddr) -> Option<String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    let kind = match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    };
    if let Some(kind) = kind {
        return Some(format!("{ip} is a {kind} address"));
    }
    if kube_service_host()
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(|k| k == ip)
    {
        return Some(format!(
            "{ip} is the Kubernetes API (KUBERNETES_SERVICE_HOST)"
        ));
    }
    None
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.octets()[0] == 0 {
        Some("unspecified")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_unicast_link_local() {
        Some("link-local")
    } else {
        None
    }
}

/// Why `url` may not be requested, or `None`: its host as written, then every address it
/// resolves to. A host that does not resolve is let through (the request then fails to
/// connect, as any unreachable host).
pub(crate) async fn refused_url(url: &reqwest::Url) -> Option<String> {
    if let Some(why) = refused_host(url) {
        return Some(why);
    }
    let Host::Name(name) = host_of(url)? else {
        return None;
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = tokio::net::lookup_host((name, port)).await.ok()?;
    for addr in addrs {
        if let Some(why) = refused_ip(addr.ip()) {
            return Some(format!("`{name}` resolves to {why}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> Option<String> {
        refused_host(&reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_link_local_and_cluster_hosts_are_refused() {
        for url in [
            "http://localhost:8080/x",
            "http://LOCALHOST./x",
            "http://app.localhost/x",
            "http://127.0.0.1/x",
            "http://127.8.9.10:9/x",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/x",
            "http://0.0.0.0/x",
            "http://[::]/x",
            "https://kubernetes/api",
            "https://kubernetes.default:443/api",
            "https://kubernetes.default.svc/api",
            "https://kubernetes.default.svc.cluster.local/api",
            "http://keptn-api.keptn.svc/x",
            "http://carts.sockshop.svc.cluster.local/x",
            // the URL parser's forms of the same addresses
            "http://2130706433/x",
            "http://0x7f.1/x",
        ] {
            assert!(refused(url).is_some(), "{url} must be refused");
        }
    }

    #[test]
    fn public_and_private_hosts_are_allowed() {
        for url in [
            "https://hooks.slack.com/services/T0/B0/X",
            "http://10.0.0.5/hook",
            "http://192.168.1.2/hook",
            "http://[2001:db8::1]/hook",
            "http://chat.example.internal/hook",
        ] {
            assert_eq!(refused(url), None, "{url} must be allowed");
        }
    }

    #[test]
    fn the_reason_names_the_kind() {
        assert_eq!(
            refused("http://169.254.169.254/").unwrap(),
            "169.254.169.254 is a link-local address"
        );
        assert_eq!(
            refused("http://kubernetes.default.svc/").unwrap(),
            "`kubernetes.default.svc` is a cluster-internal name"
        );
    }

    #[tokio::test]
    async fn a_refused_host_is_refused_before_any_lookup() {
        let url = reqwest::Url::parse("http://localhost:1/").unwrap();
        assert!(refused_url(&url).await.unwrap().contains("loopback"));
        let url = reqwest::Url::parse("http://[::1]:1/").unwrap();
        assert!(refused_url(&url).await.unwrap().contains("loopback"));
        let url = reqwest::Url::parse("http://10.1.2.3:1/").unwrap();
        assert_eq!(refused_url(&url).await, None);
    }
}
