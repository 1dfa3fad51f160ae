//! Client connections: the accept loop for HTTP and HTTPS (connection limit, nodelay, TLS
//! handshake), the hyper-util server builder (HTTP/1.1 + h2c, header timeout and size limits),
//! and graceful drain.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use http::{Request, Version};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::config::Limits;
use crate::proxy::body;
use crate::proxy::idle::{Activity, Expired, Race, Tracked};
use crate::proxy::meta::{ConnInfo, Scheme, TlsConn};
use crate::proxy::service::{self, ServiceState};
use crate::tls::{Accepted, Session, TlsAcceptor, TlsError};

/// hyper refuses smaller read buffers than this for HTTP/1.
const MIN_H1_BUF: usize = 8192;

/// Builds the server side once: header size (hyper answers 431 when a head does not fit), h2c
/// keep-alive pings. The header and idle timeouts are the connection watchdog's (`idle`).
pub fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The header timeout is ours (`idle`): hyper's also cut waiting keep-alive connections.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(MIN_H1_BUF))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Accepts clients until shutdown, plain TCP or, with `tls`, TLS (handshake through the
/// `TlsAcceptor`: SNI, policy, ACME TLS-ALPN-01). Every connection holds one permit of
/// `ServiceState::connections` and runs in `tracker` so shutdown can wait for it. Past the
/// limit a new connection is closed at once (like nginx when `worker_connections` run out):
/// waiting for a permit would strand clients queued on another worker's socket.
pub async fn accept_loop(
    listener: TcpListener,
    state: Arc<ServiceState>,
    tracker: TaskTracker,
    tls: Option<Arc<TlsAcceptor>>,
) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let accepted = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, client) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%local, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = state.connections.clone().try_acquire_owned() else {
            tracing::warn!(%client, %local, limit = state.limits.max_connections, "connection limit reached (DOCKSIDE_MAX_CONNECTIONS); closing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        // Shared with an upgraded (WebSocket) connection, which may outlive this task.
        let permit = Some(Arc::new(permit));
        match &tls {
            None => {
                let mut conn = ConnInfo::new(client, local, Scheme::Http, None, None);
                conn.permit = permit;
                tracker.spawn(serve_connection(stream, conn, state));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tracker.spawn(async move {
                    // A failed handshake ends only this connection.
                    match acceptor.accept(stream, client).await {
                        Ok(Some(Accepted { stream, session })) => {
                            let mut conn = https_conn(client, local, session);
                            conn.permit = permit;
                            serve_connection(stream, conn, state).await
                        }
                        Ok(None) | Err(TlsError::Refused { .. }) => {}
                        Err(e) => tracing::debug!(%client, "TLS handshake failed: {e}"),
                    }
                });
            }
        }
    }
}

/// An HTTPS connection's facts: what its handshake chose, for the 421 check and `cert_ok`.
fn https_conn(client: SocketAddr, local: SocketAddr, session: Session) -> ConnInfo {
    let tls = TlsConn {
        cert_names: session.cert.names.clone(),
        site: session.site,
    };
    ConnInfo::new(
        client,
        local,
        Scheme::Https,
        session.sni,
        Some(Arc::new(tls)),
    )
}

/// Serves HTTP/1.1 or h2c on one established connection until it ends, or until shutdown
/// asks it to finish in-flight requests and close; `io` is a TCP or a TLS stream.
pub async fn serve_connection<IO>(io: IO, conn: ConnInfo, state: Arc<ServiceState>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let ctx = Arc::new((state.clone(), Arc::new(conn), activity.clone()));
    let svc = service_fn(move |req: Request<Incoming>| {
        let ctx = ctx.clone();
        async move {
            let (state, conn, activity) = &*ctx;
            let http2 = req.version() == Version::HTTP_2;
            let in_flight = activity.request_started(http2, req.body().size_hint().exact());
            let response = service::handle(state, conn, req).await;
            // The request is in flight until its response's last byte is sent: HTTP/1's next
            // head may begin then, and an HTTP/2 connection is not idle before.
            Ok::<_, Infallible>(response.map(|body| body::with_guard(body, in_flight)))
        }
    });
    let io = TokioIo::new(Tracked::new(io, activity.clone()));
    let connection = state.http.serve_connection_with_upgrades(io, svc);
    tokio::pin!(connection);
    let limits = &state.limits;
    // The watchdog: `None` on shutdown. It runs beside the connection in this task (`Race`).
    let watchdog = async {
        tokio::select! {
            _ = state.shutdown.cancelled() => None,
            expired = activity.expired(limits.idle_timeout, limits.header_timeout) => Some(expired),
        }
    };
    let result = match Race::new(connection.as_mut(), watchdog).await {
        Either::Left(r) => r,
        Either::Right(None) => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
        // Slowloris: close at once (hyper's header timer did the same).
        Either::Right(Some(Expired::Header)) => {
            tracing::debug!(
                "request head not complete after {}s; closing",
                limits.header_timeout.as_secs()
            );
            Ok(())
        }
        // Nothing moved for DOCKSIDE_IDLE_TIMEOUT: finish politely (h2 GOAWAY) and close.
        // A request still waiting on its backend is bounded by the upstream timeout.
        Either::Right(Some(Expired::Idle)) => {
            connection.as_mut().graceful_shutdown();
            let grace = limits.upstream_timeout + limits.header_timeout;
            tokio::time::timeout(grace, connection.as_mut())
                .await
                .unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}
