//! What the service shares between the connections and requests of one worker, built once in
//! `app::start`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access_log::LogFormat;
use super::log_throttle::LogThrottle;
use crate::acme::Challenges;
use crate::config::Limits;
use crate::exchange::{ConnInfo, Scheme};
use crate::live::{Live, Snapshot};
use crate::metrics::Shard;
use crate::routing::{Hosts, SiteDefaults};
use crate::upstream::Forwarder;

/// Everything the data plane shares between connections, built once in `app::start`.
/// The TLS listener passes the same `Arc<ServiceState>` to the server's connections.
pub struct ServiceState {
    /// The one snapshot a request reads (routes, which sites have a usable certificate),
    /// loaded once per request.
    pub live: Arc<Live>,
    /// Pending ACME answers, shared with the ACME reconciler.
    pub challenges: Arc<Challenges>,
    /// The worker's upstream exchange: pool, passive health, uwsgi bounds.
    pub forwarder: Forwarder,
    /// Per-request warnings, at most one per (host, backend, status) every 10 s; one per
    /// dockside instance, shared by its workers.
    pub warnings: Arc<LogThrottle>,
    /// `TRUST_DOWNSTREAM_PROXY`.
    pub trust_downstream: bool,
    /// `ENABLE_PROXY_PROTOCOL`: every connection, on every listener, starts with a PROXY
    /// protocol header.
    pub proxy_protocol: bool,
    /// The compiled access log format; `None` when access logs are off.
    pub access_log: Option<Arc<LogFormat>>,
    pub limits: Limits,
    /// One permit per client connection (`DOCKSIDE_MAX_CONNECTIONS`), shared by all listeners.
    pub connections: Arc<Semaphore>,
    /// Cancelled on shutdown: listeners stop accepting and connections drain.
    pub shutdown: CancellationToken,
    /// Where connection tasks run, so that shutdown waits for them (upgraded ones included).
    pub tracker: TaskTracker,
    /// The hyper-util server builder (HTTP/1.1 + h2c, timeouts, header limits), built once.
    pub http: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    /// Whether the HTTPS listener is on (off: every site is served over HTTP).
    pub https: bool,
    /// The HTTPS port redirects point to (the bound HTTPS listener's port; `:port` is added to
    /// the Location when it is not 443).
    pub https_port: u16,
    /// The default HTTP listener's port (the debug endpoint shows it).
    pub http_port: u16,
    /// `None` on the default listeners; on an extra listener, its port (`EXTERNAL_HTTP_PORT` /
    /// `EXTERNAL_HTTPS_PORT`): a request only sees the sites served on the port it came in on.
    pub extra_port: Option<u16>,
    /// `alt-svc: h3=":PORT"; ma=86400` for the answers of HTTP/3 sites over TLS, built once;
    /// `None` without HTTPS and on extra listeners (QUIC is only on the default HTTPS port).
    pub alt_svc: Option<http::HeaderValue>,
    /// Whether the QUIC endpoint is serving: `alt-svc` is sent only then (read only for the
    /// answers of HTTP/3 sites).
    pub http3: Arc<Http3Status>,
    /// The proxy-wide site settings (the debug endpoint shows them).
    pub defaults: Arc<SiteDefaults>,
    /// This worker's metrics shard (only this worker writes it); `None` with `--metrics off`.
    pub metrics: Option<Arc<Shard>>,
    /// OpenTelemetry traces are on: requests get spans and backends a `traceparent`. Read once
    /// per request; off, the request path creates no span and touches no header.
    pub traces: bool,
}

impl ServiceState {
    /// The sites of the listener `conn` came in on; `None` once no site asks for its extra port.
    pub fn hosts<'s>(&self, conn: &ConnInfo, live: &'s Snapshot) -> Option<&'s Hosts> {
        live.routes()
            .hosts(conn.scheme == Scheme::Https, self.extra_port)
    }
}

/// Where the QUIC endpoint stands: not bound yet, serving, or failed to bind (off until restart).
/// Set by the QUIC thread; read (one relaxed load) for the TLS answers of HTTP/3 sites, so
/// that `alt-svc` is not advertised — and cached by clients for a day — while nothing listens.
#[derive(Debug, Default)]
pub struct Http3Status(AtomicU8);

const H3_PENDING: u8 = 0;
const H3_SERVING: u8 = 1;
const H3_FAILED: u8 = 2;

impl Http3Status {
    /// Whether an endpoint serves HTTP/3.
    pub fn serving(&self) -> bool {
        self.0.load(Ordering::Relaxed) == H3_SERVING
    }

    /// Whether binding the endpoint failed (HTTP/3 stays off until restart).
    pub fn failed(&self) -> bool {
        self.0.load(Ordering::Relaxed) == H3_FAILED
    }

    /// The endpoint is serving.
    pub fn set_serving(&self) {
        self.0.store(H3_SERVING, Ordering::Relaxed);
    }

    /// The endpoint could not be started.
    pub fn set_failed(&self) {
        self.0.store(H3_FAILED, Ordering::Relaxed);
    }

    /// Not (or not yet) started.
    pub fn pending(&self) -> bool {
        self.0.load(Ordering::Relaxed) == H3_PENDING
    }
}
