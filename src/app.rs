//! Wiring: the desired-state channel, the one route-table `ArcSwap`, listeners, all tasks under
//! one cancellation token and task tracker, and the graceful drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acme::challenge::Challenges;
use crate::config::Config;
use crate::model::DesiredState;
use crate::proxy::forward::Forwarder;
use crate::proxy::listener;
use crate::proxy::service::ServiceState;
use crate::routing::{RouteTable, SiteDefaults};

/// A started dockside: its bound addresses and the handles to feed and stop it.
pub struct Running {
    /// Where the HTTP listener is bound (the real port when `--http 0`).
    pub http_addr: SocketAddr,
    /// Where the HTTPS listener is bound; `None` until the TLS module wires its listener.
    pub https_addr: Option<SocketAddr>,
    /// The state shared with listeners (challenges, forwarder, limits).
    pub state: Arc<ServiceState>,
    desired: watch::Sender<Arc<DesiredState>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
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
    }
}

/// Binds the listeners and starts every task. Returns once dockside is serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let http = bind(config.http).await?;
    let http_addr = http
        .local_addr()
        .context("reading the HTTP listener address")?;
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let routes = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
    let state = Arc::new(ServiceState {
        routes: routes.clone(),
        challenges: Arc::new(Challenges::default()),
        forwarder: Forwarder::new(&config.limits, config.verify_upstream_tls)?,
        trust_downstream: config.trust_downstream_proxy,
        access_log: config.access_log,
        limits: config.limits.clone(),
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        shutdown: cancel.clone(),
        http: listener::http_builder(&config.limits),
    });
    let (desired, rx) = watch::channel(Arc::new(DesiredState::default()));
    tracker.spawn(spawn_route_builder(
        rx,
        routes,
        config.defaults.clone(),
        cancel.clone(),
    ));
    // Providers (routes file, Docker) are started here by the integrator: `spawn_providers`.
    tracker.spawn(listener::accept_loop(http, state.clone(), tracker.clone()));
    if config.trust_downstream_proxy_defaulted {
        tracing::warn!(
            "TRUST_DOWNSTREAM_PROXY is not set: client X-Forwarded-* headers are passed on (nginx-proxy's default); set it to false when clients connect directly"
        );
    }
    tracing::info!(http = %http_addr, "dockside is serving");
    Ok(Running {
        http_addr,
        https_addr: None,
        state,
        desired,
        cancel,
        tracker,
        config,
    })
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

/// Binds a listener, turning the usual failures into one line that says what to do.
async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied — run as root, grant CAP_NET_BIND_SERVICE, or use a port above 1023 (e.g. --http 8080)".to_owned(),
            std::io::ErrorKind::AddrInUse => {
                "address already in use — stop the other server or choose another port".to_owned()
            }
            _ => e.to_string(),
        };
        anyhow::anyhow!("cannot bind {addr}: {hint}")
    })
}
