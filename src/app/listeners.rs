//! The sockets dockside serves on, bound before anything serves them: HTTP and HTTPS (each
//! with its `ENABLE_IPV6` twin, one socket per worker) and the optional admin listener.

use std::net::SocketAddr;

use super::worker_count;
use crate::config::Config;
use crate::server::{Bound, bind_error, bind_with_twin};

/// The bound sockets, before anything serves them: a taken port fails startup here.
pub(super) struct Listeners {
    /// One worker thread (and one `SO_REUSEPORT` socket per listen address) per core.
    pub(super) threads: usize,
    /// The HTTP address, then its IPv6 twin with `ENABLE_IPV6`.
    pub(super) http: Vec<Bound>,
    /// Likewise for HTTPS; empty with `--https off`.
    pub(super) https: Vec<Bound>,
    pub(super) admin: Option<tokio::net::TcpListener>,
    pub(super) admin_addr: Option<SocketAddr>,
}

impl Listeners {
    pub(super) async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let threads = worker_count();
        let http = bind_with_twin(config.http, config.ipv6, threads)?;
        let https = match config.https {
            Some(addr) => bind_with_twin(addr, config.ipv6, threads)?,
            None => Vec::new(),
        };
        let admin = match config.admin {
            Some(addr) => bind_admin(addr).await,
            None => None,
        };
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
        Ok(Listeners {
            threads,
            http,
            https,
            admin,
            admin_addr,
        })
    }

    pub(super) fn http_addrs(&self) -> Vec<SocketAddr> {
        self.http.iter().map(|b| b.addr).collect()
    }

    pub(super) fn https_addrs(&self) -> Vec<SocketAddr> {
        self.https.iter().map(|b| b.addr).collect()
    }
}

/// The admin listener is optional for serving: a second dockside on the same machine (blue/green)
/// finds the default port taken and serves without status, metrics and health, saying so once.
async fn bind_admin(addr: SocketAddr) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(
                "{}; serving without the admin listener (/healthz, /status, /metrics): give this instance its own with --admin IP:PORT (DOCKSIDE_ADMIN), or --admin off",
                bind_error(addr, e)
            );
            None
        }
    }
}
