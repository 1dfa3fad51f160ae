//! The Docker provider's loop, level-triggered (Traefik's `pdocker.go` shape): connect →
//! subscribe → list → publish, then every event only marks something dirty; after a few
//! quiet milliseconds we re-list (cheap), re-inspect only what changed, rebuild the whole
//! `Vec<SourceItem>` and publish it if it differs. A lost engine keeps the last items and
//! the whole cycle is retried with capped, jittered backoff.

use crate::error_chain::chain;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::container::{ContainerInfo, ProxyNetworks, to_source_item};
use super::docker::{Engine, EngineEvent, EngineVersion, Turn};
use super::endpoint::{DockerError, DockerSettings};
use super::own::{own_container_candidates, select_proxy};
use super::service::{
    Local, ServiceInfo, is_task_container, keep_draining, passes_filters, to_source_items,
};
use super::status::ProviderStatus;
use crate::model::SourceItem;
use std::sync::Arc;

/// Concurrent inspects while (re)filling the cache: bounded, so 200 containers at startup
/// neither serialize nor flood the engine.
const INSPECT_CONCURRENCY: usize = 8;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often the services are read again while a task should run but does not yet (a task
/// starting on another node sends this engine no event, and a local task's `start` event
/// comes before the manager marks it `running`): from every 25 ms, doubling to 5 s, so a
/// task that never starts (no node fits its constraints) costs a few lists, not 40 a second.
/// From 250 ms the first 200 lagged the engine's `running` by up to 250 ms
/// (docs/benchmarks.md, "Swarm").
const CONVERGE_POLL: Duration = Duration::from_millis(25);
const CONVERGE_POLL_MAX: Duration = Duration::from_secs(5);

/// Starts the Docker provider: publishes the container list on `tx` whenever it changes,
/// until `token` is cancelled. Engine outages are logged and retried, never fatal.
pub fn spawn(
    settings: DockerSettings,
    tx: watch::Sender<Vec<SourceItem>>,
    token: CancellationToken,
) -> JoinHandle<()> {
    spawn_observed(settings, tx, token, Arc::default())
}

/// [`spawn`], reporting the connection, events and syncs to `status` (the admin dashboard).
pub fn spawn_observed(
    settings: DockerSettings,
    tx: watch::Sender<Vec<SourceItem>>,
    token: CancellationToken,
    status: Arc<ProviderStatus>,
) -> JoinHandle<()> {
    status.docker_watching(&describe(&settings));
    tokio::spawn(run(settings, tx, token, status))
}

/// The endpoint as the user would name it: `DOCKER_HOST`, or the default socket.
pub(crate) fn describe(settings: &DockerSettings) -> String {
    settings
        .host
        .clone()
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// Connects once and reports the engine: for "zero configuration" startup (Docker or the
/// routes file?) and for printing which engine dockside watches.
pub async fn probe(settings: &DockerSettings) -> Result<EngineVersion, DockerError> {
    Engine::connect(settings).await?.version().await
}

/// One full list + inspect, for `dockside check`: what the provider would publish now.
pub async fn snapshot(settings: &DockerSettings) -> Result<Vec<SourceItem>, DockerError> {
    let engine = Engine::connect(settings).await?;
    let mut cache = Cache::new(find_own(&engine, settings).await);
    cache
        .refresh(&engine, settings, &Dirty::full(), false)
        .await?;
    Ok(cache.items(settings))
}

async fn run(
    settings: DockerSettings,
    tx: watch::Sender<Vec<SourceItem>>,
    token: CancellationToken,
    status: Arc<ProviderStatus>,
) {
    let mut delay = BACKOFF_MIN;
    loop {
        let mut listed = false;
        // Cancellation also interrupts a connect or a refresh in flight.
        let result = tokio::select! {
            () = token.cancelled() => return,
            r = session(&settings, &tx, &token, &mut listed, &status) => r,
        };
        let err = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        status.docker_connected(false, Some(chain(&err)));
        if listed {
            delay = BACKOFF_MIN;
        }
        let wait = jitter(delay);
        tracing::warn!(
            error = %chain(&err),
            retry_in_ms = wait.as_millis() as u64,
            "Docker engine unavailable; keeping the last {} containers' routes",
            tx.borrow().len()
        );
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// ±25 % so many proxies restarted with one engine do not reconnect in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.75 + fastrand::f64() * 0.5)
}

/// One connect → subscribe → list → watch cycle. `Ok` only when cancelled.
async fn session(
    settings: &DockerSettings,
    tx: &watch::Sender<Vec<SourceItem>>,
    token: &CancellationToken,
    listed: &mut bool,
    status: &ProviderStatus,
) -> Result<(), DockerError> {
    let engine = Engine::connect(settings).await?;
    // Subscribe before listing: `since` replays anything that happens while we list.
    let since = engine.now().await?;
    let mut events = Box::pin(engine.events(since));
    let mut cache = Cache::new(find_own(&engine, settings).await);
    cache
        .refresh(&engine, settings, &Dirty::full(), false)
        .await?;
    publish(tx, cache.items(settings));
    status.docker_connected(true, None);
    status.docker_synced(cache.containers.len());
    *listed = true;
    tracing::info!(endpoint = %engine.endpoint, "Watching docker events");
    let mut converge = CONVERGE_POLL;
    loop {
        let first = tokio::select! {
            () = token.cancelled() => return Ok(()),
            ev = events.next() => ev,
            // A quiet stream may be a dead (half-open TCP) connection: resubscribe, with
            // `since` covering the switch, and re-list everything.
            () = tokio::time::sleep(settings.resubscribe_after) => {
                let since = engine.now().await?;
                events = Box::pin(engine.events(since));
                cache.refresh(&engine, settings, &Dirty::services(), false).await?;
                publish(tx, cache.items(settings));
                status.docker_synced(cache.containers.len());
                continue;
            }
            () = tokio::time::sleep(converge), if cache.converging() => {
                cache.refresh(&engine, settings, &Dirty::services(), false).await?;
                publish(tx, cache.items(settings));
                converge = (converge * 2).min(CONVERGE_POLL_MAX);
                continue;
            }
        };
        converge = CONVERGE_POLL;
        let mut dirty = Dirty::default();
        dirty.add(end_or(first, &engine)?);
        let mut events_seen = 1;
        tracing::trace!("event received");
        let deadline = Instant::now() + settings.debounce_max;
        loop {
            let quiet = Instant::now() + settings.debounce;
            tokio::select! {
                () = token.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(quiet.min(deadline)) => break,
                ev = events.next() => {
                    dirty.add(end_or(ev, &engine)?);
                    events_seen += 1;
                }
            }
        }
        status.docker_events(events_seen);
        // Fast path: re-list only what the events named (`id=` filters keep the engine from
        // walking all containers), publish; then the full re-list as the level-triggered
        // safety net, published only if it differs.
        let began = Instant::now();
        cache.turn(&dirty);
        let scoped = cache.refresh(&engine, settings, &dirty, true).await?;
        publish(tx, cache.items(settings));
        tracing::debug!(
            containers = dirty.ids.len(),
            refresh_us = began.elapsed().as_micros() as u64,
            "re-inspected what events named"
        );
        if scoped {
            cache
                .refresh(&engine, settings, &Dirty::default(), false)
                .await?;
            publish(tx, cache.items(settings));
        }
        status.docker_synced(cache.containers.len());
    }
}

fn end_or(
    ev: Option<Result<EngineEvent, DockerError>>,
    engine: &Engine,
) -> Result<EngineEvent, DockerError> {
    ev.unwrap_or_else(|| {
        Err(DockerError::StreamEnded {
            endpoint: engine.endpoint.to_string(),
        })
    })
}

fn publish(tx: &watch::Sender<Vec<SourceItem>>, items: Vec<SourceItem>) {
    tx.send_if_modified(|current| {
        if *current == items {
            return false;
        }
        tracing::debug!(containers = items.len(), "Docker containers changed");
        *current = items;
        true
    });
}

/// Inspects `ids` with bounded concurrency; containers gone meanwhile are left out.
async fn inspect_many(
    engine: &Engine,
    ids: Vec<String>,
) -> Result<Vec<ContainerInfo>, DockerError> {
    let found: Vec<Option<ContainerInfo>> = futures_util::stream::iter(ids)
        .map(move |id| async move { engine.inspect(&id).await })
        .buffer_unordered(INSPECT_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Our own container id, confirmed by inspect; `None` when dockside runs on the host.
async fn find_own(engine: &Engine, settings: &DockerSettings) -> Option<String> {
    for id in own_container_candidates(settings.hostname.as_deref()) {
        if let Ok(Some(info)) = engine.inspect(&id).await {
            tracing::info!(container = %info.name, "dockside runs in container");
            return Some(info.id);
        }
    }
    None
}

/// What a batch of events touched.
#[derive(Debug, Default)]
struct Dirty {
    all: bool,
    ids: HashSet<String>,
    /// Containers signalled to stop, and (re)started, by the batch's last word on each.
    stopping: HashSet<String>,
    started: HashSet<String>,
    /// A Swarm service changed: read the services again.
    services: bool,
}

impl Dirty {
    fn full() -> Dirty {
        Dirty {
            all: true,
            ..Dirty::default()
        }
    }

    fn services() -> Dirty {
        Dirty {
            services: true,
            ..Dirty::default()
        }
    }

    fn add(&mut self, ev: EngineEvent) {
        if ev.service {
            self.services = true;
            return;
        }
        let Some(id) = ev.container else {
            self.all = true;
            return;
        };
        match ev.turn {
            Turn::Stopping => {
                self.started.remove(&id);
                self.stopping.insert(id.clone());
            }
            Turn::Started => {
                self.stopping.remove(&id);
                self.started.insert(id.clone());
            }
            Turn::Other => {}
        }
        self.ids.insert(id);
    }

    fn touches(&self, id: &str) -> bool {
        self.all || self.ids.contains(id)
    }
}

/// Inspect results by container id, so an event costs one list plus the inspects it names.
struct Cache {
    own_id: Option<String>,
    own: Option<ContainerInfo>,
    containers: HashMap<String, ContainerInfo>,
    internal: HashMap<String, bool>,
    /// Containers sent a stop signal that still run (their grace period): out of rotation, so
    /// no new request meets one as it exits. Forgotten once a re-list no longer shows them.
    stopping: HashSet<String>,
    /// Swarm services when the engine is a manager; `None` on a worker or outside a swarm.
    services: Option<Vec<ServiceInfo>>,
}

impl Cache {
    fn new(own_id: Option<String>) -> Cache {
        Cache {
            own_id,
            own: None,
            containers: HashMap::new(),
            internal: HashMap::new(),
            stopping: HashSet::new(),
            services: None,
        }
    }

    fn converging(&self) -> bool {
        self.services.iter().flatten().any(ServiceInfo::converging)
    }

    /// Applies the batch's stop signals and starts to the rotation.
    fn turn(&mut self, dirty: &Dirty) {
        for id in &dirty.started {
            self.stopping.remove(id);
        }
        for id in &dirty.stopping {
            if let Some(c) = self.containers.get(id) {
                tracing::info!(container = %c.name, "container is stopping: out of rotation");
            }
            self.stopping.insert(id.clone());
        }
    }

    /// Re-lists and re-inspects what `dirty` names plus anything listed but not cached. `scoped` lists only the
    /// named containers (when it can: some events name none); returns whether it did.
    async fn refresh(
        &mut self,
        engine: &Engine,
        settings: &DockerSettings,
        dirty: &Dirty,
        scoped: bool,
    ) -> Result<bool, DockerError> {
        let user_ids = settings.container_filters.iter().any(|(k, _)| k == "id");
        let scoped = scoped && !dirty.all && !user_ids;
        // A task container told to stop is a rolling update's next step: the manager marked the
        // task replacing it running before it did so. Published without the services read
        // again, that replacement could still look pending while this one leaves: no backend
        // at all for the length of the full refresh (stop-first updates lost requests so).
        let task_stopping = self.services.is_some()
            && dirty.stopping.iter().any(|id| {
                self.containers
                    .get(id)
                    .is_some_and(super::service::is_task_container)
            });
        let named: Vec<String> = match dirty.all {
            true => Vec::new(),
            false => dirty.ids.iter().cloned().collect(),
        };
        let mut filters = settings.container_filters.clone();
        if scoped {
            filters.extend(named.iter().map(|id| ("id".to_owned(), id.clone())));
        }
        let (ids, named) = if scoped {
            // Inspect first: it waits for a container that is still starting (an early
            // `connect` event), so the cheap scoped list after it already sees it running.
            let named = inspect_many(engine, named).await?;
            (engine.list(&filters).await?, named)
        } else {
            let (ids, named) = tokio::join!(engine.list(&filters), inspect_many(engine, named));
            (ids?, named?)
        };
        let listed: HashSet<&String> = ids.iter().collect();
        if scoped {
            self.containers.retain(|id, _| !dirty.touches(id));
        } else {
            self.containers
                .retain(|id, _| listed.contains(id) && !dirty.touches(id));
        }
        if let Some(own) = named.iter().find(|c| Some(&c.id) == self.own_id.as_ref()) {
            self.own = Some(own.clone());
        }
        let mut fresh: Vec<ContainerInfo> = named
            .into_iter()
            .filter(|c| listed.contains(&c.id))
            .collect();
        let wanted: Vec<String> = ids
            .iter()
            .filter(|id| !self.containers.contains_key(*id) && !fresh.iter().any(|c| &c.id == *id))
            .cloned()
            .collect();
        fresh.extend(inspect_many(engine, wanted).await?);
        if let Some(own_id) = self.own_id.clone()
            && (self.own.is_none() || dirty.all)
        {
            self.own = engine.inspect(&own_id).await?;
        }
        // A network's `Internal` never changes after creation: list networks only when a
        // name is new (and on every full refresh, in case one was recreated).
        let unknown_net = fresh.iter().chain(&self.own).any(|c| {
            c.networks
                .iter()
                .any(|n| !self.internal.contains_key(&n.name))
        });
        if dirty.all || unknown_net {
            self.internal = engine.internal_networks().await?;
        }
        for info in fresh {
            self.containers.insert(info.id.clone(), info);
        }
        let containers = &self.containers;
        self.stopping.retain(|id| containers.contains_key(id));
        // Services are read on a full refresh (whether the engine is a manager may change),
        // on a service event, and on any unscoped refresh of a manager: a task container
        // starting or stopping on this node also changes its service's tasks.
        if dirty.all || dirty.services || task_stopping || (!scoped && self.services.is_some()) {
            let mut read = engine.services().await?;
            if let (Some(old), Some(new)) = (&self.services, &mut read) {
                let (containers, stopping) = (&self.containers, &self.stopping);
                keep_draining(old, new, |id| {
                    containers.contains_key(id) && !stopping.contains(id)
                });
            }
            self.services = read;
        }
        Ok(scoped)
    }

    fn items(&self, settings: &DockerSettings) -> Vec<SourceItem> {
        let mut all: Vec<&ContainerInfo> = self.containers.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let mut proxy = select_proxy(&all, self.own.as_ref(), &settings.nginx_container_label);
        if let ProxyNetworks::Container { networks, .. } = &mut proxy {
            for n in networks {
                n.internal = self.internal.get(&n.name).copied().unwrap_or(false);
            }
        }
        // On a manager the service owns its tasks: their containers here are not routed twice.
        let manager = self.services.is_some();
        let mut items: Vec<SourceItem> = all
            .iter()
            .filter(|c| Some(&c.id) != self.own_id.as_ref() && !self.stopping.contains(&c.id))
            .filter(|c| !(manager && is_task_container(c)))
            .map(|c| to_source_item(c, &proxy, settings.prefer_ipv6))
            .collect();
        let services = self.services.iter().flatten();
        for svc in services.filter(|s| passes_filters(s, &settings.container_filters)) {
            items.extend(to_source_items(svc, &proxy, settings.prefer_ipv6, |id| {
                self.local(id)
            }));
        }
        items
    }

    /// What this node knows of a task's container: it is the same container the container
    /// source inspects, so a task follows the containers' health and stop-signal rules.
    fn local(&self, container: &str) -> Local {
        if self.stopping.contains(container) {
            return Local::Stopping;
        }
        match self.containers.get(container) {
            Some(c) => Local::Running(c.health),
            None => Local::Elsewhere,
        }
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
