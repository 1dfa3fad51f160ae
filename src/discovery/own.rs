//! Finding dockside's own container (or its network container), whose networks decide which
//! backends are reachable: pure parsers for `/proc/self/mountinfo` and `/proc/self/cgroup`,
//! and the choice between a labelled network container, our own container and standalone.

use super::container::{ContainerInfo, ProxyNetworks};

/// Our own label naming the container whose networks dockside uses (like nginx-proxy's
/// `NGINX_CONTAINER_LABEL` for a separate docker-gen container).
pub const NETWORK_CONTAINER_LABEL: &str = "dockside.network-container";

/// nginx-proxy's default `NGINX_CONTAINER_LABEL`.
pub const NGINX_CONTAINER_LABEL_DEFAULT: &str = "com.github.nginx-proxy.nginx-proxy.nginx";

/// Candidate ids for the container we run in, most reliable first: mountinfo (works with
/// cgroup v2), cgroup v1, then `hostname` (`$HOSTNAME`: Docker's default hostname is the short
/// id). The caller confirms each with `docker inspect`; an empty list means "not in a container".
pub fn own_container_candidates(hostname: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo")
        && let Some(id) = id_from_mountinfo(&text)
    {
        out.push(id);
    }
    if let Ok(text) = std::fs::read_to_string("/proc/self/cgroup")
        && let Some(id) = id_from_cgroup(&text)
        && !out.contains(&id)
    {
        out.push(id);
    }
    if std::path::Path::new("/.dockerenv").exists()
        && let Some(host) = hostname
        && is_hex(host)
        && host.len() >= 12
    {
        out.push(host.to_owned());
    }
    out
}

/// The id in a `/var/lib/docker/containers/<id>/...` mount source (hostname, resolv.conf).
pub fn id_from_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let idx = line.find("/containers/")?;
        let rest = &line[idx + "/containers/".len()..];
        let id = rest.split('/').next()?;
        (id.len() == 64 && is_hex(id)).then(|| id.to_owned())
    })
}

/// The id in a cgroup v1 path: `/docker/<id>` or `docker-<id>.scope`.
pub fn id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let path = line.rsplit(':').next()?;
        path.split('/').find_map(|seg| {
            let seg = seg.strip_prefix("docker-").unwrap_or(seg);
            let seg = seg.strip_suffix(".scope").unwrap_or(seg);
            (seg.len() == 64 && is_hex(seg)).then(|| seg.to_owned())
        })
    })
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The proxy networks: the first (by name) running container carrying `nginx_label` or
/// [`NETWORK_CONTAINER_LABEL`], else our own container, else standalone (on the host).
pub fn select_proxy(
    containers: &[&ContainerInfo],
    own: Option<&ContainerInfo>,
    nginx_label: &str,
) -> ProxyNetworks {
    let mut labelled: Vec<&ContainerInfo> = containers
        .iter()
        .copied()
        .filter(|c| {
            c.labels.contains_key(nginx_label) || c.labels.contains_key(NETWORK_CONTAINER_LABEL)
        })
        .collect();
    labelled.sort_by(|a, b| a.name.cmp(&b.name));
    match labelled.first().copied().or(own) {
        Some(c) => {
            let mut networks = c.networks.clone();
            networks.sort_by(|a, b| a.name.cmp(&b.name));
            ProxyNetworks::Container {
                name: c.name.clone(),
                host_mode: c.is_host_mode(),
                networks,
            }
        }
        None => ProxyNetworks::Standalone,
    }
}

#[cfg(test)]
#[path = "own_tests.rs"]
mod tests;
