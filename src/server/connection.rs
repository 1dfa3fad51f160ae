//! One client connection: the hyper-util server builder (HTTP/1.1 + h2c, header size limits),
//! serving its requests through the service, the idle and header watchdog, the WebSocket splice
//! after a `101`, and graceful drain.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};

use super::idle::{Activity, Expired, Race, Tracked, Watched};
use super::upgrade::ClientUpgrade;
use crate::config::Limits;
use crate::exchange::{self, ConnInfo, ProxyBody};
use crate::service::{self, ServiceState};

/// hyper refuses smaller read buffers than this for HTTP/1.
const MIN_H1_BUF: usize = 8192;

/// HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS); one more is
/// refused with REFUSED_STREAM. hyper's default, pinned here because docs/security.md promises it.
const H2_MAX_STREAMS: u32 = 200;
/// Streams the client resets before they are served, at once, before GOAWAY ENHANCE_YOUR_CALM:
/// the rapid reset bound (CVE-2023-44487). h2's default, pinned.
const H2_MAX_PENDING_RESETS: usize = 20;
/// Streams dockside resets for a client's protocol errors, per connection, before GOAWAY
/// ENHANCE_YOUR_CALM (CVE-2025-8671, "MadeYouReset"). hyper's default, pinned.
const H2_MAX_ERROR_RESETS: usize = 1024;

/// Builds the server side once: header size (hyper answers 431 when a head does not fit), h2c
/// keep-alive pings, the HTTP/2 stream and reset bounds. The header and idle timeouts are the
/// connection watchdog's (`idle`).
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
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_RESETS)
        .max_local_error_reset_streams(H2_MAX_ERROR_RESETS)
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves HTTP/1.1 or h2c on one established connection until it ends, or until shutdown
/// asks it to finish in-flight requests and close; `io` is a TCP or a TLS stream.
pub async fn serve_connection<IO>(io: IO, conn: ConnInfo, state: Arc<ServiceState>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let ctx = Arc::new((state.clone(), Arc::new(conn), activity.clone()));
    let svc = service_fn(move |mut req: Request<Incoming>| {
        let ctx = ctx.clone();
        async move {
            let (state, conn, activity) = &*ctx;
            let http2 = req.version() == Version::HTTP_2;
            let in_flight = activity.request_started(http2, req.body().size_hint().exact());
            let client_upgrade =
                service::upgrade_requested(req.headers()).then(|| hyper::upgrade::on(&mut req));
            let upgrade = client_upgrade.is_some();
            let mut response = service::handle(state, conn, req, upgrade).await;
            if let Some(on) = client_upgrade {
                splice_if_switched(state, conn, on, &mut response);
            }
            // The request is in flight until its response's last byte is sent: HTTP/1's next
            // head may begin then, and an HTTP/2 connection is not idle before (unless the
            // client stopped taking the response: `Watched`).
            Ok::<_, Infallible>(match http2 {
                true => response.map(|body| Watched::new(body, in_flight).boxed()),
                false => response.map(|body| exchange::with_guard(body, in_flight)),
            })
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
        // HTTP/2 streams that only wait for the client's window (it stopped reading, or never
        // sends WINDOW_UPDATE) for DOCKSIDE_IDLE_TIMEOUT: close at once, as nginx's
        // send_timeout does; a graceful drain would wait on those very streams.
        Either::Right(Some(Expired::Stalled)) => {
            tracing::debug!(
                "HTTP/2 client took no response data for {}s; closing",
                limits.idle_timeout.as_secs()
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

/// After a `101` from the backend, both upgraded connections are spliced together in a task
/// that keeps the client connection's permit (`upgrade`).
fn splice_if_switched(
    state: &ServiceState,
    conn: &ConnInfo,
    client: hyper::upgrade::OnUpgrade,
    response: &mut Response<ProxyBody>,
) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    let upstream = hyper::upgrade::on(&mut *response);
    ClientUpgrade {
        on: client,
        permit: conn.permit.clone(),
        tracker: state.tracker.clone(),
        shutdown: state.shutdown.clone(),
        idle: state.limits.upstream_timeout,
    }
    .spawn_splice(upstream);
}
