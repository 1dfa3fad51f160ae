//! One QUIC endpoint's accept loop, one HTTP/3 connection, and one request stream: the
//! connection permit, the handshake's facts (SNI, certificate, site) as the service's
//! `ConnInfo`, the header timeout, and the request through `service::handle`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::body::{H3Body, SendHalf, send_response};
use crate::exchange::{ConnInfo, Scheme, TlsConn};
use crate::live::Decision;
use crate::metrics::HandshakeFailure;
use crate::service::{self, ServiceState};

type H3Conn = h3::server::Connection<h3_quinn::Connection, Bytes>;

/// RFC 9114 §8.1 `H3_NO_ERROR`: the code a graceful close carries.
const H3_NO_ERROR: u32 = 0x100;
/// RFC 9114 §8.1 `H3_EXCESSIVE_LOAD`: closed past `DOCKSIDE_MAX_CONNECTIONS`.
const H3_EXCESSIVE_LOAD: u32 = 0x107;
type Resolver = h3::server::RequestResolver<h3_quinn::Connection, Bytes>;
/// The `quic` kind of the connection gauge (`metrics` `LISTENERS`).
const QUIC_LISTENER: usize = 2;

/// QUIC handshakes in progress, bounded apart from `DOCKSIDE_MAX_CONNECTIONS`: a handshake may
/// come from a spoofed address, so it must not hold a permit TCP clients need. Past
/// [`RETRY_ABOVE`] handshakes in progress a client that has not proved its address gets a
/// stateless Retry (it costs dockside nothing until the client answers from that address); past
/// [`MAX_HANDSHAKES`] a new one is refused.
#[derive(Clone)]
pub(super) struct Handshakes(Arc<Semaphore>);

/// Handshakes in progress at once, across the QUIC endpoints.
const MAX_HANDSHAKES: usize = 64;
/// Handshakes in progress past which an unvalidated client must answer a Retry first.
const RETRY_ABOVE: usize = 16;

impl Handshakes {
    pub(super) fn new() -> Handshakes {
        Handshakes(Arc::new(Semaphore::new(MAX_HANDSHAKES)))
    }

    fn in_progress(&self) -> usize {
        MAX_HANDSHAKES - self.0.available_permits()
    }
}

/// Accepts QUIC connections until shutdown. A handshake holds a [`Handshakes`] permit; a
/// connection, once its handshake is done (the client's address then proved), holds one
/// `DOCKSIDE_MAX_CONNECTIONS` permit (past the limit it is closed at once, as the TCP listeners
/// close theirs).
pub(super) async fn accept_loop(
    endpoint: quinn::Endpoint,
    state: Arc<ServiceState>,
    handshakes: Handshakes,
) {
    let local = endpoint
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let incoming = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
        };
        if !incoming.remote_address_validated() && handshakes.in_progress() >= RETRY_ABOVE {
            if let Err(e) = incoming.retry() {
                e.into_incoming().refuse();
            }
            continue;
        }
        let Ok(handshake) = handshakes.0.clone().try_acquire_owned() else {
            tracing::debug!(client = %incoming.remote_address(), %local, "too many QUIC handshakes in progress; refusing one");
            incoming.refuse();
            continue;
        };
        let state = state.clone();
        state.tracker.clone().spawn(async move {
            let client = incoming.remote_address();
            let connecting = match incoming.accept() {
                Ok(c) => c,
                Err(e) => return tracing::debug!(%client, "QUIC connection refused: {e}"),
            };
            let timeout = state.limits.header_timeout;
            let handshaken = tokio::time::timeout(timeout, connecting).await;
            if let Some(shard) = &state.metrics {
                match &handshaken {
                    Ok(Ok(_)) => shard.handshake_ok(),
                    Ok(Err(_)) => shard.handshake_failed(HandshakeFailure::Protocol),
                    Err(_) => shard.handshake_failed(HandshakeFailure::Timeout),
                }
            }
            let connection = match handshaken {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return tracing::debug!(%client, "QUIC handshake failed: {e}"),
                Err(_) => return tracing::debug!(%client, "QUIC handshake timed out"),
            };
            drop(handshake);
            let Ok(permit) = state.connections.clone().try_acquire_owned() else {
                tracing::warn!(%client, %local, limit = state.limits.max_connections, "connection limit reached (DOCKSIDE_MAX_CONNECTIONS); closing a QUIC connection");
                connection.close(H3_EXCESSIVE_LOAD.into(), b"");
                return;
            };
            let Some(mut conn) = conn_info(&state, &connection, local) else {
                connection.close(0u32.into(), b"");
                return;
            };
            conn.permit = Some(Arc::new(permit));
            if let Some(shard) = &state.metrics {
                shard.connection_opened(QUIC_LISTENER);
            }
            let shard = state.metrics.clone();
            serve(connection, Arc::new(conn), state).await;
            if let Some(shard) = shard {
                shard.connection_closed(QUIC_LISTENER);
            }
        });
    }
}

/// The connection's facts, from the certificate decision for its SNI (re-read like the TCP
/// acceptor does); `None` when the SNI is no longer served (certificate removed meanwhile).
fn conn_info(
    state: &ServiceState,
    connection: &quinn::Connection,
    local: SocketAddr,
) -> Option<ConnInfo> {
    let sni = connection
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.server_name)
        .map(|s| s.to_ascii_lowercase());
    let Decision::Serve { cert, site, .. } = state.live.load().decide_h3(sni.as_deref()) else {
        return None;
    };
    let tls = TlsConn {
        cert_names: cert.names.clone(),
        site,
        client: None,
    };
    let client = connection.remote_address();
    Some(ConnInfo::new(
        client,
        local,
        Scheme::Https,
        sni,
        Some(Arc::new(tls)),
    ))
}

