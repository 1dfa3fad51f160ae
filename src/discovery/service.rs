//! What dockside knows about one Swarm service (our own type, no bollard) and the pure mapping
//! to `SourceItem`s: one item per running task, reached at the task's address on a network
//! shared with dockside, or one item for the service VIP when `dockside.backend=vip` asks.
//!
//! A service owns its tasks: on a manager the task containers that run on this node are not
//! routed again as plain containers (see [`is_task_container`]); what those containers say
//! (healthcheck, stop signal) still decides whether their task takes traffic ([`Local`]).

use std::collections::BTreeMap;

use super::container::{ContainerInfo, NetworkInfo, ProxyNetworks, to_source_item};
use crate::model::{Health, Reach, SourceItem};

/// Our service label choosing the backend: `tasks` (the default, each running task's own
/// address) or `vip` (the service's virtual IP, which the engine load-balances with IPVS).
pub const BACKEND_LABEL: &str = "dockside.backend";

/// The label Docker puts on every task container: such a container belongs to a service.
pub const TASK_SERVICE_LABEL: &str = "com.docker.swarm.service.id";

/// One Swarm service as discovery sees it, built from the service and task lists in `docker.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    /// Creation time, unix nanoseconds: the oldest source wins per-host conflicts.
    pub created: i64,
    /// The service spec's labels (`deploy.labels` in a stack file): they win over the task
    /// containers' environment and labels of the same name.
    pub labels: BTreeMap<String, String>,
    /// The task template's `ContainerSpec.Env`, for the item of a service reached through
    /// its VIP.
    pub env: BTreeMap<String, String>,
    /// The task template's `ContainerSpec.Labels` (`--container-label`).
    pub container_labels: BTreeMap<String, String>,
    /// `endpoint_mode: vip` (the default) rather than `dnsrr`.
    pub vip_mode: bool,
    /// The service's virtual IPs, one per network (name and address, prefix stripped).
    pub vips: Vec<NetworkInfo>,
    /// Tasks whose desired state is `running`, and those [`keep_draining`] keeps, sorted by
    /// name.
    pub tasks: Vec<TaskInfo>,
}

/// One task whose desired state is `running`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskInfo {
    pub id: String,
    /// `<service>.<slot>.<task id>` (or `<service>.<node id>.<task id>` for a global service):
    /// the name its container gets.
    pub name: String,
    /// Its actual state is `running` too: only then does it take requests. With a
    /// healthcheck the engine reports `starting` until the first healthy check.
    pub running: bool,
    /// The id of its container (`Status.ContainerStatus.ContainerID`), once it has one: the
    /// key to that container on this node, see [`Local`].
    pub container: Option<String>,
    /// Its own `ContainerSpec.Env` (during a rolling update old and new tasks may differ).
    pub env: BTreeMap<String, String>,
    pub container_labels: BTreeMap<String, String>,
    /// Its addresses, one per network, sorted by name.
    pub networks: Vec<NetworkInfo>,
}

impl ServiceInfo {
    /// Whether some task should run but does not yet: the watcher polls until it does, since a
    /// task starting on another node sends this engine no event.
    pub fn converging(&self) -> bool {
        self.tasks.iter().any(|t| !t.running)
    }

    fn wants_vip(&self) -> Option<Result<(), String>> {
        match self.labels.get(BACKEND_LABEL).map(String::as_str) {
            None | Some("tasks") => None,
            Some("vip") => Some(Ok(())),
            Some(other) => Some(Err(format!(
                "service {} has {BACKEND_LABEL}={other:?}: use `tasks` (the default) or `vip`",
                self.name
            ))),
        }
    }

