//! Forwarding to FastCGI responders such as PHP-FPM (`VIRTUAL_PROTO=fastcgi`), as nginx-proxy's
//! `include fastcgi.conf; root $VIRTUAL_ROOT; fastcgi_pass …; fastcgi_keep_conn on` does.
//!
//! The pure parts ([`codec`]: records and name-value pairs; [`params`]: what `fastcgi.conf`
//! sends) do no IO; `client` owns the socket for one exchange, `body` streams the response,
//! `conn` keeps idle connections, and `stdin` frames the request body. What FastCGI shares with
//! uwsgi — CGI meta-variables, the `Status:` response head, a body sized by `CONTENT_LENGTH`
//! (spooled first when the client did not say) — comes from `uwsgi::cgi`.

pub(crate) mod codec;
pub(crate) mod params;

mod body;
mod client;
mod conn;
mod stdin;

use http::{Request, Response};

pub use body::FastcgiBodyError;
pub(crate) use conn::Pool;

use crate::exchange::{ProxyBody, ProxyError, RequestMeta};
use crate::model::BackendAddr;
use crate::upstream::uwsgi::{UwsgiOptions, cgi};

/// Where and how one location's requests go.
pub(crate) struct Target<'a> {
    pub addr: &'a BackendAddr,
    /// `VIRTUAL_ROOT` of the site.
    pub root: &'a str,
    /// The location's keep-alive (the `keepalive` label is not `disabled`).
    pub keepalive: bool,
}

/// Forwards `req` (headers already rewritten by the proxy) to the FastCGI backend.
///
/// Errors before the response head map to a status through [`ProxyError`] (refused → 502,
/// no head in time → 504); after it, the body yields a [`FastcgiBodyError`] so the client sees
/// an aborted response rather than a truncated one. The request body is bounded like uwsgi's:
/// `CLIENT_MAX_BODY_SIZE`, and a body of unknown length is spooled to learn `CONTENT_LENGTH`.
pub(crate) async fn forward(
    req: Request<ProxyBody>,
    meta: &RequestMeta,
    target: Target<'_>,
    opts: &UwsgiOptions,
    pool: &Pool,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (parts, body) = req.into_parts();
    let upload = cgi::prepare(&parts.headers, body, meta.body_limit, opts).await?;
    let prefix =
        params::request_prefix(&parts, meta, target.root, upload.length(), target.keepalive)
            .map_err(|e| ProxyError::HeadersTooLarge(e.to_string()))?;
    let deadlines = client::Deadlines {
        connect: meta.timeouts.connect.unwrap_or(opts.connect_timeout),
        idle: meta.timeouts.read.unwrap_or(opts.read_timeout),
        send: meta
            .timeouts
            .send
            .or(meta.timeouts.read)
            .unwrap_or(opts.read_timeout),
    };
    let exchange = client::Exchange {
        addr: target.addr,
        prefix,
        method: &parts.method,
        deadlines,
        keep: target.keepalive,
        pool,
        host: &meta.host,
    };
    client::exchange(exchange, upload).await
}
