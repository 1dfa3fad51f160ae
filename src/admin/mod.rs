//! Admin listener (loopback by default): the dashboard at `/`, the JSON API under `/api/v1/`,
//! `/metrics`, `/healthz` for Docker's HEALTHCHECK and load balancers, `/status` with the route
//! report, `POST /acme/renew` for `dockside renew`. Kept apart from the proxy listeners so a
//! misrouted host can never reach it; who may use it is `auth`'s gate.

pub mod api;
mod auth;
mod client;
mod control_metrics;
mod dashboard;
mod renew;
mod report;
mod traffic;
mod url;
mod view;

pub use auth::{AdminAuth, Gate};
pub use client::overview as fetch_overview;
pub(crate) use control_metrics::encode_control;
pub use renew::request as request_renew;
pub(crate) use report::{client_cert_lines, port_hints, render};
pub use traffic::{Sampler, TrafficSource};
pub(crate) use view::TrafficRates;

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
use crate::metrics::Metrics;
use crate::model::DesiredState;

/// What the admin endpoints read: the same snapshots the data plane serves.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub state: watch::Receiver<Arc<DesiredState>>,
    pub live: Arc<Live>,
    /// Reaches the ACME reconciler; `None` when ACME is off.
    pub renewer: Option<crate::acme::Renewer>,
    /// ACME counters and per-certificate states; `None` when ACME is off.
    pub acme: Option<Arc<crate::acme::Stats>>,
    /// The providers' connection and reload state.
    pub providers: Arc<crate::discovery::ProviderStatus>,
    /// Passive health: which backends are skipped right now.
    pub health: Arc<crate::upstream::PassiveHealth>,
    /// Recent request rates per site for the dashboard.
    pub traffic: TrafficRates,
    /// The data plane's counters; `None` with `DOCKSIDE_METRICS=off`.
    pub metrics: Option<Arc<Metrics>>,
    /// Credentials and open paths (`DOCKSIDE_ADMIN_TOKEN`, …).
    pub auth: Arc<AdminAuth>,
    /// The shared store (`--store`), whose reachability `/status` reports.
    pub store: Option<crate::store::SharedStore>,
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
    let typed = |status: StatusCode, kind: &'static str, body: String| {
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, kind)
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(full(body))
            .unwrap_or_default()
    };
    let text = |status: StatusCode, body: String| typed(status, "text/plain; charset=utf-8", body);
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix(api::PREFIX) {
        let Some(rest) = url::percent_decode(rest, false) else {
            return text(StatusCode::BAD_REQUEST, "the path is not UTF-8\n".into());
        };
        let (status, body) = api::answer(&rest, &view::overview(admin));
        return typed(status, "application/json", body);
    }
    match path {
        "/" => {
            let site = dashboard::site_param(req.uri().query());
            let page = dashboard::render(&view::overview(admin), site.as_deref());
            typed(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/metrics" => metrics(admin),
        "/status" => {
            let state = admin.state.borrow().clone();
            let live = admin.live.load();
            let mut report = report::render(&state, live.routes());
            report.push_str(&report::client_cert_lines(&live));
            if let Some(store) = &admin.store {
                report.push_str(&report::store_line(&store.health(), store.replica()));
            }
            text(StatusCode::OK, report)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "admin endpoints: / (dashboard) /api/v1/ /metrics /healthz /status, POST /acme/renew\n"
                .into(),
        ),
    }
}

/// OpenMetrics text: the data plane's families, then the control plane's, then `# EOF`.
fn metrics(admin: &AdminState) -> Response<ProxyBody> {
    let Some(metrics) = &admin.metrics else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(full("metrics are off (DOCKSIDE_METRICS=off)\n"))
            .unwrap_or_default();
    };
    let mut body = String::with_capacity(16 * 1024);
    metrics.encode(&mut body);
    encode_control(&view::overview(admin), &mut body);
    body.push_str("# EOF\n");
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, control_metrics::CONTENT_TYPE)
        .body(full(body))
        .unwrap_or_default()
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