    fn vars(
        &self,
        env: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut vars = env.clone();
        vars.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(self.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// The item standing for the whole service (its VIP, or a mistake in its labels).
    fn whole(&self, reach: Reach) -> SourceItem {
        SourceItem {
            name: self.name.clone(),
            created: self.created,
            vars: self.vars(&self.env, &self.container_labels),
            reach,
        }
    }
}

/// What this node's engine says about a task's container. A task on another node is
/// [`Local::Elsewhere`]: the manager cannot inspect it, and its `running` state already means
/// its first healthcheck passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    Elsewhere,
    /// Sent a stop signal (the agent stopping it: scale down, update, failed healthcheck):
    /// out of rotation before the manager has marked the task.
    Stopping,
    /// Running here, with its healthcheck state: the rule containers follow (`Health`).
    Running(Health),
}

/// Carries into `new` (a fresh read of the services) the tasks of `old` that were running and
/// are gone from `new` — the manager no longer wants them (a rolling update or a scale-down
/// replaces them) — while their container runs on this node and was sent no stop signal
/// (`runs_here`). Docker takes such a task out of its own load balancer, waits two seconds
/// for gossip, and only then stops it; the task serves until then. Dropped at once, a
/// stop-first update's next step would leave only its replacement, which may not listen yet
/// (requests failed so in about 1 of 7 runs of `tests/swarm_tasks.rs`). Kept, it leaves with
/// its stop signal like any container. A task on another node is not kept: no stop signal of
/// its would reach this engine.
pub fn keep_draining(
    old: &[ServiceInfo],
    new: &mut [ServiceInfo],
    runs_here: impl Fn(&str) -> bool,
) {
    for svc in new.iter_mut() {
        let Some(before) = old.iter().find(|o| o.id == svc.id) else {
            continue;
        };
        let kept: Vec<TaskInfo> = before
            .tasks
            .iter()
            .filter(|t| t.running && !svc.tasks.iter().any(|n| n.id == t.id))
            .filter(|t| t.container.as_deref().is_some_and(&runs_here))
            .cloned()
            .collect();
        if kept.is_empty() {
            continue;
        }
        for t in &kept {
            tracing::debug!(task = %t.name, "task replaced or scaled away: kept in rotation until its container is told to stop");
        }
        svc.tasks.extend(kept);
        svc.tasks.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Whether `svc` passes `DOCKER_CONTAINER_FILTERS` (`docker ps --filter` pairs), read the way
/// the engine reads them for containers: every `label` filter must match, and among the other
/// keys one value per key. A `label` (`key` or `key=value`) is looked for in the service's labels
/// and its task template's container labels (`deploy.labels` or `labels:` in a stack file);
/// `name` is a part of the service name, `id` a prefix of its id, `network` the name of a network
/// it is attached to. Keys about containers only (`status`, `health`, `ancestor`, …) say
/// nothing about a service: its task containers are filtered by them as containers.
pub fn passes_filters(svc: &ServiceInfo, filters: &[(String, String)]) -> bool {
    let label = |want: &str| {
        let (key, value) = match want.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (want, None),
        };
        [&svc.labels, &svc.container_labels].iter().any(|labels| {
            labels
                .get(key)
                .is_some_and(|v| value.is_none_or(|w| v == w))
        })
    };
    let on_network = |name: &str| {
        let mut nets = svc
            .vips
            .iter()
            .chain(svc.tasks.iter().flat_map(|t| &t.networks));
        nets.any(|n| n.name == name)
    };
    let matches = |key: &str, value: &str| match key {
        "name" => svc.name.contains(value),
        "id" => svc.id.starts_with(value),
        "network" => on_network(value),
        _ => true,
    };
    let labels_ok = filters
        .iter()
        .filter(|(k, _)| k == "label")
        .all(|(_, v)| label(v));
    let others_ok = ["name", "id", "network"].iter().all(|key| {
        let mut values = filters.iter().filter(|(k, _)| k == key).peekable();
        values.peek().is_none() || values.any(|(k, v)| matches(k, v))
    });
    labels_ok && others_ok
}

/// Whether a container is a Swarm task: the service routes it, not the container list.
pub fn is_task_container(info: &ContainerInfo) -> bool {
    info.labels.contains_key(TASK_SERVICE_LABEL)
}

/// Maps one service to what `settings::build` consumes: one item per running task (the same
/// network rule as a container's, §1.6.3), or one for its VIP. A service with no running task
/// gives no item, like a stopped container: its hosts answer 503 (no such site), not the 502
/// of a backend dockside cannot reach. `local` tells what this node knows of a task's
/// container (by container id): a stopping one gives no item, and its health carries over.
pub fn to_source_items(
    svc: &ServiceInfo,
    proxy: &ProxyNetworks,
    prefer_ipv6: bool,
    local: impl Fn(&str) -> Local,
) -> Vec<SourceItem> {
    let running: Vec<(&TaskInfo, Health)> = svc
        .tasks
        .iter()
        .filter(|t| t.running)
        .filter_map(
            |t| match t.container.as_deref().map_or(Local::Elsewhere, &local) {
                Local::Elsewhere => Some((t, Health::None)),
                Local::Stopping => None,
                Local::Running(health) => Some((t, health)),
            },
        )
        .collect();
    match svc.wants_vip() {
        Some(Err(why)) => vec![svc.whole(Reach::Unreachable(why))],
        Some(Ok(())) if !running.is_empty() => vec![vip_item(svc, proxy, prefer_ipv6)],
        Some(Ok(())) => Vec::new(),
        None => running
            .into_iter()
            .map(|(t, health)| task_item(svc, t, health, proxy, prefer_ipv6))
            .collect(),
    }
}

fn task_item(
    svc: &ServiceInfo,
    task: &TaskInfo,
    health: Health,
    proxy: &ProxyNetworks,
    prefer_ipv6: bool,
) -> SourceItem {
    let as_container = ContainerInfo {
        id: task.id.clone(),
        name: task.name.clone(),
        networks: task.networks.clone(),
        health,
        ..ContainerInfo::default()
    };
    let mut item = to_source_item(&as_container, proxy, prefer_ipv6);
    if let Reach::Unreachable(_) = item.reach {
        item.reach = Reach::Unreachable(no_shared_network(svc, &task.networks, proxy));
    }
    SourceItem {
        name: task.name.clone(),
        created: svc.created,
        vars: svc.vars(&task.env, &task.container_labels),
        reach: item.reach,
    }
}

fn vip_item(svc: &ServiceInfo, proxy: &ProxyNetworks, prefer_ipv6: bool) -> SourceItem {
    if !svc.vip_mode {
        return svc.whole(Reach::Unreachable(format!(
            "service {} has {BACKEND_LABEL}=vip but endpoint mode dnsrr, which gives it no \
             virtual IP: use `--endpoint-mode vip` or drop the label",
            svc.name
        )));
    }
    let as_container = ContainerInfo {
        name: svc.name.clone(),
        networks: svc.vips.clone(),
        ..ContainerInfo::default()
    };
    let mut item = to_source_item(&as_container, proxy, prefer_ipv6);
    if let Reach::Unreachable(_) = item.reach {
        item.reach = Reach::Unreachable(no_shared_network(svc, &svc.vips, proxy));
    }
    svc.whole(item.reach)
}

fn no_shared_network(svc: &ServiceInfo, nets: &[NetworkInfo], proxy: &ProxyNetworks) -> String {
    let theirs: Vec<&str> = nets
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| *n != "ingress")
        .collect();
    let theirs = if theirs.is_empty() {
        "nothing".to_owned()
    } else {
        theirs.join(", ")
    };
    let ours = match proxy {
        ProxyNetworks::Standalone => "dockside runs on the host".to_owned(),
        ProxyNetworks::Container { name, networks, .. } => {
            let v: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
            format!("dockside's container {name} is on: {}", v.join(", "))
        }
    };
    format!(
        "service {} shares no network with dockside ({ours}; the service is on: {theirs}) — \
         attach both to one overlay network (`docker service update --network-add <network> {}`)",
        svc.name, svc.name
    )
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
