//! HTTP/3 wiring: the QUIC thread (`server::QuicServer`) with its UDP sockets bound at start or
//! when a site first asks for HTTP/3, and the `alt-svc` value HTTP/3 sites' answers carry.

use std::net::SocketAddr;

use tokio::sync::watch;

use super::Shared;
use crate::config::Config;
use crate::server::{self, QuicServer, QuicSockets};

/// With HTTPS: the HTTP/3 thread, its UDP sockets bound now when `ENABLE_HTTP3` is set or a
/// site of the first table asks for HTTP/3 (a failed bind fails startup), else bound when a
/// site first does. Returns the thread and the addresses bound now.
pub(super) fn spawn_quic(
    config: &Config,
    shared: &Shared,
    https_addrs: &[SocketAddr],
    wanted: watch::Receiver<bool>,
) -> anyhow::Result<(Option<QuicServer>, Vec<SocketAddr>)> {
    let Some(&https) = https_addrs.first() else {
        if config.defaults.http3 {
            tracing::warn!("ENABLE_HTTP3 is set but HTTPS is off (HTTPS_PORT=off): no HTTP/3");
        }
        return Ok((None, Vec::new()));
    };
    let addrs = server::quic_addrs(https, config.ipv6);
    let now = config.defaults.http3 || *wanted.borrow();
    let (sockets, bound) = if now {
        let sockets = server::bind_quic(https, config.ipv6)?;
        (QuicSockets::Bound(sockets), addrs)
    } else {
        (QuicSockets::WhenWanted { addrs, wanted }, Vec::new())
    };
    let tls = crate::tls::quic_config(shared.live.clone())?;
    let quic = QuicServer::spawn(sockets, tls, shared.state(config)?)?;
    Ok((Some(quic), bound))
}

/// nginx-proxy's `add_header alt-svc 'h3=":PORT"; ma=86400;'`, PORT the HTTPS port.
pub(super) fn alt_svc(port: u16) -> http::HeaderValue {
    let value = format!("h3=\":{port}\"; ma=86400");
    http::HeaderValue::from_str(&value).unwrap_or(http::HeaderValue::from_static("h3=\":443\""))
}
