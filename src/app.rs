//! Wiring: the desired-state channel, the one live snapshot (`live::Live`), listeners, all tasks under
//! one cancellation token and task tracker, and the graceful drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acme::{self, Challenges, OnDemand, Stats};
use crate::admin::{self, AdminState};
use crate::certs;
use crate::config::Config;
use crate::discovery;
use crate::live::Live;
use crate::metrics::{Metrics, Writers};
use crate::model::DesiredState;
use crate::routing::{ExtraPorts, ListenPorts, RouteTable, SiteDefaults};
use crate::server::{self, Bound, ExtraListeners, Listener, QuicServer, Workers};
use crate::service::{Http3Status, LogThrottle, ServiceState};
use crate::tls::TlsAcceptor;
use crate::upstream::uwsgi::{self, UwsgiOptions};
use crate::upstream::{Forwarder, PassiveHealth};

/// A repeated per-request warning (same host, backend and status) is logged at most this often.
const WARNING_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

mod certificates;
mod check;
mod descriptors;
mod http3;
mod listeners;
mod providers;

use certificates::{probe_file_owner, spawn_certificates, spawn_default_certificate_check};
pub use check::{check, check_json};
use http3::{alt_svc, spawn_quic};
use listeners::Listeners;
use providers::spawn_providers;

/// A started dockside: its bound addresses and the handles to feed and stop it.
pub struct Running {
    /// Where the HTTP listener is bound (the real port when `--http 0`).
    pub http_addr: SocketAddr,
    /// Where the HTTPS listener is bound; `None` with `--https off`.
    pub https_addr: Option<SocketAddr>,
    /// Every HTTP address bound: `http_addr`, then its IPv6 twin with `ENABLE_IPV6`.
    pub http_addrs: Vec<SocketAddr>,
    /// Every HTTPS address bound, likewise (empty with `--https off`).
    pub https_addrs: Vec<SocketAddr>,
    /// Where HTTP/3 (QUIC, UDP) is bound at start: the HTTPS addresses, when `ENABLE_HTTP3`
    /// is set or the first route table has an HTTP/3 site; empty otherwise (a later site that
    /// asks for it binds them then).
    pub h3_addrs: Vec<SocketAddr>,
    /// Whether the QUIC endpoint serves yet (or failed to bind).
    pub http3: Arc<Http3Status>,
    /// Where the admin listener is bound; `None` with `--admin off`.
    pub admin_addr: Option<SocketAddr>,
    /// ACME counters and per-certificate status; `None` when ACME is off.
    pub acme: Option<Arc<Stats>>,
    /// The one snapshot every worker serves from (routes and certificates).
    live: Arc<Live>,
    desired: watch::Sender<Arc<DesiredState>>,
    workers: Workers,
    /// The HTTP/3 thread; `None` without HTTPS.
    quic: Option<QuicServer>,
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
        self.live.load().routes().clone()
    }

    /// The root cancellation token (cancelled by `shutdown`).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The configuration this instance was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The task tracker connections and tasks run under (shutdown waits for it).
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
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
        if let Some(quic) = &self.quic {
            quic.stop();
        }
        let quic_done = || self.quic.as_ref().is_none_or(QuicServer::finished);
        // Worker runtimes end within a scheduler tick once stopped; bounded wait.
        for _ in 0..100 {
            if self.workers.finished() && quic_done() {
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
        if let Some(quic) = &self.quic {
            quic.stop();
        }
    }
}

