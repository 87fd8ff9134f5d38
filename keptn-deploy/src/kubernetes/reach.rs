//! Reaching a Kubernetes Service at its ClusterIP from a machine that is a node of the cluster
//! (kube-proxy's rules make ClusterIPs answer there), without cluster DNS (`full_tour --kube
//! --kube-reach cluster-ip`, the tests against `scripts/kube-node.sh`).
//!
//! Before anything is sent to an address, [`check_routes_locally`] makes sure the machine's
//! routing table delivers it on a directly attached link (no gateway): a ClusterIP or pod IP
//! that would leave through the default route is refused, so test traffic never leaves the
//! machine. `scripts/kube-node.sh` routes the Service range to its own bridge for that reason.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};

/// One IPv4 route of the kernel's main table, as `/proc/net/route` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub destination: Ipv4Addr,
    /// Its mask.
    pub mask: Ipv4Addr,
    /// The next hop; `0.0.0.0` for a directly attached link.
    pub gateway: Ipv4Addr,
}

/// Parses `/proc/net/route` (header line, then `Iface Destination Gateway Flags RefCnt Use
/// Metric Mask ...` with addresses as little-endian hex). Lines that do not parse are skipped.
pub fn parse_routes(text: &str) -> Vec<(String, Route)> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.swap_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, gw, mask) = (f.first()?, f.get(1)?, f.get(2)?, f.get(7)?);
            Some((
                (*iface).to_owned(),
                Route {
                    destination: hex(dest)?,
                    gateway: hex(gw)?,
                    mask: hex(mask)?,
                },
            ))
        })
        .collect()
}

/// The interface `ip` is sent on when `routes` (longest prefix wins) delivers it without a
/// gateway on an interface that carries no gateway route (the interface of the default route
/// leads outside, even for its directly attached network).
///
/// # Errors
/// A message naming the address and why it is refused: no route, a route through a gateway, or
/// an interface that leads outside.
pub fn local_interface(routes: &[(String, Route)], ip: Ipv4Addr) -> Result<String, String> {
    let best = routes
        .iter()
        .filter(|(_, r)| u32::from(ip) & u32::from(r.mask) == u32::from(r.destination))
        .max_by_key(|(_, r)| u32::from(r.mask).count_ones());
    match best {
        None => Err(format!("{ip} has no route on this machine")),
        Some((iface, r)) if !r.gateway.is_unspecified() => Err(format!(
            "{ip} would leave this machine through gateway {} on {iface}; refusing to send to it",
            r.gateway
        )),
        Some((iface, _)) => {
            match routes
                .iter()
                .find(|(i, r)| i == iface && !r.gateway.is_unspecified())
            {
                Some((_, r)) => Err(format!(
                    "{ip} is on {iface}, which leads outside (gateway {}); refusing to send to it",
                    r.gateway
                )),
                None => Ok(iface.clone()),
            }
        }
    }
}

/// Checks with the kernel's routing table that `ip` is delivered on a directly attached link of
/// this machine (loopback, or a bridge such as `scripts/kube-node.sh`'s `kn0`), and returns that
/// interface.
///
/// # Errors
/// As [`local_interface`], or `/proc/net/route` cannot be read.
pub fn check_routes_locally(ip: Ipv4Addr) -> Result<String, String> {
    if ip.is_loopback() {
        return Ok("lo".to_owned());
    }
    let text = std::fs::read_to_string("/proc/net/route")
        .map_err(|e| format!("cannot read /proc/net/route to check where {ip} goes: {e}"))?;
    local_interface(&parse_routes(&text), ip)
}

/// The ClusterIP of Service `name` in `namespace`, read from the API server and checked to
/// route locally.
///
/// # Errors
/// A message when the Service cannot be read, has no IPv4 ClusterIP (headless, missing), or
/// its address does not route locally.
pub async fn service_cluster_ip(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Ipv4Addr, String> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = api
        .get(name)
        .await
        .map_err(|e| format!("cannot read Service {name} in {namespace}: {e}"))?;
    let raw = svc.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
    let ip: Ipv4Addr = raw.parse().map_err(|_| {
        format!("Service {name} in {namespace} has no IPv4 ClusterIP (found `{raw}`)")
    })?;
    check_routes_locally(ip)
        .map_err(|e| format!("Service {name} in {namespace} at its ClusterIP: {e}"))?;
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
kn0\t0000580A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
kn0\t0000600A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    /// The node's bridge and Service routes are local; anything else takes the default gateway
    /// and is refused.
    #[test]
    fn longest_prefix_decides() {
        let routes = parse_routes(TABLE);
        assert_eq!(routes.len(), 4);
        assert_eq!(routes[0].1.gateway, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(
            local_interface(&routes, Ipv4Addr::new(10, 96, 0, 17)).unwrap(),
            "kn0"
        );
        assert_eq!(
            local_interface(&routes, Ipv4Addr::new(10, 88, 0, 12)).unwrap(),
            "kn0"
        );
        let err = local_interface(&routes, Ipv4Addr::new(10, 97, 0, 1)).unwrap_err();
        assert!(err.contains("gateway 192.0.2.1 on eth0"), "{err}");
        let err = local_interface(&routes, Ipv4Addr::new(192, 0, 2, 7)).unwrap_err();
        assert!(err.contains("on eth0, which leads outside"), "{err}");
        let no_default = &routes[1..];
        assert!(
            local_interface(no_default, Ipv4Addr::new(8, 8, 8, 8))
                .unwrap_err()
                .contains("no route")
        );
    }

    /// Garbage lines are skipped, never a panic.
    #[test]
    fn tolerates_garbage() {
        assert!(parse_routes("header\nnot a route\n\nx y z\n").is_empty());
        assert_eq!(check_routes_locally(Ipv4Addr::LOCALHOST).unwrap(), "lo");
    }
}
