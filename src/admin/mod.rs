//! Admin listener (loopback by default): `/healthz` for Docker's HEALTHCHECK and load
//! balancers, `/status` with the route report, `POST /acme/renew` for `dockside renew`. Kept apart from the proxy listeners so a
//! misrouted host can never reach it; who may use it is `auth`'s gate.

mod auth;
mod renew;
mod report;

pub use auth::{AdminAuth, Gate};
pub use renew::request as request_renew;
pub(crate) use report::{client_cert_lines, port_hints, render};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::exchange::{ProxyBody, full};
use crate::live::Live;
use crate::model::DesiredState;

/// What the admin endpoints read: the same snapshots the data plane serves.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub state: watch::Receiver<Arc<DesiredState>>,
    pub live: Arc<Live>,
    /// Reaches the ACME reconciler; `None` when ACME is off.
    pub renewer: Option<crate::acme::Renewer>,
    /// Credentials and open paths (`DOCKSIDE_ADMIN_TOKEN`, …).
    pub auth: Arc<AdminAuth>,
}

/// Serves the admin endpoints until `token` is cancelled.
pub(crate) fn spawn(
    listener: TcpListener,
    admin: AdminState,
    token: CancellationToken,
) -> JoinHandle<()> {
    if let Ok(addr) = listener.local_addr()
        && !addr.ip().to_canonical().is_loopback()
        && !admin.auth.has_credential()
    {
        tracing::warn!(
            "the admin listener {addr} is not on loopback and has no credential: other addresses get only /healthz{}; set DOCKSIDE_ADMIN_TOKEN (or DOCKSIDE_ADMIN_TOKEN_FILE, DOCKSIDE_ADMIN_HTPASSWD)",
            if admin.auth.metrics_open {
                " and /metrics"
            } else {
                ""
            }
        );
    }
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("admin accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let admin = admin.clone();
            let local = stream.local_addr().unwrap_or(peer);
            let service = hyper::service::service_fn(move |req| {
                let admin = admin.clone();
                async move {
                    if let Some(refusal) = auth::admit(&admin.auth, &req, peer).await {
                        return Ok(refusal);
                    }
                    let resp = match req.uri().path() {
                        renew::PATH => {
                            renew::answer(&req, peer, local, admin.renewer.as_ref()).await
                        }
                        _ => answer(&req, &admin),
                    };
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
            });
        }
    })
}

fn answer(req: &Request<Incoming>, admin: &AdminState) -> Response<ProxyBody> {
    let text = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(full(body))
            .unwrap_or_default()
    };
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/status" => {
            let state = admin.state.borrow().clone();
            let live = admin.live.load();
            let mut report = report::render(&state, live.routes());
            report.push_str(&report::client_cert_lines(&live));
            text(StatusCode::OK, report)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "admin endpoints: /healthz /status, POST /acme/renew\n".into(),
        ),
    }
}

/// `dockside healthcheck`: true when the admin listener at `addr` answers `/healthz` with 200
/// within two seconds. A wildcard address is checked on loopback.
pub async fn healthcheck(addr: SocketAddr) -> bool {
    let target = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let probe = async {
        let stream = tokio::net::TcpStream::connect(target).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(conn);
        let req = Request::get("/healthz")
            .header(http::header::HOST, "localhost")
            .body(crate::exchange::empty())
            .ok()?;
        Some(sender.send_request(req).await.ok()?.status() == StatusCode::OK)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
