//! One container or routes-file entry → what it contributes: its hosts, one location, its
//! backend, and its raw per-host / per-path settings (validated, merged later).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::names::*;
use super::value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_keepalive, parse_port,
    parse_proto, parse_redirect_status, parse_size,
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
    for &name in PATH_SETTINGS {
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
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::test_support::{container_at, source_item};

    fn container(vars: &[(&str, &str)], exposed: &[u16]) -> SourceItem {
        SourceItem {
            reach: container_at(5, exposed),
            ..source_item("web1", vars)
        }
    }

    fn port_of(c: &Contribution) -> u16 {
        match &c.backends[0].addr {
            BackendAddr::Tcp(a) => a.port(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn virtual_host_lists_tolerate_stray_spaces() {
        for (value, want) in [
            ("a.tld", vec!["a.tld"]),
            ("a.tld ,", vec!["a.tld"]),
            (" ,a.tld", vec!["a.tld"]),
            ("a.tld, , b.tld", vec!["a.tld", "b.tld"]),
            ("*.a.tld,a.*,~^x\\.y$", vec!["*.a.tld", "a.*", "~^x\\.y$"]),
        ] {
            assert_eq!(split_hosts(value), want, "{value:?}");
        }
        assert_eq!(
            parse(&container(&[("VIRTUAL_HOST", " , ")], &[])),
            Err(Rejection::NotRouted)
        );
        assert_eq!(parse(&container(&[], &[])), Err(Rejection::NotRouted));
    }

    #[test]
    fn port_selection_follows_nginx_proxy() {
        let c = |vars: &[(&str, &str)], exposed: &[u16]| {
            port_of(&parse(&container(vars, exposed)).unwrap())
        };
        assert_eq!(
            c(&[("VIRTUAL_HOST", "a"), ("VIRTUAL_PORT", "90")], &[81]),
            90
        );
        assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[8000]), 8000);
        assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[8000, 9000]), 80);
        assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[]), 80);
    }

    #[test]
    fn bad_values_name_setting_and_value() {
        let cases: &[(&str, &str, &str)] = &[
            ("VIRTUAL_PORT", "eighty", "VIRTUAL_PORT=\"eighty\""),
            ("VIRTUAL_PROTO", "fastcgi", "VIRTUAL_PROTO=\"fastcgi\""),
            ("HTTPS_METHOD", "always", "HTTPS_METHOD=\"always\""),
            ("VIRTUAL_PATH", "~ ^/(", "VIRTUAL_PATH"),
            ("VIRTUAL_HOST", "~^(", "VIRTUAL_HOST"),
            (
                "CLIENT_MAX_BODY_SIZE",
                "big",
                "CLIENT_MAX_BODY_SIZE=\"big\"",
            ),
            (
                "com.github.nginx-proxy.nginx-proxy.keepalive",
                "often",
                "keepalive=\"often\"",
            ),
            (
                "com.github.nginx-proxy.nginx-proxy.http2.enable",
                "yes",
                "http2.enable=\"yes\"",
            ),
            ("VIRTUAL_HOST_MULTIPORTS", "{}", "VIRTUAL_HOST_MULTIPORTS"),
        ];
        for (name, value, needle) in cases {
            let mut vars = vec![("VIRTUAL_HOST", "a.tld")];
            if *name == "VIRTUAL_HOST" {
                vars.clear();
            }
            vars.push((name, value));
            match parse(&container(&vars, &[])) {
                Err(Rejection::Invalid(msg)) => {
                    assert!(msg.contains(needle), "{msg} lacks {needle}")
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn settings_are_kept_raw_for_merging() {
        let c = parse(&container(
            &[
                ("VIRTUAL_HOST", "a"),
                ("HTTPS_METHOD", "nohttp"),
                ("VIRTUAL_PROTO", "uwsgi"),
                ("VIRTUAL_PATH", "/api/"),
            ],
            &[9009],
        ))
        .unwrap();
        assert_eq!(
            c.host_settings.get(HTTPS_METHOD).map(String::as_str),
            Some("nohttp")
        );
        assert_eq!(
            c.path_settings.get(VIRTUAL_PROTO).map(String::as_str),
            Some("uwsgi")
        );
        assert_eq!((c.path.as_str(), port_of(&c)), ("/api/", 9009));
    }

    #[test]
    fn unreachable_container_keeps_its_reason() {
        let mut item = container(&[("VIRTUAL_HOST", "a")], &[]);
        item.reach = Reach::Unreachable("shares no network with dockside".into());
        let c = parse(&item).unwrap();
        assert!(c.backends.is_empty());
        assert_eq!(
            c.unreachable.as_deref(),
            Some("shares no network with dockside")
        );
    }
}
