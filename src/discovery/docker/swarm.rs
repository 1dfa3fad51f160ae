//! Swarm, seen from a manager: services, their running tasks and the networks' service
//! tables, converted to `ServiceInfo`s here, so bollard's Swarm types stay inside `docker`.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::errors::Error as BollardError;
use bollard::models::{EndpointSpecModeEnum, NetworkInspect, Service, Task, TaskState};
use bollard::query_parameters::{InspectNetworkOptions, ListTasksOptions};

use super::{Engine, bounded_raw, env_map, parse_created};
use crate::discovery::container::NetworkInfo;
use crate::discovery::endpoint::DockerError;
use crate::discovery::service::{ServiceInfo, TaskInfo};

impl Engine {
    /// The services and their tasks whose desired state is `running`, when the engine is a
    /// Swarm manager; `None` when it is not (a worker sees no services, only its containers).
    pub async fn services(&self) -> Result<Option<Vec<ServiceInfo>>, DockerError> {
        let info = self
            .call("read the engine info", self.docker.info())
            .await?;
        let manager = info.swarm.and_then(|s| s.control_available);
        if manager != Some(true) {
            return Ok(None);
        }
        let services = self
            .call("list swarm services", self.docker.list_services(None))
            .await?;
        let opts = ListTasksOptions {
            filters: Some(HashMap::from([(
                "desired-state".to_owned(),
                vec!["running".to_owned()],
            )])),
        };
        let tasks = self
            .call("list swarm tasks", self.docker.list_tasks(Some(opts)))
            .await?;
        // bollard's `Task` has no `NetworksAttachments`: a task's addresses come from the
        // verbose inspect of each network its service uses (the network's service table).
        let mut ids: Vec<String> = services.iter().flat_map(network_ids).collect();
        ids.sort();
        ids.dedup();
        let mut networks = Vec::new();
        for id in ids {
            let what = format!("inspect swarm network {id}");
            // No scope: the node's own (local) view of the network is the one that carries
            // the service table; the swarm-scope answer has none.
            let opts = InspectNetworkOptions {
                verbose: true,
                scope: None,
            };
            match bounded_raw(
                &self.endpoint,
                &what,
                self.docker.inspect_network(&id, Some(opts)),
            )
            .await?
            {
                Ok(net) => networks.push(net),
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(DockerError::api(&self.endpoint, &what, e)),
            }
        }
        Ok(Some(services_info(services, tasks, &networks)))
    }
}

/// Network ids a service's tasks and VIPs are on.
pub(super) fn network_ids(svc: &Service) -> Vec<String> {
    let spec = svc.spec.as_ref();
    let template = spec
        .and_then(|s| s.task_template.as_ref())
        .and_then(|t| t.networks.as_ref());
    let old = spec.and_then(|s| s.networks.as_ref());
    let vips = svc
        .endpoint
        .as_ref()
        .and_then(|e| e.virtual_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| v.network_id.clone());
    template
        .into_iter()
        .chain(old)
        .flatten()
        .filter_map(|n| n.target.clone())
        .chain(vips)
        .collect()
}

/// `10.0.1.5/24` → `10.0.1.5`.
fn strip_prefix_len(addr: &str) -> Option<IpAddr> {
    addr.split('/').next()?.parse().ok()
}

fn network_info(name: &str, ip: IpAddr) -> NetworkInfo {
    let (ip, ipv6) = match ip {
        IpAddr::V4(v4) => (Some(v4), None),
        IpAddr::V6(v6) => (None, Some(v6)),
    };
    NetworkInfo {
        name: name.to_owned(),
        ip,
        ipv6,
        ..NetworkInfo::default()
    }
}

/// bollard's services, tasks (desired state `running`) and verbose network inspects →
/// `ServiceInfo`s. A network's service table names each task `<service>.<slot>.<task id>`
/// with its address on that network.
pub(super) fn services_info(
    services: Vec<Service>,
    tasks: Vec<Task>,
    networks: &[NetworkInspect],
) -> Vec<ServiceInfo> {
    let net_name: HashMap<&str, &str> = networks
        .iter()
        .filter_map(|n| Some((n.id.as_deref()?, n.name.as_deref()?)))
        .collect();
    // Task id → (network name, address).
    let mut addrs: HashMap<String, Vec<NetworkInfo>> = HashMap::new();
    for net in networks {
        let Some(name) = net.name.as_deref() else {
            continue;
        };
        for value in net.services.iter().flat_map(|m| m.values()) {
            let Ok(entry) = serde_json::from_value::<bollard::models::ServiceInfo>(value.clone())
            else {
                continue;
            };
            for t in entry.tasks.unwrap_or_default() {
                let (Some(task_name), Some(ip)) = (t.name, t.endpoint_ip) else {
                    continue;
                };
                let Some(ip) = strip_prefix_len(&ip) else {
                    continue;
                };
                let id = task_name.rsplit('.').next().unwrap_or_default().to_owned();
                addrs.entry(id).or_default().push(network_info(name, ip));
            }
        }
    }
    let mut by_service: HashMap<String, Vec<TaskInfo>> = HashMap::new();
    for task in tasks {
        let (Some(id), Some(service_id)) = (task.id, task.service_id) else {
            continue;
        };
        let spec = task.spec.and_then(|s| s.container_spec).unwrap_or_default();
        let mut networks = addrs.remove(&id).unwrap_or_default();
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        let status = task.status.unwrap_or_default();
        let running = status.state == Some(TaskState::RUNNING);
        let container = status.container_status.and_then(|c| c.container_id);
        let slot = match task.slot {
            Some(slot) => slot.to_string(),
            None => task.node_id.unwrap_or_default(),
        };
        by_service.entry(service_id).or_default().push(TaskInfo {
            name: slot,
            id,
            running,
            container,
            env: env_map(spec.env),
            container_labels: spec.labels.unwrap_or_default().into_iter().collect(),
            networks,
        });
    }
    let mut out: Vec<ServiceInfo> = services
        .into_iter()
        .filter_map(|svc| {
            let id = svc.id?;
            let spec = svc.spec.unwrap_or_default();
            let name = spec.name.unwrap_or_else(|| id.clone());
            let container = spec
                .task_template
                .and_then(|t| t.container_spec)
                .unwrap_or_default();
            let endpoint = svc.endpoint.unwrap_or_default();
            let mode = endpoint
                .spec
                .and_then(|s| s.mode)
                .or(spec.endpoint_spec.and_then(|s| s.mode));
            let mut vips: Vec<NetworkInfo> = endpoint
                .virtual_ips
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| {
                    let net = net_name.get(v.network_id.as_deref()?)?;
                    Some(network_info(net, strip_prefix_len(v.addr.as_deref()?)?))
                })
                .collect();
            vips.sort_by(|a, b| a.name.cmp(&b.name));
            let mut tasks = by_service.remove(&id).unwrap_or_default();
            for t in &mut tasks {
                t.name = format!("{name}.{}.{}", t.name, t.id);
            }
            tasks.sort_by(|a, b| a.name.cmp(&b.name));
            Some(ServiceInfo {
                created: svc
                    .created_at
                    .as_deref()
                    .and_then(parse_created)
                    .unwrap_or(0),
                id,
                name,
                labels: spec.labels.unwrap_or_default().into_iter().collect(),
                env: env_map(container.env),
                container_labels: container.labels.unwrap_or_default().into_iter().collect(),
                vip_mode: mode != Some(EndpointSpecModeEnum::DNSRR),
                vips,
                tasks,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
