//! `dockside routes`: asks the running dockside's admin listener for its model
//! (`GET /api/v1/overview`), so the terminal shows what the dashboard shows.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use super::api::Overview;

/// How long the whole call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The running instance's model; a wildcard admin address is reached on loopback, with `token`
/// (`DOCKSIDE_ADMIN_TOKEN`) when one is set.
pub async fn overview(addr: SocketAddr, token: Option<&str>) -> Result<Overview, String> {
    let req = Request::get(format!("{}overview", super::api::PREFIX));
    let (target, status, body) = call(addr, token, req, TIMEOUT).await?;
    if status != StatusCode::OK {
        return Err(format!(
            "admin listener at {target} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        format!("admin listener at {target}: not the model this dockside knows ({e}); is it the same version?")
    })
}

/// One request of the CLI (`dockside routes`, `dockside renew`) to the running instance's admin
/// listener, as `Host: localhost` with `token` as a Bearer credential when one is set, within
/// `timeout`. Returns the address reached, the status and the body.
pub(super) async fn call(
    addr: SocketAddr,
    token: Option<&str>,
    req: http::request::Builder,
    timeout: Duration,
) -> Result<(SocketAddr, StatusCode, Bytes), String> {
    let target = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let call = async {
        let stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| format!("cannot reach dockside's admin listener at {target} ({e}): is dockside running, with DOCKSIDE_ADMIN on?"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("admin listener at {target}: {e}"))?;
        tokio::spawn(conn);
        let mut req = req.header(http::header::HOST, "localhost");
        if let Some(token) = token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(crate::exchange::empty())
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("admin listener at {target}: {e}"))?;
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map_err(|e| format!("admin listener at {target}: {e}"))?
            .to_bytes();
        Ok((target, status, body))
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| format!("no answer from dockside's admin listener at {target}"))?
}
