//! Wiring: the desired-state channel, the one route-table `ArcSwap`, listeners, all tasks under
//! one cancellation token and task tracker, and the graceful drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acme::challenge::Challenges;
use crate::config::Config;
use crate::model::DesiredState;
use crate::proxy::forward::Forwarder;
use crate::proxy::health::PassiveHealth;
use crate::proxy::listener;
use crate::proxy::service::ServiceState;
use crate::proxy::workers::{self, Workers};
use crate::routing::{RouteTable, SiteDefaults};

/// A started dockside: its bound addresses and the handles to feed and stop it.
pub struct Running {
    /// Where the HTTP listener is bound (the real port when `--http 0`).
    pub http_addr: SocketAddr,
    /// Where the HTTPS listener is bound; `None` until the TLS module wires its listener.
    pub https_addr: Option<SocketAddr>,
    /// A service state on the caller's runtime (shared routes, challenges, limits, health;
    /// its own upstream pool) for listeners started outside the HTTP workers, e.g. TLS.
    pub state: Arc<ServiceState>,
    desired: watch::Sender<Arc<DesiredState>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    workers: Workers,
    config: Config,
}

impl Running {
    /// Publishes a new desired state (providers and tests); an identical one is ignored.
    /// The route table is rebuilt by a task and swapped atomically.
    pub fn publish(&self, state: DesiredState) {
        self.desired.send_if_modified(|current| {
            if **current == state {
                return false;
            }
            *current = Arc::new(state);
            true
        });
    }

    /// A receiver of desired states, for consumers such as the ACME reconciler.
    pub fn subscribe(&self) -> watch::Receiver<Arc<DesiredState>> {
        self.desired.subscribe()
    }

    /// The route table requests are served from right now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.state.routes.load_full()
    }

    /// The root cancellation token (cancelled by `shutdown`).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The task tracker connections and tasks run under (shutdown waits for it).
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// The configuration this instance was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops accepting, lets in-flight requests finish up to `DOCKSIDE_DRAIN_TIMEOUT`, returns.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        let drain = self.config.limits.drain_timeout;
        if tokio::time::timeout(drain, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} connection(s) still busy after {}s; closing them",
                self.tracker.len(),
                drain.as_secs()
            );
        }
        self.workers.stop();
        // Worker runtimes end within a scheduler tick once stopped; bounded wait.
        for _ in 0..100 {
            if self.workers.finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Running {
    /// A dropped `Running` (a test that does not call `shutdown`) stops its tasks and threads.
    fn drop(&mut self) {
        self.cancel.cancel();
        self.workers.stop();
    }
}

/// Binds the listeners and starts every task. Returns once dockside is serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let threads = worker_count();
    let sockets = workers::bind(config.http, threads).map_err(|e| bind_error(config.http, e))?;
    let http_addr = sockets[0]
        .local_addr()
        .context("reading the HTTP listener address")?;
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let shared = Shared {
        routes: Arc::new(ArcSwap::from_pointee(RouteTable::default())),
        challenges: Arc::new(Challenges::default()),
        health: Arc::new(PassiveHealth::default()),
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        cancel: cancel.clone(),
        http: listener::http_builder(&config.limits),
    };
    let state = shared.state(&config)?;
    let workers = Workers::spawn(sockets, || shared.state(&config), &tracker)?;
    let (desired, rx) = watch::channel(Arc::new(DesiredState::default()));
    tracker.spawn(spawn_route_builder(
        rx,
        shared.routes.clone(),
        config.defaults.clone(),
        cancel.clone(),
    ));
    // Providers (routes file, Docker) are started here by the integrator: `spawn_providers`.
    if config.trust_downstream_proxy_defaulted {
        tracing::warn!(
            "TRUST_DOWNSTREAM_PROXY is not set: client X-Forwarded-* headers are passed on (nginx-proxy's default); set it to false when clients connect directly"
        );
    }
    tracing::info!(http = %http_addr, workers = threads, "dockside is serving");
    Ok(Running {
        http_addr,
        https_addr: None,
        state,
        desired,
        cancel,
        tracker,
        workers,
        config,
    })
}

/// What every worker's `ServiceState` shares.
struct Shared {
    routes: Arc<ArcSwap<RouteTable>>,
    challenges: Arc<Challenges>,
    health: Arc<PassiveHealth>,
    connections: Arc<Semaphore>,
    cancel: CancellationToken,
    http: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
}

impl Shared {
    /// One worker's state: shared parts plus its own upstream pool.
    fn state(&self, config: &Config) -> anyhow::Result<Arc<ServiceState>> {
        Ok(Arc::new(ServiceState {
            routes: self.routes.clone(),
            challenges: self.challenges.clone(),
            forwarder: Forwarder::new(
                &config.limits,
                config.verify_upstream_tls,
                self.health.clone(),
            )?,
            trust_downstream: config.trust_downstream_proxy,
            access_log: config.access_log,
            limits: config.limits.clone(),
            connections: self.connections.clone(),
            shutdown: self.cancel.clone(),
            http: self.http.clone(),
        }))
    }
}

/// One worker per core, like nginx's `worker_processes auto`.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts, waits for SIGTERM or SIGINT, drains, returns `Ok` (exit 0).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    wait_for_signal().await;
    tracing::info!(
        "shutting down: draining in-flight requests (up to {}s)",
        running.config.limits.drain_timeout.as_secs()
    );
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops dockside");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Rebuilds the route table on every published state and swaps it in (one store per update).
async fn spawn_route_builder(
    mut rx: watch::Receiver<Arc<DesiredState>>,
    routes: Arc<ArcSwap<RouteTable>>,
    defaults: SiteDefaults,
    cancel: CancellationToken,
) {
    loop {
        let desired = rx.borrow_and_update().clone();
        let table = RouteTable::build(&desired, &defaults);
        for (host, why) in &table.rejected {
            tracing::warn!(host, "site not served: {why}");
        }
        routes.store(Arc::new(table));
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}

/// Turns the usual bind failures into one line that says what to do.
fn bind_error(addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied — run as root, grant CAP_NET_BIND_SERVICE, or use a port above 1023 (e.g. --http 8080)".to_owned(),
        std::io::ErrorKind::AddrInUse => {
            "address already in use — stop the other server or choose another port".to_owned()
        }
        _ => e.to_string(),
    };
    anyhow::anyhow!("cannot bind {addr}: {hint}")
}
