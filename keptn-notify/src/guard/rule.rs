//! Operators' address rules: ranges, hosts and domains.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An operator's rule for where notifications may go: an address range, one host name, or a
/// domain with every name under it. Parsed from `10.0.0.0/8`, `fd00::/8`, `192.0.2.7` (one
/// address), `chat.example.com` or `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRule {
    /// Every address whose first `prefix` bits equal `network`'s.
    Network {
        /// The network's address.
        network: IpAddr,
        /// How many leading bits must match (0–32 for IPv4, 0–128 for IPv6).
        prefix: u8,
    },
    /// Exactly this host name (lowercase, without a trailing dot).
    Host(String),
    /// This domain and every name under it (lowercase, without the leading `*.`).
    Domain(String),
}

/// Why a string is not an [`AddressRule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{rule}` is not an address rule: {reason} (expected a range such as 10.0.0.0/8, an address, a host name or *.domain)"
)]
pub struct InvalidRule {
    /// The rejected text.
    pub rule: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for AddressRule {
    type Err = InvalidRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidRule {
            rule: s.chars().take(100).collect(),
            reason,
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if let Some((addr, prefix)) = text.split_once('/') {
            let network: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| fail("the part before `/` is not an IP address"))?;
            let max = if network.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| fail("the prefix length is not 0 to 32 (IPv4) or 128 (IPv6)"))?;
            return Ok(Self::Network { network, prefix });
        }
        if let Ok(ip) = text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            return Ok(Self::Network {
                network: ip,
                prefix,
            });
        }
        let (domain, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(fail("it is not a host name"));
        }
        Ok(if domain {
            Self::Domain(name)
        } else {
            Self::Host(name)
        })
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network { network, prefix } => write!(f, "{network}/{prefix}"),
            Self::Host(h) => f.write_str(h),
            Self::Domain(d) => write!(f, "*.{d}"),
        }
    }
}

impl AddressRule {
    /// Whether `ip` is in this rule's range (never for a name rule). IPv4-mapped IPv6
    /// addresses count as their IPv4 address.
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        let Self::Network { network, prefix } = self else {
            return false;
        };
        match (canonical(*network), canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Whether the host name `name` is this rule's host or under its domain (never for a range).
    pub fn matches_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Network { .. } => false,
            Self::Host(h) => *h == name,
            Self::Domain(d) => {
                name == *d
                    || name
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Parses a comma- or whitespace-separated list of rules (an environment variable's value).
///
/// # Errors
/// The first entry that is not a rule.
pub(crate) fn parse_rules(list: &str) -> Result<Vec<AddressRule>, InvalidRule> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules parse from the forms operators write, and match what they say.
    #[test]
    fn rules_parse_and_match() {
        let rule = |s: &str| s.parse::<AddressRule>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = rule("10.20.0.0/16");
        assert!(net.matches_ip(ip("10.20.3.4")));
        assert!(net.matches_ip(ip("::ffff:10.20.0.1")));
        assert!(!net.matches_ip(ip("10.21.0.1")));
        assert!(!net.matches_name("10.20.3.4"));
        assert!(rule("0.0.0.0/0").matches_ip(ip("8.8.8.8")));
        assert!(!rule("0.0.0.0/0").matches_ip(ip("2001:db8::1")));
        assert!(rule("fd00::/8").matches_ip(ip("fd12::1")));
        assert!(!rule("fd00::/8").matches_ip(ip("fe80::1")));
        let one = rule("192.0.2.7");
        assert_eq!(one.to_string(), "192.0.2.7/32");
        assert!(one.matches_ip(ip("192.0.2.7")) && !one.matches_ip(ip("192.0.2.8")));
        let host = rule("Chat.Example.com.");
        assert!(host.matches_name("chat.example.com") && !host.matches_name("x.chat.example.com"));
        let domain = rule("*.example.com");
        assert!(domain.matches_name("example.com"));
        assert!(domain.matches_name("a.b.EXAMPLE.com"));
        assert!(!domain.matches_name("badexample.com"));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "x/8",
            "*.",
            "a b",
            "exa$mple.com",
            "-/-",
        ] {
            let err = bad.parse::<AddressRule>().unwrap_err();
            assert!(err.to_string().contains("is not an address rule"), "{err}");
        }
        assert_eq!(
            parse_rules(" 10.0.0.0/8, *.corp.example  127.0.0.1 ")
                .unwrap()
                .len(),
            3
        );
        assert!(parse_rules("10.0.0.0/8,nope/1").is_err());
    }
}
