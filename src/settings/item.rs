//! One container or routes-file entry → what it contributes: its hosts, one location, its
//! backend, and its raw per-host / per-path settings (validated, merged later).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::multiports;
use super::names::*;
use super::value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_keepalive, parse_port,
    parse_proto, parse_redirect_status, parse_root, parse_server_tokens, parse_size,
    parse_verify_client,
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

/// Everything one item contributes: one entry per (host list, path), and notes about keys of
/// its `VIRTUAL_HOST_MULTIPORTS` that nginx-proxy ignores (likely typos).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub contributions: Vec<Contribution>,
    pub ignored: Vec<String>,
}

/// Settings a `VIRTUAL_HOST_MULTIPORTS` container does not apply: its value says these per host
/// and path (nginx-proxy §1.3). `EXTERNAL_*_PORT` are spelled out, as they are read elsewhere.
const MULTIPORTS_OVERRIDES: &[&str] = &[
    VIRTUAL_PROTO,
    VIRTUAL_DEST,
    EXTERNAL_HTTP_PORT,
    EXTERNAL_HTTPS_PORT,
];

/// Reads one item. Every setting it uses is validated here, so one bad value skips this item
/// only, with a message naming the setting.
pub fn parse(item: &SourceItem) -> Result<Parsed, Rejection> {
    let vars = &item.vars;
    let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(raw) = get(VIRTUAL_HOST_MULTIPORTS) {
        return multiports(item, raw, &get);
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
    let (host_settings, path_settings) = settings(&get, &[])?;
    let port = get(VIRTUAL_PORT)
        .map(|v| parse_port(VIRTUAL_PORT, v))
        .transpose()
        .map_err(Rejection::Invalid)?;
    let (backends, unreachable) = backends(item, port);
    Ok(Parsed {
        contributions: vec![Contribution {
            hosts,
            path,
            backends,
            host_settings,
            path_settings,
            unreachable,
        }],
        ignored: Vec::new(),
    })
}

/// The hosts an item declares: its `VIRTUAL_HOST_MULTIPORTS` hosts when it has that setting
/// (none when the value is invalid), else its `VIRTUAL_HOST` list.
pub fn declared_hosts(item: &SourceItem) -> Vec<String> {
    let get = |name: &str| {
        item.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    match get(VIRTUAL_HOST_MULTIPORTS) {
        Some(raw) => multiports::parse(raw)
            .map(|m| m.hosts.into_iter().map(|h| h.host).collect())
            .unwrap_or_default(),
        None => split_hosts(get(VIRTUAL_HOST).unwrap_or_default()),
    }
}

type Settings = BTreeMap<&'static str, String>;

/// The item's per-host and per-path settings, validated; `skip` names settings not applied.
fn settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    skip: &[&str],
) -> Result<(Settings, Settings), Rejection> {
    let mut host_settings = BTreeMap::new();
    for &name in HOST_SETTINGS.iter().filter(|n| !skip.contains(n)) {
        if let Some(v) = get(name) {
            validate_host_setting(name, v).map_err(Rejection::Invalid)?;
            host_settings.insert(name, v.to_owned());
        }
    }
    let mut path_settings = BTreeMap::new();
    for name in super::names::path_settings().filter(|n| !skip.contains(n)) {
        if let Some(v) = get(name) {
            validate_path_setting(name, v).map_err(Rejection::Invalid)?;
            path_settings.insert(name, v.to_owned());
        }
    }
    Ok((host_settings, path_settings))
}

/// A `VIRTUAL_HOST_MULTIPORTS` item: one contribution per (host, path), each with the port,
/// proto and dest its value gives, and the item's other settings.
fn multiports<'a>(
    item: &SourceItem,
    raw: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Parsed, Rejection> {
    let invalid = |why: String| Rejection::Invalid(format!("{VIRTUAL_HOST_MULTIPORTS} {why}"));
    let value = multiports::parse(raw).map_err(|e| invalid(e.to_string()))?;
    let (host_settings, path_settings) = settings(get, MULTIPORTS_OVERRIDES)?;
    let mut contributions = Vec::new();
    for host in value.hosts {
        HostPattern::parse(&host.host).map_err(|e| invalid(e.to_string()))?;
        let mut host_settings = host_settings.clone();
        for (name, port) in [
            (MULTIPORTS_EXTERNAL_HTTP_PORT, host.external_http_port),
            (MULTIPORTS_EXTERNAL_HTTPS_PORT, host.external_https_port),
        ] {
            // Set even when absent, as nginx-proxy does (the global port): the first
            // MULTIPORTS container of a host decides both ports.
            let port = port.map_or_else(|| "default".to_owned(), |p| p.to_string());
            host_settings.insert(name, port);
        }
        for path in host.paths {
            let at = format!("{}{}", host.host, path.path);
            PathPattern::parse(&path.path).map_err(|e| invalid(format!("{at}: {e}")))?;
            parse_proto(&path.proto).map_err(|e| invalid(format!("{at}: proto: {e}")))?;
            let mut path_settings = path_settings.clone();
            path_settings.insert(VIRTUAL_PROTO, path.proto);
            path_settings.insert(VIRTUAL_DEST, path.dest);
            let (backends, unreachable) = backends(item, path.port);
            contributions.push(Contribution {
                hosts: vec![host.host.clone()],
                path: path.path,
                backends,
                host_settings: host_settings.clone(),
                path_settings,
                unreachable,
            });
        }
    }
    Ok(Parsed {
        contributions,
        ignored: value.ignored,
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
        EXTERNAL_HTTP_PORT | EXTERNAL_HTTPS_PORT => parse_port(name, v).map(drop),
        SERVER_TOKENS => parse_server_tokens(v).map(drop),
        ENABLE_HTTP_ON_MISSING_CERT
        | LABEL_TRUST_DEFAULT_CERT
        | LABEL_HTTP2
        | LABEL_HTTP3
        | LABEL_DEBUG_ENDPOINT => parse_bool(name, v).map(drop),
        ACME_HTTP_CHALLENGE_LOCATION => parse_challenge_location(v).map(drop),
        CLIENT_MAX_BODY_SIZE => parse_size(name, v).map(drop),
        LABEL_NON_GET_REDIRECT => parse_redirect_status(name, v).map(drop),
        LABEL_SSL_VERIFY_CLIENT => parse_verify_client(name, v).map(drop),
        VIRTUAL_ROOT => parse_root(v).map(drop),
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
