//! The extra listeners sites ask for with `EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT`
//! (nginx-proxy §1.3): a port is bound when the route table first wants it and closed when no
//! site wants it any more, each with a cancel path of its own, while the default listeners (the
//! per-core workers) are never touched. They run on the control runtime: such a port carries a
//! site or two, not the proxy's main load.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::accept::accept_loop;
use super::listen::with_twin;
use super::workers::new_socket;
use crate::routing::{ExtraPort, ExtraPorts, PortKind};
use crate::service::ServiceState;
use crate::tls::TlsAcceptor;

/// Accept backlog of an extra listener.
const BACKLOG: u32 = 1024;

/// How often a port that could not be bound is tried again (logged once, not per try).
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Builds the service state of one extra listener from its port and its own stop token.
pub(crate) type StateFor =
    Box<dyn Fn(u16, CancellationToken) -> anyhow::Result<Arc<ServiceState>> + Send + Sync>;

/// Builds the TLS acceptor of one extra HTTPS port (it serves only that port's sites).
pub(crate) type TlsFor = Box<dyn Fn(u16) -> anyhow::Result<Arc<TlsAcceptor>> + Send + Sync>;

/// What the extra listeners are made of; `spawn` runs them.
pub(crate) struct ExtraListeners {
    pub state: StateFor,
    /// `None` with HTTPS off (the route table then never asks for an HTTPS port).
    pub tls: Option<TlsFor>,
    /// The addresses of dockside's own HTTP and HTTPS listeners: an extra port binds the same IP.
    pub http_ip: IpAddr,
    pub https_ip: IpAddr,
    /// `ENABLE_IPV6`: each extra port also gets the IPv6 twin of its address.
    pub ipv6: bool,
    pub tracker: TaskTracker,
}

/// An extra port being served.
struct Open {
    kind: PortKind,
    /// Stops its accept loop (the socket closes) and drains its connections.
    stop: CancellationToken,
}

impl ExtraListeners {
    /// Follows `wanted` (the route table's `extra_ports`) until `cancel`.
    pub(crate) fn spawn(self, wanted: watch::Receiver<ExtraPorts>, cancel: CancellationToken) {
        let tracker = self.tracker.clone();
        tracker.spawn(self.run(wanted, cancel));
    }

    async fn run(self, mut wanted: watch::Receiver<ExtraPorts>, cancel: CancellationToken) {
        let mut open: BTreeMap<u16, Open> = BTreeMap::new();
        // The last failure logged per port, so a rebuild does not repeat it.
        let mut failed: BTreeMap<u16, ExtraPort> = BTreeMap::new();
        loop {
            let want = wanted.borrow_and_update().clone();
            self.reconcile(&want, &mut open, &mut failed, &cancel);
            // A port that failed is tried again later (another server may free it, or a listener
            // just closed for the same port is still going away), not only on the next change.
            let retry = async {
                if failed.is_empty() {
                    std::future::pending().await
                } else {
                    tokio::time::sleep(RETRY_EVERY).await
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = wanted.changed() => if changed.is_err() { return },
                _ = retry => {}
            }
        }
    }

    /// Closes the ports no site wants, then opens the new ones. A port that cannot be bound is
    /// logged once (site and setting named) and retried every `RETRY_EVERY`.
    fn reconcile(
        &self,
        want: &ExtraPorts,
        open: &mut BTreeMap<u16, Open>,
        failed: &mut BTreeMap<u16, ExtraPort>,
        cancel: &CancellationToken,
    ) {
        open.retain(|&port, l| {
            let keep = want.get(&port).is_some_and(|w| w.kind == l.kind);
            if !keep {
                l.stop.cancel();
                tracing::info!(
                    port,
                    "closed the extra listener: no site asks for it any more"
                );
            }
            keep
        });
        failed.retain(|port, _| want.contains_key(port));
        for (&port, extra) in want {
            if open.contains_key(&port) {
                continue;
            }
            match self.open(port, extra, cancel) {
                Ok(stop) => {
                    failed.remove(&port);
                    let kind = extra.kind;
                    open.insert(port, Open { kind, stop });
                    tracing::info!(
                        port,
                        "listening for {}={port} of {}",
                        kind.setting(),
                        extra.hosts.join(", ")
                    );
                }
                Err(why) => {
                    if failed.get(&port) != Some(extra) {
                        tracing::warn!("{why}; every other site and listener keeps working");
                        failed.insert(port, extra.clone());
                    }
                }
            }
        }
    }

    /// Binds `port` and starts its accept loops; returns its stop token.
    fn open(
        &self,
        port: u16,
        extra: &ExtraPort,
        cancel: &CancellationToken,
    ) -> Result<CancellationToken, String> {
        let what = format!(
            "{}={port} of {}",
            extra.kind.setting(),
            extra.hosts.join(", ")
        );
        let tls = match (extra.kind, &self.tls) {
            (PortKind::Http, _) => None,
            (PortKind::Https, Some(make)) => {
                Some(make(port).map_err(|e| format!("{what}: {e:#}"))?)
            }
            (PortKind::Https, None) => return Err(format!("{what}: HTTPS is off")),
        };
        let mut sockets = Vec::new();
        for (i, addr) in self.addresses(extra.kind, port).into_iter().enumerate() {
            let socket = bind(addr, i > 0)
                .map_err(|e| format!("cannot bind {addr} for {what}: {}", hint(&e)))?;
            sockets.push(socket);
        }
        let stop = cancel.child_token();
        let state = (self.state)(port, stop.clone()).map_err(|e| format!("{what}: {e:#}"))?;
        for socket in sockets {
            let serve = accept_loop(socket, state.clone(), self.tracker.clone(), tls.clone());
            self.tracker.spawn(serve);
        }
        Ok(stop)
    }

    /// Where an extra port listens: the IP of dockside's listener of the same scheme and, with
    /// `ENABLE_IPV6`, its IPv6 twin (`listen::with_twin`); each gets its own accept loop.
    fn addresses(&self, kind: PortKind, port: u16) -> Vec<SocketAddr> {
        let ip = match kind {
            PortKind::Http => self.http_ip,
            PortKind::Https => self.https_ip,
        };
        with_twin(SocketAddr::new(ip, port), self.ipv6)
    }
}

/// A plain listener (no `SO_REUSEPORT`: a port another process holds is "in use", never
/// shared). An IPv6 twin is IPv6-only, beside the IPv4 socket on the same port.
fn bind(addr: SocketAddr, only_v6: bool) -> std::io::Result<TcpListener> {
    let socket = new_socket(addr, only_v6)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What to do about the usual bind failures, in one phrase.
fn hint(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied — run as root, grant CAP_NET_BIND_SERVICE, or use a port above 1023"
                .to_owned()
        }
        std::io::ErrorKind::AddrInUse => {
            "address already in use — stop the other server or choose another port".to_owned()
        }
        _ => e.to_string(),
    }
}
