//! The HTTPS listener: accept, TLS handshake through the `TlsAcceptor` (SNI, policy, ACME
//! TLS-ALPN-01), then the same `serve_connection` as plain HTTP. Shares the connection limit and
//! the shutdown token with the HTTP listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::proxy::listener::serve_connection;
use crate::proxy::service::ServiceState;
use crate::tls::{Accepted, TlsAcceptor, TlsError};

/// Accepts TLS clients until shutdown. A failed handshake ends only that connection.
pub async fn accept_loop(
    listener: TcpListener,
    acceptor: Arc<TlsAcceptor>,
    state: Arc<ServiceState>,
    tracker: TaskTracker,
) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let permit = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            p = state.connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, client) = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            a = listener.accept() => match a {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(%local, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        tracker.spawn(async move {
            match acceptor.accept(stream, client, local).await {
                Ok(Some(Accepted { stream, conn, .. })) => {
                    serve_connection(stream, conn, state).await
                }
                Ok(None) => {}
                Err(TlsError::Refused { .. }) => {}
                Err(e) => tracing::debug!(%client, "TLS handshake failed: {e}"),
            }
            drop(permit);
        });
    }
}
