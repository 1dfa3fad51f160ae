//! `POST /acme/renew?host=…&force=true` on the admin listener, and the client half that
//! `dockside renew [--force] [HOST…]` runs (acme-companion's `force_renew`). Only a loopback
//! peer may ask: the admin listener has no credentials, and an order costs CA rate limits, so
//! a listener published beyond the machine still cannot be made to order (`docker exec` and
//! the host itself are loopback).
//!
//! A loopback peer is not enough: a web page in a browser on the same machine can POST there
//! too (a no-cors "simple" request, or through DNS rebinding under its own name). So a request
//! must also carry [`RENEW_HEADER`] (a custom header makes a browser preflight, which this
//! endpoint never answers with CORS), must not carry `Origin` (browsers send it, the CLI does
//! not), and must name a loopback host, `localhost` or the admin address in `Host` (a rebound
//! name fails this).

use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};

use crate::acme::{RenewError, Renewer};
use crate::exchange::{ProxyBody, full};

/// The endpoint's path.
pub const PATH: &str = "/acme/renew";

/// The header `dockside renew` sends, value `1`; see the module comment.
pub const RENEW_HEADER: &str = "x-dockside-renew";

/// The reconciler answers at once (it only schedules); this bounds a wedged one.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a renew request asks for, parsed from the query (pure).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenewQuery {
    pub hosts: Vec<String>,
    pub force: bool,
}

impl RenewQuery {
    /// `host=a&host=b&force=true`; unknown keys and bad values are errors naming them.
    pub fn parse(query: Option<&str>) -> Result<RenewQuery, String> {
        let mut q = RenewQuery::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "host" if is_host(value) => q.hosts.push(value.to_owned()),
                "host" => return Err(format!("host={value:?} is not a host name")),
                "force" => {
                    q.force = crate::settings::parse_bool("force", value)?;
                }
                _ => {
                    return Err(format!(
                        "unknown parameter {key:?} (use host=… and force=true)"
                    ));
                }
            }
        }
        Ok(q)
    }

    fn to_query(&self) -> String {
        let mut parts: Vec<String> = self.hosts.iter().map(|h| format!("host={h}")).collect();
        if self.force {
            parts.push("force=true".into());
        }
        parts.join("&")
    }
}

/// Host names (and `*.` wildcards) only: nothing that would need escaping in a query.
fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '_'))
}

/// Why a request from a loopback peer is still refused (the 403 body), or `None`: the
/// browser defences described in the module comment. `local` is the admin listener's address.
fn browser_refusal(headers: &http::HeaderMap, local: SocketAddr) -> Option<&'static str> {
    if headers.contains_key(http::header::ORIGIN) {
        return Some(
            "renew requests carrying an Origin header (from a web page) are refused: use `dockside renew`\n",
        );
    }
    if headers
        .get(RENEW_HEADER)
        .is_none_or(|v| v.as_bytes() != b"1")
    {
        return Some(
            "renew requests need the header X-Dockside-Renew: 1 (as `dockside renew` sends): use `dockside renew`\n",
        );
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok());
    match host {
        Some(a) if is_local_host(a.host(), local) => None,
        _ => Some(
            "renew requests must name localhost, a loopback address or the admin address in Host: use `dockside renew`\n",
        ),
    }
}

/// `localhost`, a loopback address, or the address the admin listener was reached on.
fn is_local_host(host: &str, local: SocketAddr) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok_and(|ip| {
        let ip = ip.to_canonical();
        ip.is_loopback() || ip == local.ip().to_canonical()
    })
}

/// Serves one renew request; `local` is the admin listener's address as the peer reached it.
pub(crate) async fn answer<B>(
    req: &Request<B>,
    peer: SocketAddr,
    local: SocketAddr,
    renewer: Option<&Renewer>,
) -> Response<ProxyBody> {
    if req.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n".into());
    }
    if !peer.ip().to_canonical().is_loopback() {
        tracing::warn!(%peer, "refused a renew request from a non-loopback address");
        return text(
            StatusCode::FORBIDDEN,
            "renew requests are accepted from loopback only: run `dockside renew` inside dockside's container or host\n".into(),
        );
    }
    if let Some(why) = browser_refusal(req.headers(), local) {
        tracing::warn!(%peer, "refused a renew request: {}", why.trim_end());
        return text(StatusCode::FORBIDDEN, why.into());
    }
    let Some(renewer) = renewer else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "ACME is off in this dockside (HTTPS_PORT=off): nothing to renew\n".into(),
        );
    };
    let query = match RenewQuery::parse(req.uri().query()) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let asked = renewer.renew(query.hosts, query.force);
    let outcome = match tokio::time::timeout(ANSWER_TIMEOUT, asked).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e @ RenewError::Busy)) => {
            return text(StatusCode::TOO_MANY_REQUESTS, format!("{e}\n"));
        }
        Ok(Err(e)) => return text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
        Err(_) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the ACME reconciler did not answer\n".into(),
            );
        }
    };
    let mut body = String::new();
    let verb = if query.force {
        "ordering now"
    } else {
        "checking now"
    };
    for base in &outcome.scheduled {
        body.push_str(&format!("{verb}: {base}\n"));
    }
    for host in &outcome.unknown {
        body.push_str(&format!("no certificate is wanted for {host}\n"));
    }
    if outcome.scheduled.is_empty() && outcome.unknown.is_empty() {
        body.push_str("no certificate is wanted\n");
    }
    let status = match outcome.unknown.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::NOT_FOUND,
    };
    text(status, body)
}

fn text(status: StatusCode, body: String) -> Response<ProxyBody> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(full(body))
        .unwrap_or_default()
}

/// `dockside renew`: asks the admin listener at `addr` (a wildcard address is reached on
/// loopback), with `token` (`DOCKSIDE_ADMIN_TOKEN`) when one is set; returns the status and
/// the body to print.
pub async fn request(
    addr: SocketAddr,
    token: Option<&str>,
    hosts: Vec<String>,
    force: bool,
) -> Result<(StatusCode, String), String> {
    let query = RenewQuery { hosts, force }.to_query();
    let req = Request::post(format!("{PATH}?{query}")).header(RENEW_HEADER, "1");
    let timeout = ANSWER_TIMEOUT + Duration::from_secs(5);
    let (_, status, body) = super::client::call(addr, token, req, timeout).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
#[path = "renew_tests.rs"]
mod tests;