/// Binds the listeners and starts every task. Returns once dockside is serving.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    probe_file_owner(&mut config);
    let listeners = Listeners::bind(&config).await?;
    let (http_addrs, https_addrs) = (listeners.http_addrs(), listeners.https_addrs());
    // Sites' EXTERNAL_*_PORT are placed against the ports actually bound (`--http 0` in tests).
    config.defaults.listen = ListenPorts {
        http: http_addrs[0].port(),
        https: https_addrs.first().map(|a| a.port()),
    };
    let shared = Arc::new(Shared::new(&config, &listeners));
    let (extra_ports, extra_rx) = watch::channel(ExtraPorts::new());
    let (http3_wanted, http3_rx) = watch::channel(false);
    let desired = spawn_state(&config, &shared, extra_ports, http3_wanted).await?;
    let (quic, h3_addrs) = spawn_quic(&config, &shared, &https_addrs, http3_rx)?;
    spawn_extra_listeners(&config, &shared, extra_rx);
    spawn_default_certificate_check(&config, &shared);
    // Before the workers: their HTTPS acceptor serves on-demand certificates from the start.
    let (acme, on_demand, renewer, store) = spawn_certificates(&config, &shared, &desired)?;
    let workers = spawn_workers(
        &config,
        &shared,
        listeners.threads,
        (listeners.http, listeners.https),
        on_demand,
    )?;
    let admin_auth = Arc::new(config.admin_auth.clone());
    spawn_admin(
        listeners.admin,
        &shared,
        &desired,
        (renewer, acme.clone(), store),
        admin_auth,
    );
    if config.trust_downstream_proxy_defaulted {
        tracing::warn!(
            "TRUST_DOWNSTREAM_PROXY is not set: client X-Forwarded-* headers are passed on (nginx-proxy's default); set it to false when clients connect directly"
        );
    }
    let list = |addrs: &[SocketAddr]| {
        let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
        list.join(",")
    };
    tracing::info!(http = %list(&http_addrs), https = %list(&https_addrs), admin = ?listeners.admin_addr, proxy_protocol = config.proxy_protocol, workers = listeners.threads, "dockside is serving");
    Ok(Running {
        http_addr: http_addrs[0],
        https_addr: https_addrs.first().copied(),
        http_addrs,
        https_addrs,
        h3_addrs,
        http3: shared.http3.clone(),
        admin_addr: listeners.admin_addr,
        acme,
        live: shared.live.clone(),
        desired,
        workers,
        quic,
        cancel: shared.cancel.clone(),
        tracker: shared.tracker.clone(),
        config,
    })
}

/// The live snapshot before the first route table: with HTTPS, the certificate directory as it
/// is now; without, no certificates (every site is served over HTTP).
fn live_state(config: &Config, https: bool) -> Arc<Live> {
    let routes = Arc::new(RouteTable::default());
    if !https {
        return Live::http_only(routes);
    }
    if let Err(e) = std::fs::create_dir_all(&config.certs_dir) {
        tracing::warn!(
            "cannot create the certificate directory {}: {e}",
            config.certs_dir.display()
        );
    }
    // `CREATE_DEFAULT_CERTIFICATE`: before the first scan, so unknown names get a handshake
    // and a 503; a failure only costs that (logged, not fatal).
    if config.create_default_certificate {
        certificates::ensure_default_certificate(&config.certs_dir, &config.cert_files);
    }
    let certs = certs::load_initial(&config.certs_dir);
    Live::new(
        routes,
        certs,
        &config.defaults.ssl_policy,
        config.defaults.http2,
    )
}

/// The desired-state channel, the task rebuilding the route table from it and the providers
/// feeding it. The first table is in place before the first connection is accepted.
async fn spawn_state(
    config: &Config,
    shared: &Shared,
    extra_ports: watch::Sender<ExtraPorts>,
    http3_wanted: watch::Sender<bool>,
) -> anyhow::Result<watch::Sender<Arc<DesiredState>>> {
    let (desired, rx) = watch::channel(Arc::new(DesiredState::default()));
    spawn_providers(
        config,
        desired.clone(),
        shared.cancel.clone(),
        shared.providers.clone(),
    )
    .await?;
    let first = Arc::new(RouteTable::build(&desired.borrow(), &config.defaults));
    extra_ports.send_replace(first.extra_ports.clone());
    http3_wanted.send_replace(first.http3_anywhere());
    shared.live.set_routes(first);
    shared.tracker.spawn(spawn_route_builder(
        rx,
        shared.live.clone(),
        config.defaults.clone(),
        Followers {
            extra_ports,
            http3_wanted,
        },
        shared.cancel.clone(),
    ));
    Ok(desired)
}

/// The listeners sites ask for with `EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT`, following the
/// route table's `extra_ports`; each has a service state of its own (its port, its stop token).
fn spawn_extra_listeners(
    config: &Config,
    shared: &Arc<Shared>,
    wanted: watch::Receiver<ExtraPorts>,
) {
    let state = {
        let (shared, config) = (shared.clone(), config.clone());
        Box::new(move |port: u16, stop: CancellationToken| {
            let mut state = shared.service(&config, Writers::Many)?;
            state.extra_port = Some(port);
            // HTTP/3 is served on the default HTTPS port only.
            state.alt_svc = None;
            state.shutdown = stop;
            Ok(Arc::new(state))
        }) as server::StateFor
    };
    let tls = shared.https.then(|| {
        let (live, challenges) = (shared.live.clone(), shared.challenges.clone());
        Box::new(move |port: u16| {
            let acceptor = TlsAcceptor::on_port(
                live.clone(),
                challenges.clone(),
                HANDSHAKE_TIMEOUT,
                Some(port),
            )?;
            Ok(Arc::new(acceptor))
        }) as server::TlsFor
    });
    let extra = ExtraListeners {
        state,
        tls,
        http_ip: config.http.ip(),
        https_ip: config.https.map_or(config.http.ip(), |a| a.ip()),
        ipv6: config.ipv6,
        tracker: shared.tracker.clone(),
    };
    extra.spawn(wanted, shared.cancel.clone());
}