/// Serves one HTTP/3 connection's requests, each in its own task, until the client closes it,
/// it idles out, or shutdown (GOAWAY, then the requests already begun finish).
///
/// Idle means no request in progress for `DOCKSIDE_IDLE_TIMEOUT`, as for h2 over TCP
/// (`server::idle`): quinn's own idle timer is reset by any packet, so a client sending only
/// PINGs would hold the connection (and its permit) forever. An idle connection is closed
/// gracefully (GOAWAY), so a request crossing it can be retried.
async fn serve(connection: quinn::Connection, conn: Arc<ConnInfo>, state: Arc<ServiceState>) {
    let client = conn.client;
    let quic = connection.clone();
    let mut h3: H3Conn = match h3::server::builder()
        .max_field_section_size(state.limits.max_header_bytes as u64)
        .build(h3_quinn::Connection::new(connection))
        .await
    {
        Ok(h3) => h3,
        Err(e) => return tracing::debug!(%client, "HTTP/3 connection setup failed: {e}"),
    };
    // This connection's requests, so that shutdown can wait for them alone.
    let requests = TaskTracker::new();
    let idle = state.limits.idle_timeout;
    let epoch = Instant::now();
    // When a request last ended, in milliseconds since `epoch`.
    let last_end = Arc::new(AtomicU64::new(0));
    let mut last_start = epoch;
    let mut deadline = epoch + idle;
    loop {
        let accepted = tokio::select! {
            _ = state.shutdown.cancelled() => {
                return close(&mut h3, &requests, &quic).await;
            }
            () = tokio::time::sleep_until(deadline) => {
                if !requests.is_empty() {
                    deadline = Instant::now() + idle;
                    continue;
                }
                let ended = epoch + Duration::from_millis(last_end.load(Ordering::Relaxed));
                deadline = last_start.max(ended) + idle;
                if deadline <= Instant::now() {
                    tracing::debug!(%client, "HTTP/3 connection idle (no request); closing it");
                    return close(&mut h3, &requests, &quic).await;
                }
                continue;
            }
            a = h3.accept() => a,
        };
        match accepted {
            Ok(Some(resolver)) => {
                last_start = Instant::now();
                let (tracker, state, conn) = (state.tracker.clone(), state.clone(), conn.clone());
                let last_end = last_end.clone();
                let request = async move {
                    serve_request(resolver, &state, &conn).await;
                    let now = epoch.elapsed().as_millis();
                    last_end.store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
                };
                tracker.spawn(requests.track_future(request));
            }
            Ok(None) => return,
            Err(e) => {
                if !e.is_h3_no_error() {
                    tracing::debug!(%client, "HTTP/3 connection ended: {e}");
                }
                return;
            }
        }
    }
}

/// Closes the connection gracefully: GOAWAY, its requests finish, then the QUIC close.
async fn close(h3: &mut H3Conn, requests: &TaskTracker, quic: &quinn::Connection) {
    let _ = h3.shutdown(0).await;
    drain(h3, requests).await;
    quic.close(H3_NO_ERROR.into(), b"");
}

/// After GOAWAY: keeps the connection driven until its requests are done (or the client
/// closes it); a request sent before the client saw GOAWAY is dropped (it may retry it).
async fn drain(h3: &mut H3Conn, requests: &TaskTracker) {
    requests.close();
    let late = async { while let Ok(Some(_late)) = h3.accept().await {} };
    tokio::select! {
        _ = requests.wait() => {}
        _ = late => {}
    }
}

/// One request stream: its head within the header timeout, the body adapted, the answer sent.
async fn serve_request(resolver: Resolver, state: &ServiceState, conn: &Arc<ConnInfo>) {
    let resolved = tokio::time::timeout(state.limits.header_timeout, resolver.resolve_request());
    let (req, stream) = match resolved.await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return tracing::debug!(client = %conn.client, "HTTP/3 request: {e}"),
        Err(_) => return tracing::debug!(client = %conn.client, "HTTP/3 request head timed out"),
    };
    let (mut send, recv) = stream.split();
    let Ok(length) = content_length(&req) else {
        // As hyper answers an HTTP/1.1 request whose length cannot be trusted.
        let answer = http::Response::builder()
            .status(http::StatusCode::BAD_REQUEST)
            .body(crate::exchange::empty())
            .unwrap_or_default();
        let _ = send_response(&mut send, answer, state.limits.idle_timeout).await;
        return;
    };
    let mut body = H3Body::new(recv, length);
    if length.is_none() && matches!(*req.method(), Method::GET | Method::HEAD) {
        let ahead = tokio::time::timeout(state.limits.header_timeout, body.read_ahead());
        if !matches!(ahead.await, Ok(Ok(()))) {
            return reset(&mut send);
        }
    }
    let response = service::handle(state, conn, req.map(|()| body), false).await;
    if let Err(e) = send_response(&mut send, response, state.limits.idle_timeout).await {
        tracing::debug!(client = %conn.client, "HTTP/3 response: {e}");
        reset(&mut send);
    }
}

fn reset(send: &mut SendHalf) {
    send.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
}

/// The request's `Content-Length` (`None` without one); `Err` when it is not one valid number.
fn content_length<B>(req: &Request<B>) -> Result<Option<u64>, ()> {
    let mut values = req.headers().get_all(header::CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let text = first.to_str().map_err(drop)?;
    text.trim().parse().map(Some).map_err(drop)
}
