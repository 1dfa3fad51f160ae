//! HTTP/3 (`ENABLE_HTTP3`, the `http3.enable` label): a QUIC endpoint on the HTTPS port, UDP,
//! same address (and its IPv6 twin with `ENABLE_IPV6`), on quinn + h3 with the aws-lc-rs
//! rustls config from `tls::quic_config` (same certificates and SNI rules as TCP TLS).
//!
//! When it runs: bound at start when `ENABLE_HTTP3` is set or the first route table already has
//! an HTTP/3 site (a failed bind then fails startup, like the TCP listeners); otherwise bound
//! the first time a table has one (a failed bind is then logged), and kept until shutdown.
//! One thread (`dockside-quic`) with its own single-threaded runtime and upstream pool serves
//! every QUIC connection, beside the TCP workers. Its requests go through the same service
//! (`service::handle`) as HTTP/1.1 and h2, so routing, policies, headers and forwarding are
//! shared; a site without HTTP/3 is unknown there (handshake refused or 503, as in nginx).
//!
//! Shutdown: on the root token the endpoint stops accepting, each connection sends GOAWAY and
//! finishes its requests (tracked by the task tracker); `stop` ends the thread at the drain
//! deadline.

mod body;
mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::listen::{bind_error, with_twin};
use crate::service::ServiceState;

/// The QUIC sockets: bound now, or bound the first time `wanted` turns true.
pub enum QuicSockets {
    Bound(Vec<std::net::UdpSocket>),
    WhenWanted {
        addrs: Vec<SocketAddr>,
        wanted: watch::Receiver<bool>,
    },
}

/// Binds the UDP sockets of `addr` (the bound HTTPS address) and, with `ENABLE_IPV6`, its
/// IPv6-only twin.
pub fn bind_udp(addr: SocketAddr, ipv6: bool) -> anyhow::Result<Vec<std::net::UdpSocket>> {
    quic_addrs(addr, ipv6).into_iter().map(bind_one).collect()
}

/// The addresses the endpoint serves for an HTTPS address.
pub fn quic_addrs(addr: SocketAddr, ipv6: bool) -> Vec<SocketAddr> {
    with_twin(addr, ipv6)
}

fn bind_one(addr: SocketAddr) -> anyhow::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .with_context(|| format!("creating the UDP socket for HTTP/3 on {addr}"))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .with_context(|| format!("IPV6_V6ONLY on {addr}"))?;
    }
    socket
        .bind(&addr.into())
        .map_err(|e| anyhow::anyhow!("HTTP/3 (UDP): {:#}", bind_error(addr, e)))?;
    socket
        .set_nonblocking(true)
        .with_context(|| format!("non-blocking UDP socket on {addr}"))?;
    Ok(socket.into())
}

/// The running QUIC thread.
pub struct QuicServer {
    thread: JoinHandle<()>,
    /// Cancelled at the drain deadline: the thread drops its runtime and connections.
    hard_stop: CancellationToken,
}

impl QuicServer {
    /// Starts the `dockside-quic` thread serving `sockets` with `tls` (from `tls::quic_config`)
    /// through `state` (its own upstream pool).
    pub fn spawn(
        sockets: QuicSockets,
        tls: Arc<rustls::ServerConfig>,
        state: Arc<ServiceState>,
    ) -> anyhow::Result<QuicServer> {
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .context("building the QUIC TLS config")?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport(state.limits.idle_timeout)));
        let hard_stop = CancellationToken::new();
        let stop = hard_stop.clone();
        let thread = std::thread::Builder::new()
            .name("dockside-quic".to_owned())
            .spawn(move || run(sockets, config, state, stop))?;
        Ok(QuicServer { thread, hard_stop })
    }

    /// Ends the thread now (after the drain deadline, or when dockside is dropped).
    pub fn stop(&self) {
        self.hard_stop.cancel();
    }

    /// Whether the thread has ended.
    pub fn finished(&self) -> bool {
        self.thread.is_finished()
    }
}

impl Drop for QuicServer {
    fn drop(&mut self) {
        self.hard_stop.cancel();
    }
}

