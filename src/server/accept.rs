//! The accept loop of one listener socket: the connection limit, nodelay, the TLS handshake
//! for HTTPS, then one task per connection (`connection::serve_connection`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::connection::serve_connection;
use crate::exchange::{CertRefusal, ClientCert, ConnInfo, Scheme, TlsConn};
use crate::service::ServiceState;
use crate::tls::{Accepted, ClientVerdict, Refusal, Session, TlsAcceptor, TlsError};

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
