//! Docker discovery settings as the user gives them (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`,
//! `DOCKER_CERT_PATH`, `DOCKER_CONTAINER_FILTERS`, `NGINX_CONTAINER_LABEL`,
//! `PREFER_IPV6_NETWORK`), the endpoint they resolve to, and the errors that name it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::own::NGINX_CONTAINER_LABEL_DEFAULT;
use crate::settings::parse_bool;

/// Sockets tried when `DOCKER_HOST` is unset: Docker's default, then nginx-proxy's image path.
pub const DEFAULT_SOCKETS: &[&str] = &["/var/run/docker.sock", "/tmp/docker.sock"];

/// Everything the Docker provider needs; `from_vars` reads nginx-proxy's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSettings {
    /// `DOCKER_HOST`: `unix:///path`, `tcp://host:port`; `None` tries [`DEFAULT_SOCKETS`].
    pub host: Option<String>,
    /// `DOCKER_TLS_VERIFY` with `DOCKER_CERT_PATH` (holding ca.pem, cert.pem, key.pem).
    pub tls_cert_path: Option<PathBuf>,
    /// `DOCKER_CONTAINER_FILTERS`: `key=value` pairs as in `docker ps --filter`.
    pub container_filters: Vec<(String, String)>,
    /// `NGINX_CONTAINER_LABEL`: the label marking a separate network container.
    pub nginx_container_label: String,
    /// `PREFER_IPV6_NETWORK`: use a dual-stack backend's IPv6 address.
    pub prefer_ipv6: bool,
    /// `HOSTNAME`: Docker sets it to the container's short id, one way to find our own
    /// container (and so the networks backends are reached on).
    pub hostname: Option<String>,
    /// Quiet time after an event before rebuilding (coalesces `docker compose up` bursts).
    pub debounce: Duration,
    /// Longest a rebuild waits while events keep coming.
    pub debounce_max: Duration,
    /// After this long without events the stream is renewed and everything re-listed, so a
    /// silently dead (half-open TCP) connection cannot hide changes for longer.
    pub resubscribe_after: Duration,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            host: None,
            tls_cert_path: None,
            container_filters: Vec::new(),
            nginx_container_label: NGINX_CONTAINER_LABEL_DEFAULT.to_owned(),
            prefer_ipv6: false,
            hostname: None,
            debounce: Duration::from_millis(3),
            debounce_max: Duration::from_millis(50),
            resubscribe_after: Duration::from_secs(60),
        }
    }
}

impl DockerSettings {
    /// Reads nginx-proxy's / docker-gen's names through `get` (the environment, looked up
    /// once while building `Config`); `host` (`--docker-host`) wins over `DOCKER_HOST`.
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
        host: Option<String>,
    ) -> Result<DockerSettings, DockerError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let flag = |k: &str| -> Result<bool, DockerError> {
            match var(k) {
                None => Ok(false),
                Some(v) => parse_bool(k, &v).map_err(|_| DockerError::BadSetting {
                    name: k.to_owned(),
                    value: v,
                }),
            }
        };
        // The Docker CLI and docker-gen enable TLS for any non-empty DOCKER_TLS_VERIFY; we
        // also honour an explicit false spelling (`0`, `false`) as off.
        let tls = var("DOCKER_TLS_VERIFY").is_some_and(|v| parse_bool("", &v) != Ok(false));
        let cert_dir = var("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|h| Path::new(&h).join(".docker")));
        Ok(DockerSettings {
            host: host.or_else(|| var("DOCKER_HOST")),
            tls_cert_path: if tls { cert_dir } else { None },
            container_filters: parse_filters(&var("DOCKER_CONTAINER_FILTERS").unwrap_or_default())?,
            nginx_container_label: var("NGINX_CONTAINER_LABEL")
                .unwrap_or_else(|| NGINX_CONTAINER_LABEL_DEFAULT.to_owned()),
            prefer_ipv6: flag("PREFER_IPV6_NETWORK")?,
            hostname: var("HOSTNAME"),
            ..DockerSettings::default()
        })
    }

    /// Settings for one explicit endpoint (tests, `--docker-host`).
    pub fn with_host(host: impl Into<String>) -> DockerSettings {
        DockerSettings {
            host: Some(host.into()),
            ..DockerSettings::default()
        }
    }

    /// Where to connect: `DOCKER_HOST`, else the first default socket that exists.
    pub fn endpoint(&self) -> Result<Endpoint, DockerError> {
        let Some(host) = self.host.as_deref() else {
            return DEFAULT_SOCKETS
                .iter()
                .map(Path::new)
                .find(|p| p.exists())
                .map(|p| Endpoint::Unix(p.to_path_buf()))
                .ok_or_else(|| DockerError::NoSocket {
                    tried: DEFAULT_SOCKETS.join(", "),
                });
        };
        if let Some(path) = host.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(DockerError::NoSocket {
                    tried: path.to_owned(),
                });
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = host.strip_prefix("tcp://") {
            return Ok(Endpoint::Tcp {
                addr: addr.trim_end_matches('/').to_owned(),
                tls: self.tls_cert_path.clone(),
            });
        }
        Err(DockerError::BadSetting {
            name: "DOCKER_HOST".to_owned(),
            value: host.to_owned(),
        })
    }
}

