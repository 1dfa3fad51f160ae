//! One container or routes-file entry → what it contributes: its hosts, one location, its
//! backend, and its raw per-host / per-path settings (validated, merged later).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::names::*;
use super::value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_keepalive, parse_port,
    parse_proto, parse_redirect_status, parse_size, parse_verify_client,
};
use crate::model::{Backend, BackendAddr, Health, Reach, SourceItem};
use crate::routing::{HostPattern, PathPattern};

/// What one item adds to the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub hosts: Vec<String>,
    pub path: String,
    pub backends: Vec<Backend>,
    /// Per-host settings the item sets, by name (validated).
    pub host_settings: BTreeMap<&'static str, String>,
    /// Per-path settings the item sets, by name (validated).
    pub path_settings: BTreeMap<&'static str, String>,
    /// Why the item has no backend, if it has none (e.g. no shared network).
    pub unreachable: Option<String>,
}

/// Why an item contributes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not meant to be routed: no `VIRTUAL_HOST`.
    NotRouted,
    /// A setting is malformed: the message names it, its value and the fix.
    Invalid(String),
}

/// Reads one item. Every setting it uses is validated here, so one bad value skips this item
/// only, with a message naming the setting.
pub fn parse(item: &SourceItem) -> Result<Contribution, Rejection> {
    let vars = &item.vars;
    let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    if get(VIRTUAL_HOST_MULTIPORTS).is_some() {
        return Err(Rejection::Invalid(format!(
            "{VIRTUAL_HOST_MULTIPORTS} is not supported by dockside yet: run one container per port with VIRTUAL_HOST/VIRTUAL_PORT"
        )));
    }
    let hosts = split_hosts(get(VIRTUAL_HOST).unwrap_or_default());
    if hosts.is_empty() {
        return Err(Rejection::NotRouted);
    }
    for host in &hosts {
        HostPattern::parse(host).map_err(|e| Rejection::Invalid(e.to_string()))?;
    }
    let path = get(VIRTUAL_PATH).unwrap_or("/").to_owned();
    PathPattern::parse(&path).map_err(|e| Rejection::Invalid(e.to_string()))?;

    let mut host_settings = BTreeMap::new();
    for &name in HOST_SETTINGS {
        if let Some(v) = get(name) {
            validate_host_setting(name, v).map_err(Rejection::Invalid)?;
            host_settings.insert(name, v.to_owned());
        }
    }
    let mut path_settings = BTreeMap::new();
    for name in super::names::path_settings() {
        if let Some(v) = get(name) {
            validate_path_setting(name, v).map_err(Rejection::Invalid)?;
            path_settings.insert(name, v.to_owned());
        }
    }
    let port = get(VIRTUAL_PORT)
        .map(|v| parse_port(VIRTUAL_PORT, v))
        .transpose()
        .map_err(Rejection::Invalid)?;
    let (backends, unreachable) = backends(item, port);
    Ok(Contribution {
        hosts,
        path,
        backends,
        host_settings,
        path_settings,
        unreachable,
    })
}

/// nginx-proxy's `VIRTUAL_HOST` list rule: split on `,`, trim, drop empty items.
pub fn split_hosts(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Backend port per nginx-proxy §1.6.2: `VIRTUAL_PORT`, else the single exposed port, else 80.
fn backends(item: &SourceItem, port: Option<u16>) -> (Vec<Backend>, Option<String>) {
    let backend = |addr, health| Backend {
        addr,
        source: item.name.clone(),
        health,
    };
    match &item.reach {
        Reach::Addresses(addrs) => (
            addrs
                .iter()
                .map(|a| backend(a.clone(), Health::None))
                .collect(),
            None,
        ),
        Reach::Container {
            ip,
            exposed_ports,
            health,
        } => {
            let port = port.unwrap_or(match exposed_ports.as_slice() {
                [only] => *only,
                _ => 80,
            });
            (
                vec![backend(
                    BackendAddr::Tcp(SocketAddr::new(*ip, port)),
                    *health,
                )],
                None,
            )
        }
        Reach::Unreachable(why) => (Vec::new(), Some(why.clone())),
    }
}

fn validate_host_setting(name: &str, v: &str) -> Result<(), String> {
    match name {
        HTTPS_METHOD => parse_https_method(v).map(drop),
        ENABLE_HTTP_ON_MISSING_CERT | LABEL_TRUST_DEFAULT_CERT | LABEL_HTTP2 => {
            parse_bool(name, v).map(drop)
        }
        ACME_HTTP_CHALLENGE_LOCATION => parse_challenge_location(v).map(drop),
        CLIENT_MAX_BODY_SIZE => parse_size(name, v).map(drop),
        LABEL_NON_GET_REDIRECT => parse_redirect_status(name, v).map(drop),
        LABEL_SSL_VERIFY_CLIENT => parse_verify_client(name, v).map(drop),
        CERT_NAME if v.contains('/') => Err(format!(
            "{name}={v:?} must be a file name in the certificate directory, not a path"
        )),
        _ => Ok(()),
    }
}

fn validate_path_setting(name: &str, v: &str) -> Result<(), String> {
    match name {
        VIRTUAL_PROTO => parse_proto(v).map(drop),
        LABEL_KEEPALIVE => parse_keepalive(name, v).map(drop),
        _ => super::policy::validate(name, v),
    }
}

#[cfg(test)]
#[path = "item_tests.rs"]
mod tests;
