//! Thread-per-core serving, like nginx's workers: one single-threaded tokio runtime per core,
//! each with its own `SO_REUSEPORT` listener sockets (HTTP, and HTTPS when on) and its own
//! upstream connection pool, so a request, its TLS session and the upstream connection serving
//! it never cross threads. Everything else
//! (route table, challenges, health, connection limit, shutdown) is shared.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::accept::accept_loop;
use crate::service::ServiceState;
use crate::tls::TlsAcceptor;

/// Accept backlog per listener socket.
const BACKLOG: u32 = 1024;

/// The worker threads of one listener address.
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
    /// Cancelled once the drain deadline has passed: workers drop their runtimes (and with
    /// them any connection still open).
    hard_stop: CancellationToken,
}

/// Binds `count` sockets to `addr` with `SO_REUSEPORT` (the kernel spreads connections over
/// them). Must run inside a runtime; the sockets are handed to the workers as std listeners.
pub fn bind(addr: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    // SO_REUSEPORT would silently share the port with another dockside already running there;
    // a plain bind first turns that into the usual "address in use".
    if addr.port() != 0 {
        drop(std::net::TcpListener::bind(addr)?);
    }
    let mut addr = addr;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG)?;
        // Port 0: the first socket picks the port, the others join it.
        addr = listener.local_addr()?;
        out.push(listener.into_std()?);
    }
    Ok(out)
}

impl Workers {
    /// Starts one thread per HTTP listener; the thread also serves the HTTPS listener of the
    /// same index when `https` is given (as many sockets as HTTP ones, from `bind`).
    /// `state_for` builds each worker's service state (its own upstream pool). Connections are
    /// tracked by `tracker` so shutdown can wait for them.
    pub fn spawn(
        listeners: Vec<std::net::TcpListener>,
        https: Option<(Vec<std::net::TcpListener>, Arc<TlsAcceptor>)>,
        state_for: impl Fn() -> anyhow::Result<Arc<ServiceState>>,
        tracker: &TaskTracker,
    ) -> anyhow::Result<Workers> {
        let hard_stop = CancellationToken::new();
        let mut threads = Vec::with_capacity(listeners.len());
        let (mut tls_sockets, acceptor) = match https {
            Some((sockets, acceptor)) => (sockets.into_iter(), Some(acceptor)),
            None => (Vec::new().into_iter(), None),
        };
        for (i, std_listener) in listeners.into_iter().enumerate() {
            let state = state_for()?;
            let tls = match (tls_sockets.next(), &acceptor) {
                (Some(socket), Some(acceptor)) => Some((socket, acceptor.clone())),
                _ => None,
            };
            let (tracker, hard_stop) = (tracker.clone(), hard_stop.clone());
            let thread = std::thread::Builder::new()
                .name(format!("dockside-w{i}"))
                .spawn(move || run_worker(std_listener, tls, state, tracker, hard_stop))?;
            threads.push(thread);
        }
        Ok(Workers { threads, hard_stop })
    }

    /// Ends the workers now (after the drain deadline, or when dockside is dropped).
    pub fn stop(&self) {
        self.hard_stop.cancel();
    }

    /// Whether every worker thread has ended.
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.hard_stop.cancel();
    }
}

fn run_worker(
    std_listener: std::net::TcpListener,
    tls: Option<(std::net::TcpListener, Arc<TlsAcceptor>)>,
    state: Arc<ServiceState>,
    tracker: TaskTracker,
    hard_stop: CancellationToken,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("worker runtime failed to start: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("worker cannot register its listener: {e}");
                return;
            }
        };
        let http = accept_loop(listener, state.clone(), tracker.clone(), None);
        match tls.map(|(socket, acceptor)| (TcpListener::from_std(socket), acceptor)) {
            None => http.await,
            Some((Ok(socket), acceptor)) => {
                let https = accept_loop(socket, state, tracker.clone(), Some(acceptor));
                tokio::join!(http, https);
            }
            Some((Err(e), _)) => {
                tracing::error!("worker cannot register its HTTPS listener: {e}");
                return;
            }
        }
        // Keep this runtime alive while its connections drain (or until the deadline).
        tokio::select! {
            _ = tracker.wait() => {}
            _ = hard_stop.cancelled() => {}
        }
    });
}