/// The worker threads serving the HTTP sockets and, with TLS, the HTTPS ones.
fn spawn_workers(
    config: &Config,
    shared: &Shared,
    threads: usize,
    (http, https): (Vec<Bound>, Vec<Bound>),
    on_demand: Option<Arc<OnDemand>>,
) -> anyhow::Result<Workers> {
    let acceptor = if https.is_empty() {
        None
    } else {
        let live = shared.live.clone();
        let mut acceptor = TlsAcceptor::new(live, shared.challenges.clone(), HANDSHAKE_TIMEOUT)?;
        if let Some(on_demand) = on_demand {
            acceptor = acceptor.with_on_demand(on_demand);
        }
        Some(Arc::new(acceptor))
    };
    let plain = http.into_iter().map(|b| Listener {
        sockets: b.sockets,
        tls: None,
    });
    let tls = https.into_iter().map(|b| Listener {
        sockets: b.sockets,
        tls: acceptor.clone(),
    });
    let listeners = plain.chain(tls).collect();
    Workers::spawn(listeners, threads, || shared.state(config), &shared.tracker)
}

/// The admin listener (status, metrics, health), when it is on.
fn spawn_admin(
    listener: Option<tokio::net::TcpListener>,
    shared: &Shared,
    desired: &watch::Sender<Arc<DesiredState>>,
    (renewer, acme, store): (
        Option<acme::Renewer>,
        Option<Arc<Stats>>,
        Option<crate::store::SharedStore>,
    ),
    auth: Arc<admin::AdminAuth>,
) {
    if let Some(listener) = listener {
        let admin = AdminState {
            state: desired.subscribe(),
            live: shared.live.clone(),
            renewer,
            acme,
            providers: shared.providers.clone(),
            health: shared.health.clone(),
            traffic: admin::TrafficRates {
                source: shared
                    .metrics
                    .clone()
                    .map(|m| m as Arc<dyn admin::TrafficSource>),
                sampler: Default::default(),
            },
            metrics: shared.metrics.clone(),
            auth,
            store,
        };
        admin::spawn(listener, admin, shared.cancel.child_token());
    }
}

/// What every worker's `ServiceState` shares.
struct Shared {
    live: Arc<Live>,
    challenges: Arc<Challenges>,
    health: Arc<PassiveHealth>,
    connections: Arc<Semaphore>,
    cancel: CancellationToken,
    http: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    /// Whether the HTTPS listener is on.
    https: bool,
    /// The HTTPS port redirects point to.
    https_port: u16,
    /// The default HTTP listener's port.
    http_port: u16,
    /// `alt-svc` for HTTP/3 sites' answers over TLS (`None` without HTTPS).
    alt_svc: Option<http::HeaderValue>,
    /// Whether the QUIC endpoint serves (set by its thread).
    http3: Arc<Http3Status>,
    defaults: Arc<SiteDefaults>,
    tracker: TaskTracker,
    /// Memory all uwsgi spools share, across workers.
    spool_budget: Arc<Semaphore>,
    /// Per-request warnings of this instance, shared by its workers.
    warnings: Arc<LogThrottle>,
    /// What the providers report (Docker connection, reloads) for the admin listener.
    providers: Arc<discovery::ProviderStatus>,
    /// Every worker's metrics shard, read by `/metrics`; `None` when off or without the
    /// admin listener (nobody could read them).
    metrics: Option<Arc<Metrics>>,
}

impl Shared {
    /// What the workers share, empty; TLS state only with an HTTPS listener.
    fn new(config: &Config, listeners: &Listeners) -> Shared {
        let live = live_state(config, !listeners.https.is_empty());
        Shared {
            metrics: (config.metrics && listeners.admin.is_some())
                .then(|| Metrics::new(live.clone())),
            live,
            challenges: Arc::new(Challenges::new(config.acme_accept_unknown_host)),
            health: Arc::new(PassiveHealth::default()),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            cancel: CancellationToken::new(),
            http: server::http_builder(&config.limits),
            https: !listeners.https.is_empty(),
            https_port: listeners.https.first().map_or(443, |b| b.addr.port()),
            http_port: listeners.http[0].addr.port(),
            alt_svc: listeners.https.first().map(|b| alt_svc(b.addr.port())),
            http3: Arc::default(),
            defaults: Arc::new(config.defaults.clone()),
            tracker: TaskTracker::new(),
            spool_budget: uwsgi::spool_budget(&config.limits),
            warnings: Arc::new(LogThrottle::new(WARNING_EVERY)),
            providers: Arc::default(),
        }
    }

