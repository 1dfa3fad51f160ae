//! The only file (with its `swarm` part) that sees bollard types: connecting to the engine
//! (`DOCKER_HOST`, TLS, API version negotiation), listing, inspecting and the event stream —
//! each answer is converted to our own types (`ContainerInfo`, `EngineEvent`, `ServiceInfo`)
//! before it leaves this module.

mod swarm;

#[cfg(test)]
use swarm::{network_ids, services_info};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerInspectResponse, EventMessage, EventMessageTypeEnum, HealthStatusEnum,
};
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, RestartContainerOptions,
};
use futures_util::{Stream, StreamExt};

use super::container::{ContainerInfo, NetworkInfo, PortInfo};
use super::endpoint::{DockerError, DockerSettings, Endpoint};
use crate::model::Health;

/// Seconds bollard waits for a response head (its own timeout, below ours).
const CLIENT_TIMEOUT_SECS: u64 = 10;
/// Seconds a container gets to stop when restarted: the stop and the start must both fit in
/// bollard's response timeout (`CLIENT_TIMEOUT_SECS`).
const RESTART_STOP_SECS: i32 = 5;
/// Our bound on any one request/response, body included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Container and network events that can change what dockside routes (docker-gen's set plus
/// pause/unpause/rename/destroy, and `kill`: `docker stop` signals before the container exits,
/// which is when it leaves rotation). `health_status` matches `health_status: healthy` etc.
const EVENTS: &[&str] = &[
    "start",
    "kill",
    "die",
    "stop",
    "health_status",
    "pause",
    "unpause",
    "rename",
    "destroy",
    "connect",
    "disconnect",
];

/// Swarm service events (a manager only): a service created, updated (scaled, a rolling
/// update) or removed. Task containers on this node also send the container events above.
const SERVICE_EVENTS: &[&str] = &["create", "update", "remove"];

/// "Something changed" from the event stream, reduced to what the cache needs: which
/// container to re-inspect (network events name it in `actor.attributes["container"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineEvent {
    /// `None` when the event names no container: the whole list is re-inspected.
    pub container: Option<String>,
    /// What the event says about the container's place in rotation.
    pub turn: Turn,
    /// A Swarm service changed: the service list is read again.
    pub service: bool,
}

/// Whether an event takes a container out of rotation before the engine says it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// A stop signal was sent (`docker stop`, `docker kill`, a rolling update): the container
    /// may still answer for its grace period, but new requests go elsewhere from now on.
    Stopping,
    /// It (re)started: a container that was stopping is back in rotation.
    Started,
    /// Anything else: only its inspect result counts.
    Other,
}

/// Signals that end a container (`docker stop` sends the image's StopSignal, SIGTERM by default,
/// then SIGKILL); reload signals such as SIGHUP or SIGUSR1 keep it in rotation.
const STOP_SIGNALS: &[&str] = &[
    "15", "9", "2", "3", "SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT", "TERM", "KILL", "INT", "QUIT",
];

/// What `probe` found: enough to print which engine dockside is watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    pub endpoint: String,
    /// Engine version, e.g. `20.10.24` or `29.0.1`.
    pub version: String,
    /// API version dockside speaks with it after negotiation.
    pub api_version: String,
}

/// A connected, version-negotiated engine client.
pub(crate) struct Engine {
    docker: Docker,
    pub endpoint: Endpoint,
}