/// The connection's transport limits. quinn's defaults let one client make dockside buffer
/// far more than a TCP client can: an unbounded connection receive window and 1.25 MB per
/// stream over 100 streams (~125 MB). These are set near what hyper's HTTP/2 server allows over
/// TCP (1 MB per stream, 200 streams, 1 MB per connection): 1 MB per stream, 2 MB for the whole
/// connection (what a client may have in flight, unread, at once), 100 concurrent requests,
/// and 2 MB of response data buffered unacknowledged per connection.
///
/// quinn's idle timeout is kept as the transport's own bound (a silent peer); it is reset by
/// any packet, PINGs included, so `connection::serve` bounds idleness by requests too.
fn transport(idle: Duration) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(idle.min(MAX_QUIC_IDLE)).ok());
    transport.receive_window(CONNECTION_WINDOW.into());
    transport.stream_receive_window(STREAM_WINDOW.into());
    transport.send_window(u64::from(CONNECTION_WINDOW));
    transport.max_concurrent_bidi_streams(MAX_REQUESTS.into());
    // No server-initiated unidirectional streams beyond h3's control and QPACK ones.
    transport.max_concurrent_uni_streams(16u32.into());
    transport
}

/// quinn's idle timeout is capped (its encoding bounds it; 10 minutes is plenty).
const MAX_QUIC_IDLE: Duration = Duration::from_secs(600);
/// Request body bytes one stream may have unread in dockside.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// Request body bytes one connection may have unread in dockside, all streams together.
const CONNECTION_WINDOW: u32 = 2 * 1024 * 1024;
/// Requests in progress at once on one connection.
const MAX_REQUESTS: u32 = 100;

fn run(
    sockets: QuicSockets,
    config: quinn::ServerConfig,
    state: Arc<ServiceState>,
    hard_stop: CancellationToken,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("the HTTP/3 runtime failed to start: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let Some(sockets) = wait_for_sockets(sockets, &state.shutdown).await else {
            if !state.shutdown.is_cancelled() {
                state.http3.set_failed();
            }
            return;
        };
        let mut endpoints = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let addr = socket.local_addr().ok();
            let endpoint = quinn::Endpoint::new(
                quinn::EndpointConfig::default(),
                Some(config.clone()),
                socket,
                Arc::new(quinn::TokioRuntime),
            );
            match endpoint {
                Ok(endpoint) => {
                    tracing::info!(addr = ?addr, "serving HTTP/3 (QUIC, UDP)");
                    endpoints.push(endpoint);
                }
                Err(e) => tracing::error!(addr = ?addr, "HTTP/3 endpoint failed to start: {e}"),
            }
        }
        if endpoints.is_empty() {
            state.http3.set_failed();
            return;
        }
        // From now on HTTP/3 sites' answers advertise it (`alt-svc`).
        state.http3.set_serving();
        let handshakes = connection::Handshakes::new();
        let loops: Vec<_> = endpoints
            .iter()
            .map(|e| {
                let accept = connection::accept_loop(e.clone(), state.clone(), handshakes.clone());
                tokio::spawn(accept)
            })
            .collect();
        for accept in loops {
            let _ = accept.await;
        }
        // Keep this runtime alive while its connections drain (or until the deadline).
        tokio::select! {
            _ = state.tracker.wait() => {}
            _ = hard_stop.cancelled() => {}
        }
        for endpoint in &endpoints {
            endpoint.close(0u32.into(), b"shutting down");
        }
    });
}

/// The sockets to serve, binding them once some site wants HTTP/3; `None` on shutdown first.
async fn wait_for_sockets(
    sockets: QuicSockets,
    shutdown: &CancellationToken,
) -> Option<Vec<std::net::UdpSocket>> {
    let (addrs, mut wanted) = match sockets {
        QuicSockets::Bound(sockets) => return Some(sockets),
        QuicSockets::WhenWanted { addrs, wanted } => (addrs, wanted),
    };
    tokio::select! {
        _ = shutdown.cancelled() => return None,
        r = wanted.wait_for(|w| *w) => r.ok()?,
    };
    let bound: anyhow::Result<Vec<_>> = addrs.into_iter().map(bind_one).collect();
    match bound {
        Ok(sockets) => Some(sockets),
        Err(e) => {
            tracing::error!("a site asks for HTTP/3 but {e:#}; HTTP/3 stays off until restart");
            None
        }
    }
}

#[cfg(test)]
mod transport_tests;