    /// One worker's state: shared parts plus its own upstream pool and metrics shard (a
    /// worker thread, or the QUIC thread: one writer each).
    fn state(&self, config: &Config) -> anyhow::Result<Arc<ServiceState>> {
        self.service(config, Writers::One).map(Arc::new)
    }

    /// A default listener's service state (`extra_port` None, the root shutdown token);
    /// `writers`: whether one thread or a multi-threaded runtime serves it.
    fn service(&self, config: &Config, writers: Writers) -> anyhow::Result<ServiceState> {
        let forwarder = Forwarder::new(
            &config.limits,
            config.verify_upstream_tls,
            self.health.clone(),
            UwsgiOptions::from_limits(
                &config.limits,
                config.spool_dir.clone(),
                self.spool_budget.clone(),
            ),
        )?
        .with_metrics(self.metrics.as_ref().map(|m| m.backends().clone()));
        if let Some(metrics) = &self.metrics {
            metrics.add_pool(forwarder.idle_pool());
        }
        Ok(ServiceState {
            live: self.live.clone(),
            challenges: self.challenges.clone(),
            forwarder,
            warnings: self.warnings.clone(),
            trust_downstream: config.trust_downstream_proxy,
            proxy_protocol: config.proxy_protocol,
            access_log: config.access_log.format(),
            limits: config.limits.clone(),
            connections: self.connections.clone(),
            shutdown: self.cancel.clone(),
            tracker: self.tracker.clone(),
            http: self.http.clone(),
            https: self.https,
            https_port: self.https_port,
            http_port: self.http_port,
            alt_svc: self.alt_svc.clone(),
            http3: self.http3.clone(),
            extra_port: None,
            defaults: self.defaults.clone(),
            metrics: self.metrics.as_ref().map(|m| m.shard(writers)),
            traces: config.traces.is_some(),
        })
    }
}

/// One worker per core, like nginx's `worker_processes auto`.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts, waits for SIGTERM or SIGINT, drains, returns `Ok` (exit 0).
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Listening before `start` logs "dockside is serving": a SIGTERM sent right after that
    // line (a quick `docker stop`) must drain, not kill with the default action.
    let signals = Signals::listen();
    // Process-wide, so here rather than in `start` (tests start many in one process).
    descriptors::raise_descriptor_limit(config.limits.max_connections);
    let running = start(config).await?;
    signals.wait().await;
    tracing::info!(
        "shutting down: draining in-flight requests (up to {}s)",
        running.config.limits.drain_timeout.as_secs()
    );
    running.shutdown().await;
    Ok(())
}

/// SIGTERM and SIGINT handlers, installed when created.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot listen for {name} ({e})");
                None
            }
        };
        Signals {
            term: listen(SignalKind::terminate(), "SIGTERM"),
            int: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = recv_or_never(self.term.as_mut()) => {}
            _ = recv_or_never(self.int.as_mut()) => {}
        }
    }
}

/// The next delivery of `signal`; never, for a signal that could not be listened for.
async fn recv_or_never(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => drop(s.recv().await),
        None => std::future::pending().await,
    }
}

/// What follows the route table besides requests: the extra listeners (`EXTERNAL_*_PORT`) and
/// the HTTP/3 endpoint (bound once a site asks for it).
struct Followers {
    extra_ports: watch::Sender<ExtraPorts>,
    http3_wanted: watch::Sender<bool>,
}

/// Rebuilds the route table on every published state and swaps it in (one store per update).
async fn spawn_route_builder(
    mut rx: watch::Receiver<Arc<DesiredState>>,
    live: Arc<Live>,
    defaults: SiteDefaults,
    followers: Followers,
    cancel: CancellationToken,
) {
    let Followers {
        extra_ports,
        http3_wanted,
    } = followers;
    loop {
        let desired = rx.borrow_and_update().clone();
        let table = RouteTable::update(&desired, &defaults, live.load().routes());
        for (host, why) in &table.rejected {
            tracing::warn!(host, "site not served: {why}");
        }
        // The table first, then the listeners: a new port's first request finds its sites.
        let ports = table.extra_ports.clone();
        let http3 = table.http3_anywhere();
        live.set_routes(Arc::new(table));
        // Once bound, the QUIC endpoint stays until shutdown.
        http3_wanted.send_if_modified(|wanted| {
            let turned_on = http3 && !*wanted;
            *wanted |= http3;
            turned_on
        });
        extra_ports.send_if_modified(|current| {
            let changed = *current != ports;
            *current = ports;
            changed
        });
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}
