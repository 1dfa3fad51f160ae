//! The accept loop of one listener socket: the connection limit, nodelay, the PROXY protocol
//! header when `ENABLE_PROXY_PROTOCOL` is on, the TLS handshake for HTTPS, then one task per
//! connection (`connection::serve_connection`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::task::TaskTracker;

use super::connection::serve_connection;
use super::proxy_header::read_header;
use crate::exchange::{CertRefusal, ClientCert, ConnInfo, Proxied, Scheme, TlsConn};
use crate::metrics::{HandshakeFailure, Shard};
use crate::service::ServiceState;
use crate::tls::{Accepted as TlsAccepted, ClientVerdict, Refusal, Session, TlsAcceptor, TlsError};

/// Accepts clients until shutdown, plain TCP or, with `tls`, TLS (handshake through the
/// `TlsAcceptor`: SNI, policy, ACME TLS-ALPN-01). Every connection holds one permit of
/// `ServiceState::connections` and runs in `tracker` so shutdown can wait for it. Past the
/// limit a new connection is closed at once (like nginx when `worker_connections` run out):
/// waiting for a permit would strand clients queued on another worker's socket.
pub(super) async fn accept_loop(
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
                if let Some(suppressed) = state.warnings.admit("\0accept", Instant::now()) {
                    tracing::warn!(%local, suppressed, "accept failed: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = state.connections.clone().try_acquire_owned() else {
            // A flood past the limit must not become a flood of log lines (a line per refused
            // connection filled the disk at the attacker's pace): one per `WARNING_EVERY`.
            if let Some(suppressed) = state.warnings.admit("\0limit", Instant::now()) {
                tracing::warn!(%client, %local, limit = state.limits.max_connections, suppressed, "connection limit reached (DOCKSIDE_MAX_CONNECTIONS); closing");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Shared with an upgraded (WebSocket) connection, which may outlive this task.
        let permit = Some(Arc::new(permit));
        let accepted = Accepted {
            stream,
            client,
            local,
            permit,
            _open: None,
        };
        let state = state.clone();
        let accepted = Accepted {
            _open: OpenConnection::new(&state, tls.is_some()),
            ..accepted
        };
        if state.proxy_protocol {
            tracker.spawn(accepted.serve_proxied(state, tls.clone()));
            continue;
        }
        match &tls {
            None => {
                tracker.spawn(accepted.serve_http(state, None));
            }
            Some(acceptor) => {
                tracker.spawn(accepted.serve_https(state, acceptor.clone(), None));
            }
        }
    }
}

/// One accepted connection, before anything was read from it.
struct Accepted {
    stream: TcpStream,
    /// The socket's peer; the PROXY header's source replaces it.
    client: SocketAddr,
    local: SocketAddr,
    permit: Option<Arc<OwnedSemaphorePermit>>,
    /// Counts the connection as open in the metrics until it ends.
    _open: Option<OpenConnection>,
}

/// A client connection on the `dockside_client_connections` gauge, from accept to its end.
struct OpenConnection {
    shard: Arc<Shard>,
    listener: usize,
}

impl OpenConnection {
    /// `None` with metrics off.
    fn new(state: &ServiceState, tls: bool) -> Option<OpenConnection> {
        let shard = state.metrics.clone()?;
        let listener = usize::from(tls);
        shard.connection_opened(listener);
        Some(OpenConnection { shard, listener })
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.shard.connection_closed(self.listener);
    }
}

impl Accepted {
    fn serve_http(
        self,
        state: Arc<ServiceState>,
        proxied: Option<Proxied>,
    ) -> impl Future<Output = ()> + use<> {
        let mut conn = ConnInfo::new(self.client, self.local, Scheme::Http, None, None);
        conn.permit = self.permit;
        conn.proxied = proxied;
        let open = self._open;
        let serve = serve_connection(self.stream, conn, state);
        async move {
            let _open = open;
            serve.await;
        }
    }

    async fn serve_https(
        self,
        state: Arc<ServiceState>,
        acceptor: Arc<TlsAcceptor>,
        proxied: Option<Proxied>,
    ) {
        let client = self.client;
        let _open = self._open;
        // A failed handshake ends only this connection.
        let accepted = acceptor.accept(self.stream, client).await;
        if let Some(shard) = &state.metrics {
            match &accepted {
                Ok(Some(_)) => shard.handshake_ok(),
                Ok(None) => {}
                Err(e) => shard.handshake_failed(handshake_failure(e)),
            }
        }
        match accepted {
            Ok(Some(TlsAccepted { stream, session })) => {
                let mut conn = https_conn(client, self.local, session);
                conn.permit = self.permit;
                conn.proxied = proxied;
                serve_connection(stream, conn, state).await
            }
            Ok(None) | Err(TlsError::Refused { .. }) => {}
            Err(e) => tracing::debug!(%client, "TLS handshake failed: {e}"),
        }
    }

    /// `ENABLE_PROXY_PROTOCOL`: the header first, within the header timeout, then HTTP or
    /// TLS as usual with the header's source as the client. A connection without a valid
    /// header is closed without a word, as nginx does.
    async fn serve_proxied(mut self, state: Arc<ServiceState>, tls: Option<Arc<TlsAcceptor>>) {
        let header = match read_header(&mut self.stream, state.limits.header_timeout).await {
            Ok(header) => header,
            Err(e) => {
                tracing::debug!(peer = %self.client, "closing: {e}");
                return;
            }
        };
        let proxied = Proxied {
            destination_port: header.addresses.map(|(_, destination)| destination.port()),
        };
        if let Some((source, _)) = header.addresses {
            self.client = source;
        }
        match tls {
            None => self.serve_http(state, Some(proxied)).await,
            Some(acceptor) => self.serve_https(state, acceptor, Some(proxied)).await,
        }
    }
}

/// An HTTPS connection's facts: what its handshake chose, for the 421 check and `cert_ok`.
fn https_conn(client: SocketAddr, local: SocketAddr, session: Session) -> ConnInfo {
    let tls = TlsConn {
        cert_names: session.cert.names.clone(),
        site: session.site,
        client: session.client.as_ref().map(client_cert),
    };
    ConnInfo::new(
        client,
        local,
        Scheme::Https,
        session.sni,
        Some(Arc::new(tls)),
    )
}

/// The handshake's client-certificate verdict as the HTTP layer uses it (mTLS sites only).
fn client_cert(verdict: &ClientVerdict) -> ClientCert {
    // Both texts are ASCII (the subject's other bytes are escaped); a failure to convert only
    // drops the header.
    let header = |text: &str| http::HeaderValue::from_str(text).ok();
    ClientCert {
        refusal: verdict.refusal().map(|r| match r {
            Refusal::NoCertificate => CertRefusal::Missing,
            Refusal::BadCertificate => CertRefusal::Invalid,
        }),
        verify: header(&verdict.verify_text())
            .unwrap_or_else(|| http::HeaderValue::from_static("FAILED")),
        subject: verdict.subject().and_then(header),
    }
}

/// The `reason` a failed handshake is counted under.
fn handshake_failure(e: &TlsError) -> HandshakeFailure {
    match e {
        TlsError::Refused { .. } => HandshakeFailure::UnknownSni,
        TlsError::Timeout { .. } => HandshakeFailure::Timeout,
        TlsError::Hello { .. } => HandshakeFailure::Protocol,
        // rustls reports its protocol errors (no shared version or cipher, bad records,
        // alerts) as `InvalidData`.
        TlsError::Handshake { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
            HandshakeFailure::Protocol
        }
        TlsError::Handshake { .. } | TlsError::Closed { .. } | TlsError::Io { .. } => {
            HandshakeFailure::Other
        }
    }
}