/// `DOCKER_CONTAINER_FILTERS`: `network=front,label=a=b` → `[(network, front), (label, a=b)]`.
pub fn parse_filters(s: &str) -> Result<Vec<(String, String)>, DockerError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(DockerError::BadSetting {
                name: "DOCKER_CONTAINER_FILTERS".to_owned(),
                value: s.to_owned(),
            }),
        })
        .collect()
}

/// A resolved Docker endpoint, printed in every log line and error about the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path (`unix://` prefix removed).
    Unix(PathBuf),
    /// `tls` is the certificate directory when `DOCKER_TLS_VERIFY` is set.
    Tcp { addr: String, tls: Option<PathBuf> },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { addr, tls: None } => write!(f, "tcp://{addr}"),
            Endpoint::Tcp { addr, tls: Some(_) } => write!(f, "tcp://{addr} (TLS)"),
        }
    }
}

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why talking to the engine failed, naming the endpoint and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no Docker socket at {tried}: is the Docker socket mounted? \
         -v /var/run/docker.sock:/var/run/docker.sock:ro (or set DOCKER_HOST)"
    )]
    NoSocket { tried: String },
    #[error(
        "{name}={value:?} is not valid (DOCKER_HOST: unix:///path or tcp://host:port; \
             DOCKER_CONTAINER_FILTERS: key=value,key=value; flags: true or false)"
    )]
    BadSetting { name: String, value: String },
    #[error(
        "cannot connect to the Docker engine at {endpoint}: is it running, and may dockside \
             use its socket? (-v /var/run/docker.sock:/var/run/docker.sock:ro)"
    )]
    Connect {
        endpoint: String,
        #[source]
        source: Source,
    },
    #[error("Docker engine at {endpoint}: cannot {what}")]
    Api {
        endpoint: String,
        what: String,
        #[source]
        source: Source,
    },
    #[error("Docker engine at {endpoint} did not answer in time to {what}")]
    Timeout { endpoint: String, what: String },
    #[error("Docker engine at {endpoint} closed the event stream")]
    StreamEnded { endpoint: String },
}

impl DockerError {
    pub(crate) fn connect(endpoint: &Endpoint, source: impl Into<Source>) -> DockerError {
        DockerError::Connect {
            endpoint: endpoint.to_string(),
            source: source.into(),
        }
    }

    pub(crate) fn api(endpoint: &Endpoint, what: &str, source: impl Into<Source>) -> DockerError {
        DockerError::Api {
            endpoint: endpoint.to_string(),
            what: what.to_owned(),
            source: source.into(),
        }
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
