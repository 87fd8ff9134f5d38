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
//!
//! Operators add their own [`AddressRule`]s: deny rules (an address range such as
//! `10.20.0.0/16`, a host, or `*.corp.example` for a domain) refuse more, and always win; allow
//! rules let a host or range through the fixed list above (a receiver on `127.0.0.1/32`, say)
//! without opening all of it.
//!
//! With the notifier's own HTTP client, a host name is resolved once per connection by a
//! resolver that checks every address and hands the client exactly those addresses: an answer
//! that changes between the check and the connection (DNS rebinding) cannot slip through.
//!
//! **A client passed to [`NotifierBuilder::http_client`](crate::NotifierBuilder::http_client)
//! gets the weaker guarantee.** It does its own resolving, which the notifier cannot reach:
//! the target's host is checked as written and by a lookup just before each request
//! (check-then-connect), so a DNS answer that changes between that lookup and the client's own
//! (rebinding) is not seen. Use the notifier's own client wherever the webhook URLs come from
//! templates over event data.
//!
//! Behind an HTTP proxy the proxy resolves the target, so the target's host is checked by a
//! lookup before each request. The proxies themselves — the hosts of `HTTP_PROXY`,
//! `HTTPS_PROXY` and `ALL_PROXY` (either case) — are checked as well, as written and on every
//! address they resolve to: while a proxy variable names a refused host (a proxy on
//! `127.0.0.1`, say), every request is refused, unless an allow rule
//! ([`NotifierBuilder::allow`](crate::NotifierBuilder::allow), `NOTIFY_ALLOW`) or
//! [`allow_internal_addresses`](crate::NotifierBuilder::allow_internal_addresses) lets it
//! through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

mod resolver;
mod rule;

pub(crate) use resolver::{GuardedResolver, Lookup, proxy_urls, refusal_in, system_lookup};
pub(crate) use rule::parse_rules;
pub use rule::{AddressRule, InvalidRule};

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

/// Where a notifier may send: the fixed list (unless internal addresses are allowed) and the
/// operator's rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressPolicy {
    pub(crate) allow_internal: bool,
    pub(crate) deny: Vec<AddressRule>,
    pub(crate) allow: Vec<AddressRule>,
}

impl AddressPolicy {
    /// Whether nothing is ever refused.
    pub(crate) fn is_open(&self) -> bool {
        self.allow_internal && self.deny.is_empty()
    }

    /// Why the host `name` (as written) is refused, or `None`.
    fn refused_name(&self, name: &str) -> Option<String> {
        if let Some(rule) = self.deny.iter().find(|r| r.matches_name(name)) {
            return Some(format!("`{name}` matches the deny rule `{rule}`"));
        }
        if self.allow_internal || self.allow.iter().any(|r| r.matches_name(name)) {
            return None;
        }
        refused_name(name)
    }

    /// Why the address `ip` is refused, or `None`; `allowed_host`: the name it came from has
    /// an allow rule.
    fn refused_ip(&self, ip: IpAddr, allowed_host: bool) -> Option<String> {
        if let Some(rule) = self.deny.iter().find(|r| r.matches_ip(ip)) {
            return Some(format!("{ip} matches the deny rule `{rule}`"));
        }
        if self.allow_internal || allowed_host || self.allow.iter().any(|r| r.matches_ip(ip)) {
            return None;
        }
        refused_ip(ip)
    }

    /// Why `url`'s host, as written, is refused, or `None`.
    pub(crate) fn refused_host(&self, url: &reqwest::Url) -> Option<String> {
        match host_of(url)? {
            Host::Ip(ip) => self.refused_ip(ip, false),
            Host::Name(name) => self.refused_name(name),
        }
    }

    /// Why the addresses `name` resolved to are refused, or `None`.
    pub(crate) fn refused_addrs(
        &self,
        name: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Option<String> {
        let allowed_host = self.allow.iter().any(|r| r.matches_name(name));
        addrs.into_iter().find_map(|addr| {
            self.refused_ip(addr.ip(), allowed_host)
                .map(|why| format!("`{name}` resolves to {why}"))
        })
    }

    /// Why `url` may not be requested, or `None`: its host as written, then every address it
    /// resolves to. A host that does not resolve is let through (the request then fails to
    /// connect, as any unreachable host).
    pub(crate) async fn refused_url(&self, url: &reqwest::Url) -> Option<String> {
        if let Some(why) = self.refused_host(url) {
            return Some(why);
        }
        let Host::Name(name) = host_of(url)? else {
            return None;
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = tokio::net::lookup_host((name, port)).await.ok()?;
        self.refused_addrs(name, addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> Option<String> {
        AddressPolicy::default().refused_host(&reqwest::Url::parse(url).unwrap())
    }

    async fn refused_url(url: &reqwest::Url) -> Option<String> {
        AddressPolicy::default().refused_url(url).await
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

    /// Deny rules win over allow rules and the opt-in; allow rules open only what they name.
    #[test]
    fn deny_wins_and_allow_opens_only_what_it_names() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let policy = AddressPolicy {
            allow_internal: false,
            deny: vec![
                "10.9.0.0/16".parse().unwrap(),
                "*.blocked.example".parse().unwrap(),
            ],
            allow: vec![
                "127.0.0.1/32".parse().unwrap(),
                "receiver.tools.svc".parse().unwrap(),
                "10.9.1.1".parse().unwrap(),
            ],
        };
        assert_eq!(policy.refused_host(&url("http://127.0.0.1:8080/x")), None);
        assert!(policy.refused_host(&url("http://127.0.0.2/x")).is_some());
        assert!(policy.refused_host(&url("http://localhost/x")).is_some());
        assert_eq!(
            policy.refused_host(&url("http://receiver.tools.svc/x")),
            None
        );
        assert!(
            policy
                .refused_host(&url("http://other.tools.svc/x"))
                .is_some()
        );
        let why = policy.refused_host(&url("http://10.9.1.1/x")).unwrap();
        assert!(why.contains("deny rule `10.9.0.0/16`"), "{why}");
        let why = policy
            .refused_host(&url("https://hooks.blocked.example/x"))
            .unwrap();
        assert!(why.contains("deny rule `*.blocked.example`"), "{why}");
        // a name with an allow rule may resolve to internal addresses, never to denied ones
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            policy.refused_addrs("receiver.tools.svc", [addr("127.0.0.5:80")]),
            None
        );
        assert!(
            policy
                .refused_addrs("receiver.tools.svc", [addr("10.9.3.3:80")])
                .is_some()
        );
        assert!(
            policy
                .refused_addrs(
                    "chat.example",
                    [addr("8.8.8.8:80"), addr("169.254.169.254:80")]
                )
                .unwrap()
                .contains("`chat.example` resolves to 169.254.169.254")
        );
        let open = AddressPolicy {
            allow_internal: true,
            ..policy.clone()
        };
        assert_eq!(open.refused_host(&url("http://localhost/x")), None);
        assert!(open.refused_host(&url("http://10.9.0.1/x")).is_some());
        assert!(!open.is_open());
    }
}