impl Engine {
    /// Connects per the settings and negotiates the API version (Engine 29 refuses < 1.44,
    /// Debian's 20.10 speaks only 1.41).
    pub async fn connect(settings: &DockerSettings) -> Result<Engine, DockerError> {
        let endpoint = settings.endpoint()?;
        let docker = match &endpoint {
            Endpoint::Unix(path) => {
                let path = path.to_string_lossy();
                Docker::connect_with_unix(&path, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            Endpoint::Tcp { addr, tls: None } => {
                Docker::connect_with_http(addr, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            Endpoint::Tcp {
                addr,
                tls: Some(dir),
            } => Docker::connect_with_ssl(
                addr,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                CLIENT_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            ),
        }
        .map_err(|e| DockerError::connect(&endpoint, e))?;
        // The first request: failing here means "no engine there" (or no permission).
        let docker = bounded_raw(
            &endpoint,
            "negotiate the API version",
            docker.negotiate_version(),
        )
        .await?
        .map_err(|e| DockerError::connect(&endpoint, e))?;
        Ok(Engine { docker, endpoint })
    }

    /// Engine version for startup logs and `dockside check`.
    pub async fn version(&self) -> Result<EngineVersion, DockerError> {
        let v = self
            .call("read the engine version", self.docker.version())
            .await?;
        Ok(EngineVersion {
            endpoint: self.endpoint.to_string(),
            version: v.version.unwrap_or_default(),
            api_version: self.docker.client_version().to_string(),
        })
    }

    /// The engine's clock (unix seconds), so `events --since` replays what happened while
    /// we listed, even if our clock and a remote engine's disagree.
    pub async fn now(&self) -> Result<i64, DockerError> {
        let info = self
            .call("read the engine clock", self.docker.info())
            .await?;
        let parsed = info.system_time.as_deref().and_then(parse_rfc3339);
        Ok(parsed.unwrap_or_else(unix_now))
    }

    /// Ids of the containers docker-gen would consider: `DOCKER_CONTAINER_FILTERS`, and only
    /// running ones unless the filters name a status.
    pub async fn list(&self, filters: &[(String, String)]) -> Result<Vec<String>, DockerError> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry(k.clone()).or_default().push(v.clone());
        }
        map.entry("status".to_owned())
            .or_insert_with(|| vec!["running".to_owned()]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&map)
            .build();
        let list = self
            .call("list containers", self.docker.list_containers(Some(opts)))
            .await?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// Inspects one container; `None` when it is gone (removed between list and inspect).
    pub async fn inspect(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError> {
        let what = format!("inspect container {id}");
        match bounded_raw(
            &self.endpoint,
            &what,
            self.docker.inspect_container(id, None),
        )
        .await?
        {
            Ok(resp) => Ok(Some(container_info(resp))),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(DockerError::api(&self.endpoint, &what, e)),
        }
    }

    /// `POST /containers/<name>/restart`, acme-companion's `ACME_RESTART_CONTAINER`.
    pub async fn restart(&self, name: &str) -> Result<(), DockerError> {
        let opts = RestartContainerOptions {
            t: Some(RESTART_STOP_SECS),
            signal: None,
        };
        let what = format!("restart container {name}");
        self.call(&what, self.docker.restart_container(name, Some(opts)))
            .await
    }

    /// Network name → `Internal`, which only the network list carries.
    pub async fn internal_networks(&self) -> Result<HashMap<String, bool>, DockerError> {
        let nets = self
            .call("list networks", self.docker.list_networks(None))
            .await?;
        Ok(nets
            .into_iter()
            .filter_map(|n| Some((n.name?, n.internal.unwrap_or(false))))
            .collect())
    }

    /// The event stream since `since` (engine seconds). Not filtered by label server-side:
    /// network events carry no container labels.
    pub fn events(
        &self,
        since: i64,
    ) -> impl Stream<Item = Result<EngineEvent, DockerError>> + use<> {
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([
            ("type", vec!["container", "network", "service"]),
            (
                "event",
                EVENTS.iter().chain(SERVICE_EVENTS).copied().collect(),
            ),
        ]);
        let opts = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .filters(&filters)
            .build();
        let endpoint = self.endpoint.clone();
        // The event filter is one list for all types: drop container `create`/`update`/`remove`,
        // which the service events brought in and which change nothing routed.
        self.docker.events(Some(opts)).filter_map(move |r| {
            let out = match r {
                Ok(msg) => engine_event(msg).map(Ok),
                Err(e) => Some(Err(DockerError::api(&endpoint, "read the event stream", e))),
            };
            std::future::ready(out)
        })
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T, DockerError> {
        bounded(&self.endpoint, what, fut).await
    }
}

async fn bounded<T>(
    endpoint: &Endpoint,
    what: &str,
    fut: impl Future<Output = Result<T, BollardError>>,
) -> Result<T, DockerError> {
    bounded_raw(endpoint, what, fut)
        .await?
        .map_err(|e| DockerError::api(endpoint, what, e))
}

async fn bounded_raw<T>(
    endpoint: &Endpoint,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, DockerError> {
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .map_err(|_| DockerError::Timeout {
            endpoint: endpoint.to_string(),
            what: what.to_owned(),
        })
}

fn engine_event(msg: EventMessage) -> Option<EngineEvent> {
    if msg.typ == Some(EventMessageTypeEnum::SERVICE) {
        return Some(EngineEvent {
            container: None,
            turn: Turn::Other,
            service: true,
        });
    }
    // `health_status: healthy` and the like: the engine's filter matches the verb alone.
    let action = msg.action.as_deref().unwrap_or_default();
    let verb = action.split(':').next().unwrap_or_default();
    if msg.typ == Some(EventMessageTypeEnum::CONTAINER) && !EVENTS.contains(&verb) {
        return None;
    }
    let network = msg.typ == Some(EventMessageTypeEnum::NETWORK);
    let actor = msg.actor.unwrap_or_default();
    let mut attributes = actor.attributes.unwrap_or_default();
    let turn = match msg.action.as_deref() {
        _ if network => Turn::Other,
        Some("kill")
            if attributes
                .get("signal")
                .is_some_and(|s| STOP_SIGNALS.contains(&s.as_str())) =>
        {
            Turn::Stopping
        }
        Some("start") => Turn::Started,
        _ => Turn::Other,
    };
    let container = if network {
        attributes.remove("container")
    } else {
        actor.id
    };
    Some(EngineEvent {
        container,
        turn,
        service: false,
    })
}

/// `KEY=value` lines → a map (`KEY` without `=` maps to an empty value).
fn env_map(env: Option<Vec<String>>) -> BTreeMap<String, String> {
    env.unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv, String::new()),
        })
        .collect()
}

/// Parses `docker inspect` JSON (one object, or the CLI's one-element array) into our type.
/// For the recorded fixtures of the unit tests; the watcher converts bollard values directly.
#[cfg(test)]
pub(crate) fn container_info_from_json(json: &str) -> Result<ContainerInfo, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    let value = match value {
        serde_json::Value::Array(mut v) if !v.is_empty() => v.swap_remove(0),
        other => other,
    };
    Ok(container_info(serde_json::from_value(value)?))
}

/// bollard's inspect answer → `ContainerInfo` (docker-gen's view of a container).
fn container_info(resp: ContainerInspectResponse) -> ContainerInfo {
    let config = resp.config.unwrap_or_default();
    let settings = resp.network_settings.unwrap_or_default();
    let env = env_map(config.env);
    let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
    let mut networks: Vec<NetworkInfo> = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| NetworkInfo {
            name,
            ip: ep.ip_address.as_deref().and_then(|s| s.parse().ok()),
            ipv6: ep
                .global_ipv6_address
                .as_deref()
                .and_then(|s| s.parse().ok()),
            gateway: ep.gateway.as_deref().and_then(|s| s.parse::<IpAddr>().ok()),
            internal: false,
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports: Vec<PortInfo> = match settings.ports {
        Some(map) if !map.is_empty() => map
            .into_iter()
            .filter_map(|(key, bindings)| {
                let host_port = bindings
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|b| b.host_port.and_then(|p| p.parse().ok()));
                port_info(&key, host_port)
            })
            .collect(),
        _ => config
            .exposed_ports
            .unwrap_or_default()
            .iter()
            .filter_map(|key| port_info(key, None))
            .collect(),
    };
    ports.sort();
    let health = match resp.state.and_then(|s| s.health).and_then(|h| h.status) {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        _ => Health::None,
    };
    ContainerInfo {
        id: resp.id.unwrap_or_default(),
        name: resp
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        created: resp.created.as_deref().and_then(parse_created).unwrap_or(0),
        env,
        labels,
        health,
        networks,
        network_mode: resp
            .host_config
            .and_then(|h| h.network_mode)
            .unwrap_or_default(),
        ports,
    }
}

/// `80/tcp` → port 80, proto tcp (sctp is not proxied and does not count).
fn port_info(key: &str, host_port: Option<u16>) -> Option<PortInfo> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    Some(PortInfo {
        port: port.parse().ok()?,
        proto: proto.to_owned(),
        host_port,
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `Created` in unix nanoseconds: containers of one `docker compose up` are created within the
/// same second, and "the oldest wins" must still mean the oldest, not the first by name.
fn parse_created(s: &str) -> Option<i64> {
    let secs = parse_rfc3339(s)?;
    let frac: String = s
        .get(19..)?
        .strip_prefix('.')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    let nanos = format!("{frac:0<9}").parse::<i64>().ok()?;
    Some(secs * 1_000_000_000 + nanos)
}

/// RFC 3339 (`2026-11-25T10:10:44.123456789Z`, or with `+hh:mm`) → unix seconds (floor).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let tz = s
        .get(19..)?
        .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match tz {
        "Z" | "z" => 0,
        _ => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let hh = tz.get(1..3)?.parse::<i64>().ok()?;
            let mm = tz.get(4..6)?.parse::<i64>().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
#[path = "docker_tests.rs"]
mod tests;
