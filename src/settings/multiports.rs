//! `VIRTUAL_HOST_MULTIPORTS` (nginx-proxy §1.6.1): one container serving several hosts, paths
//! and ports, written as YAML (so JSON too) — host → `{external_http_port?, external_https_port?,
//! "/path": {port?, proto?, dest?}}`. Pure: text in, plain values out; `item` turns them into
//! contributions.
//!
//! The loader is yaml-rust2's, which refuses a mapping with a duplicate key: nginx-proxy counts
//! those as invalid too (its tests expect the warning), and silently keeping one of two ports
//! would route to the wrong one.

use yaml_rust2::{Yaml, YamlLoader};

/// The two keys of a host that are not paths.
pub const EXTERNAL_HTTP_PORT_KEY: &str = "external_http_port";
pub const EXTERNAL_HTTPS_PORT_KEY: &str = "external_https_port";

/// What a `VIRTUAL_HOST_MULTIPORTS` value declares, hosts in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multiports {
    pub hosts: Vec<MultiportsHost>,
    /// Keys nginx-proxy ignores (neither a path nor a known key), as `"key" under host/path`,
    /// so `dockside check` can point at a likely typo.
    pub ignored: Vec<String>,
}

/// One host of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiportsHost {
    pub host: String,
    pub external_http_port: Option<u16>,
    pub external_https_port: Option<u16>,
    /// Never empty: an empty host (or one with only the port keys) is `/` with the defaults.
    pub paths: Vec<MultiportsPath>,
}

/// One path of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiportsPath {
    pub path: String,
    /// `None` (absent or `default`): the container's default port (§1.6.2).
    pub port: Option<u16>,
    /// As written (validated by the caller like `VIRTUAL_PROTO`); `http` when absent.
    pub proto: String,
    /// `VIRTUAL_DEST`'s meaning; empty when absent.
    pub dest: String,
}

/// Why a `VIRTUAL_HOST_MULTIPORTS` value is unusable (the whole container is skipped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultiportsError {
    /// Not YAML (a duplicate key is one of these: the loader says "duplicated key").
    #[error("not valid YAML or JSON: {0}")]
    Syntax(String),
    #[error("declares no host")]
    Empty,
    #[error("must be a mapping of host names, not {0}")]
    NotAMapping(&'static str),
    #[error("host {host:?}: {what}")]
    Host { host: String, what: String },
}

/// Parses a `VIRTUAL_HOST_MULTIPORTS` value.
pub fn parse(value: &str) -> Result<Multiports, MultiportsError> {
    let docs =
        YamlLoader::load_from_str(value).map_err(|e| MultiportsError::Syntax(e.to_string()))?;
    let top = match docs.as_slice() {
        [] => return Err(MultiportsError::Empty),
        [one] => one,
        _ => return Err(MultiportsError::Syntax("several YAML documents".into())),
    };
    let map = match top {
        Yaml::Hash(map) => map,
        Yaml::Null => return Err(MultiportsError::Empty),
        other => return Err(MultiportsError::NotAMapping(kind(other))),
    };
    let mut out = Multiports::default();
    for (key, body) in map {
        let host = scalar(key).ok_or(MultiportsError::NotAMapping(
            "a mapping with a non-text key",
        ))?;
        let parsed =
            parse_host(&host, body, &mut out.ignored).map_err(|what| MultiportsError::Host {
                host: host.clone(),
                what,
            })?;
        out.hosts.push(parsed);
    }
    if out.hosts.is_empty() {
        return Err(MultiportsError::Empty);
    }
    Ok(out)
}

fn parse_host(
    host: &str,
    body: &Yaml,
    ignored: &mut Vec<String>,
) -> Result<MultiportsHost, String> {
    let mut parsed = MultiportsHost {
        host: host.to_owned(),
        external_http_port: None,
        external_https_port: None,
        paths: Vec::new(),
    };
    let map = match body {
        Yaml::Null => return Ok(with_root(parsed)),
        Yaml::Hash(map) => map,
        other => return Err(format!("expected a mapping of paths, not {}", kind(other))),
    };
    for (key, value) in map {
        let Some(key) = scalar(key) else {
            ignored.push(format!("a non-text key under {host}"));
            continue;
        };
        match key.as_str() {
            EXTERNAL_HTTP_PORT_KEY => {
                parsed.external_http_port = port(value).map_err(|e| format!("{key}: {e}"))?
            }
            EXTERNAL_HTTPS_PORT_KEY => {
                parsed.external_https_port = port(value).map_err(|e| format!("{key}: {e}"))?
            }
            path if path.starts_with('/') => {
                parsed.paths.push(parse_path(path, value, host, ignored)?)
            }
            other => ignored.push(format!("{other:?} under {host}")),
        }
    }
    Ok(with_root(parsed))
}

/// nginx-proxy's "an empty host value means `{"/": {}}`"; a host that names only its external
/// ports serves `/` the same way (dockside's rule: nginx-proxy would render a server with no
/// location).
fn with_root(mut host: MultiportsHost) -> MultiportsHost {
    if host.paths.is_empty() {
        host.paths.push(MultiportsPath {
            path: "/".to_owned(),
            port: None,
            proto: "http".to_owned(),
            dest: String::new(),
        });
    }
    host
}

fn parse_path(
    path: &str,
    body: &Yaml,
    host: &str,
    ignored: &mut Vec<String>,
) -> Result<MultiportsPath, String> {
    let mut parsed = MultiportsPath {
        path: path.to_owned(),
        port: None,
        proto: "http".to_owned(),
        dest: String::new(),
    };
    let map = match body {
        Yaml::Null => return Ok(parsed),
        Yaml::Hash(map) => map,
        other => {
            return Err(format!(
                "path {path}: expected a mapping of port, proto and dest, not {}",
                kind(other)
            ));
        }
    };
    for (key, value) in map {
        let key = scalar(key).unwrap_or_default();
        let text = || {
            scalar(value)
                .ok_or_else(|| format!("path {path}: {key} must be text, not {}", kind(value)))
        };
        match key.as_str() {
            "port" => parsed.port = port(value).map_err(|e| format!("path {path}: port: {e}"))?,
            "proto" => parsed.proto = text()?.trim().to_owned(),
            "dest" => parsed.dest = text()?.trim().to_owned(),
            other => ignored.push(format!("{other:?} under {host}{path}")),
        }
    }
    Ok(parsed)
}

/// A port: a number or its text, `default` (or nothing) for §1.6.2's rule.
fn port(value: &Yaml) -> Result<Option<u16>, String> {
    let text = match value {
        Yaml::Null => return Ok(None),
        other => {
            scalar(other).ok_or_else(|| format!("expected a port number, not {}", kind(other)))?
        }
    };
    match text.trim() {
        "default" => Ok(None),
        t => match t.parse::<u16>() {
            Ok(p) if p != 0 => Ok(Some(p)),
            _ => Err(format!("{t:?} is not a port: use a number from 1 to 65535")),
        },
    }
}

/// A scalar as text (YAML `8080` and `"8080"` mean the same port).
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Hash(_) => "a mapping",
        Yaml::Array(_) => "a list",
        Yaml::Null => "nothing",
        Yaml::Alias(_) | Yaml::BadValue => "an unusable value",
        _ => "a single value",
    }
}

#[cfg(test)]
#[path = "multiports_tests.rs"]
mod tests;
