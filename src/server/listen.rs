//! Listen addresses: the ones a configuration asks for (each IPv4 address with its IPv6 twin
//! under `ENABLE_IPV6`, `config::ipv6_twin`), binding them for the workers, and the one-line
//! bind errors that say what to do.

use std::net::SocketAddr;

use anyhow::Context;

use super::workers::bind;
use crate::config::{Config, ipv6_twin};

/// One listen address and its sockets, one per worker.
pub struct Bound {
    /// Where it is bound (the real port when asked for port 0).
    pub addr: SocketAddr,
    pub sockets: Vec<std::net::TcpListener>,
}

/// Binds `addr` and, with `ENABLE_IPV6`, its IPv6 twin on the port the first one got, so that
/// `127.0.0.1:0` and `[::1]` share one ephemeral port. The twin is IPv6-only: the IPv4 socket
/// already takes IPv4 on that port.
pub fn bind_with_twin(addr: SocketAddr, ipv6: bool, threads: usize) -> anyhow::Result<Vec<Bound>> {
    let sockets = bind(addr, threads, false).map_err(|e| bind_error(addr, e))?;
    let addr = sockets[0]
        .local_addr()
        .with_context(|| format!("reading the address of the listener on {addr}"))?;
    let mut bound = vec![Bound { addr, sockets }];
    if let Some(twin) = ipv6.then(|| ipv6_twin(addr)).flatten() {
        let sockets = bind(twin, threads, true)
            .map_err(|e| anyhow::anyhow!("ENABLE_IPV6: {:#}", bind_error(twin, e)))?;
        bound.push(Bound {
            addr: twin,
            sockets,
        });
    }
    Ok(bound)
}

/// The addresses `addr` is served on: itself, then its twin under `ENABLE_IPV6`.
pub fn with_twin(addr: SocketAddr, ipv6: bool) -> Vec<SocketAddr> {
    let twin = ipv6.then(|| ipv6_twin(addr)).flatten();
    std::iter::once(addr).chain(twin).collect()
}

/// `dockside check`'s line about the listeners a run would open (HTTP/3's UDP ones with
/// `ENABLE_HTTP3`), and whether each connection must begin with a PROXY protocol header.
pub fn describe(config: &Config) -> String {
    let list = |addr| {
        with_twin(addr, config.ipv6)
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let https = config.https.map_or_else(|| "off".to_owned(), list);
    // Without ENABLE_HTTP3, a site's label binds QUIC later; the site report says which.
    let quic = match config.https {
        Some(addr) if config.defaults.http3 => format!("; HTTP/3 (QUIC, UDP) {}", list(addr)),
        _ => String::new(),
    };
    let proxy = if config.proxy_protocol {
        "PROXY protocol header expected before every connection (ENABLE_PROXY_PROTOCOL)"
    } else {
        "no PROXY protocol"
    };
    format!(
        "listeners: HTTP {}; HTTPS {https}{quic}; {proxy}",
        list(config.http)
    )
}

/// Turns the usual bind failures into one line that says what to do.
pub fn bind_error(addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied — run as root, grant CAP_NET_BIND_SERVICE, or use a port above 1023 (e.g. --http 8080)".to_owned(),
        std::io::ErrorKind::AddrInUse => {
            "address already in use — stop the other server or choose another port".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "address not available — is IPv6 (or this address) configured on this machine?".to_owned()
        }
        _ => e.to_string(),
    };
    anyhow::anyhow!("cannot bind {addr}: {hint}")
}
