//! What dockside knows about one container (our own type, no bollard) and the pure mapping
//! to a `SourceItem`: settings from env + labels, and the backend address per nginx-proxy
//! §1.6.3 (first shared network by name, `ingress` skipped, host-network via the gateway).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{Health, Reach, SourceItem};

/// One running container as discovery sees it, built from `docker inspect` in `docker.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerInfo {
    /// Full container id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Creation time, unix nanoseconds: the oldest container wins per-host conflicts.
    pub created: i64,
    /// `Config.Env` as a map (`KEY` without `=` maps to an empty value).
    pub env: BTreeMap<String, String>,
    /// `Config.Labels`; a label overrides the env variable of the same name.
    pub labels: BTreeMap<String, String>,
    /// `State.Health.Status`; `None` without a healthcheck.
    pub health: Health,
    /// Sorted by name, like docker-gen's `Networks`.
    pub networks: Vec<NetworkInfo>,
    /// `HostConfig.NetworkMode`: `host`, `bridge`, a network name, `container:<id>`...
    pub network_mode: String,
    /// docker-gen's `Addresses`: published and exposed ports, tcp and udp, sorted by port.
    pub ports: Vec<PortInfo>,
}

/// One network a container is attached to (docker-gen's `Networks[]` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInfo {
    pub name: String,
    /// `IPAddress` (absent on `host` and `none`).
    pub ip: Option<Ipv4Addr>,
    /// `GlobalIPv6Address`, used with `PREFER_IPV6_NETWORK`.
    pub ipv6: Option<Ipv6Addr>,
    /// The host side of the bridge: how a container reaches a host-network backend.
    pub gateway: Option<IpAddr>,
    /// From the network list (`docker network inspect`): internal networks have no way out,
    /// so their gateway cannot reach a host-network backend.
    pub internal: bool,
}

/// One exposed or published port (docker-gen's `Addresses[]` entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortInfo {
    pub port: u16,
    /// `tcp` or `udp` (both count for single-port selection, as in docker-gen).
    pub proto: String,
    /// Published host port, if any.
    pub host_port: Option<u16>,
}

/// The networks dockside can reach backends through (nginx-proxy's "proxy networks").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyNetworks {
    /// dockside runs on the host, not in a container: every container IP is reachable.
    Standalone,
    /// dockside's own container, or the container labelled `NGINX_CONTAINER_LABEL` /
    /// `dockside.network-container` (nginx-proxy's separate-containers setup).
    Container {
        /// Container name, for messages.
        name: String,
        /// The network container runs with `--network host`: every IP is reachable.
        host_mode: bool,
        /// Sorted by name.
        networks: Vec<NetworkInfo>,
    },
}

impl ContainerInfo {
    /// Environment merged with labels of the same name; a label wins (nginx-proxy #2148).
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut vars = self.env.clone();
        vars.extend(self.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// Whether the container runs in the host's network namespace.
    pub fn is_host_mode(&self) -> bool {
        self.network_mode == "host" || self.networks.iter().any(|n| n.name == "host")
    }

    /// Exposed port numbers, tcp and udp, sorted and deduplicated (for `VIRTUAL_PORT` defaults).
    pub fn exposed_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.ports.iter().map(|p| p.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// Maps one container to what `settings::build` consumes, choosing its address per §1.6.3.
pub fn to_source_item(
    info: &ContainerInfo,
    proxy: &ProxyNetworks,
    prefer_ipv6: bool,
) -> SourceItem {
    SourceItem {
        name: info.name.clone(),
        created: info.created,
        vars: info.vars(),
        reach: reach(info, proxy, prefer_ipv6),
    }
}

fn reach(info: &ContainerInfo, proxy: &ProxyNetworks, prefer_ipv6: bool) -> Reach {
    let (proxy_all, proxy_nets): (bool, &[NetworkInfo]) = match proxy {
        ProxyNetworks::Standalone => (true, &[]),
        ProxyNetworks::Container {
            host_mode,
            networks,
            ..
        } => (*host_mode, networks),
    };
    if info.is_host_mode() {
        return host_mode_reach(info, proxy, proxy_all, proxy_nets);
    }
    let mut nets: Vec<&NetworkInfo> = info.networks.iter().collect();
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    let chosen = nets
        .into_iter()
        .filter(|n| n.name != "ingress")
        .find(|n| proxy_all || proxy_nets.iter().any(|p| p.name == n.name));
    let Some(net) = chosen else {
        return Reach::Unreachable(no_shared_network(info, proxy));
    };
    let ip = match (prefer_ipv6, net.ip, net.ipv6) {
        (true, _, Some(v6)) => IpAddr::V6(v6),
        (_, Some(v4), _) => IpAddr::V4(v4),
        (_, None, Some(v6)) => IpAddr::V6(v6),
        (_, None, None) => {
            return Reach::Unreachable(format!(
                "container {} has no IP address on network {}",
                info.name, net.name
            ));
        }
    };
    Reach::Container {
        ip,
        exposed_ports: info.exposed_ports(),
        health: info.health,
    }
}

/// A `--network host` backend: 127.0.0.1 when dockside shares the host's namespace, else the
/// gateway (the host's address) of dockside's first non-internal network that has one.
fn host_mode_reach(
    info: &ContainerInfo,
    proxy: &ProxyNetworks,
    proxy_all: bool,
    proxy_nets: &[NetworkInfo],
) -> Reach {
    let ip = if proxy_all {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        let mut nets: Vec<&NetworkInfo> = proxy_nets.iter().collect();
        nets.sort_by(|a, b| a.name.cmp(&b.name));
        nets.into_iter()
            .filter(|n| !n.internal)
            .find_map(|n| n.gateway)
    };
    match ip {
        Some(ip) => Reach::Container {
            ip,
            exposed_ports: Vec::new(),
            health: info.health,
        },
        None => Reach::Unreachable(format!(
            "container {} uses the host network, but {} has no non-internal network with a \
             gateway to reach the host through",
            info.name,
            proxy_label(proxy)
        )),
    }
}

fn proxy_label(proxy: &ProxyNetworks) -> String {
    match proxy {
        ProxyNetworks::Standalone => "dockside".to_owned(),
        ProxyNetworks::Container { name, .. } => format!("dockside's container {name}"),
    }
}

fn no_shared_network(info: &ContainerInfo, proxy: &ProxyNetworks) -> String {
    let theirs = names(info.networks.iter().filter(|n| n.name != "ingress"));
    let theirs = if theirs.is_empty() {
        "nothing".to_owned()
    } else {
        theirs
    };
    let ProxyNetworks::Container { networks, .. } = proxy else {
        // On the host every container IP is reachable: only a container on no network is not.
        return format!(
            "container {} is attached to no network dockside can reach ({} is on: {theirs}) —              connect it with `docker network connect <network> {}`",
            info.name, info.name, info.name
        );
    };
    let ours = names(networks.iter());
    let fix = match networks.first() {
        Some(net) => format!(
            " — connect it with `docker network connect {} {}`",
            net.name, info.name
        ),
        None => String::new(),
    };
    format!(
        "container {} shares no network with dockside ({} is on: {}; {} is on: {theirs}){fix}",
        info.name,
        proxy_label(proxy),
        if ours.is_empty() { "nothing" } else { &ours },
        info.name,
    )
}

fn names<'a>(nets: impl Iterator<Item = &'a NetworkInfo>) -> String {
    let mut v: Vec<&str> = nets.map(|n| n.name.as_str()).collect();
    v.sort_unstable();
    v.join(", ")
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
