//! Thread-per-core serving, like nginx's workers: one single-threaded tokio runtime per core,
//! each with its own `SO_REUSEPORT` socket of every listen address (HTTP, HTTPS when on, and
//! their `[::]` twins with `ENABLE_IPV6`) and its own
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

/// One listen address as the workers serve it: its sockets (one per worker, from `bind`) and,
/// for HTTPS, the TLS acceptor they share.
pub struct Listener {
    pub sockets: Vec<std::net::TcpListener>,
    pub tls: Option<Arc<TlsAcceptor>>,
}

/// Binds `count` sockets to `addr` with `SO_REUSEPORT` (the kernel spreads connections over
/// them). `only_v6` (`IPV6_V6ONLY`) is for an `ENABLE_IPV6` twin: an IPv6 socket that also took
/// IPv4 would collide with the IPv4 listener on the same port. Must run inside a runtime; the
/// sockets are handed to the workers as std listeners.
pub fn bind(
    addr: SocketAddr,
    count: usize,
    only_v6: bool,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    // SO_REUSEPORT would silently share the port with another dockside already running there;
    // a plain bind first turns that into the usual "address in use".
    if addr.port() != 0 {
        let probe = new_socket(addr, only_v6)?;
        probe.bind(addr)?;
    }
    let mut addr = addr;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let socket = new_socket(addr, only_v6)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG)?;
        // Port 0: the first socket picks the port, the others join it.
        addr = listener.local_addr()?;
        out.push(listener.into_std()?);
    }
    Ok(out)
}

/// A TCP socket of `addr`'s family with `SO_REUSEADDR` (as std's `bind` sets it).
pub(super) fn new_socket(addr: SocketAddr, only_v6: bool) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if only_v6 {
        socket2::SockRef::from(&socket).set_only_v6(true)?;
    }
    Ok(socket)
}

/// The sockets one worker serves: its own of every listen address.
type WorkerSockets = Vec<(std::net::TcpListener, Option<Arc<TlsAcceptor>>)>;

impl Workers {
    /// Starts `threads` workers; worker `i` serves socket `i` of every listener (each has
    /// `threads` sockets, from `bind`). `state_for` builds each worker's service state (its own
    /// upstream pool). Connections are tracked by `tracker` so shutdown can wait for them.
    pub fn spawn(
        listeners: Vec<Listener>,
        threads: usize,
        state_for: impl Fn() -> anyhow::Result<Arc<ServiceState>>,
        tracker: &TaskTracker,
    ) -> anyhow::Result<Workers> {
        let hard_stop = CancellationToken::new();
        let mut per_worker: Vec<WorkerSockets> = (0..threads).map(|_| Vec::new()).collect();
        for listener in listeners {
            for (i, socket) in listener.sockets.into_iter().enumerate() {
                if let Some(mine) = per_worker.get_mut(i) {
                    mine.push((socket, listener.tls.clone()));
                }
            }
        }
        let mut handles = Vec::with_capacity(threads);
        for (i, sockets) in per_worker.into_iter().enumerate() {
            let state = state_for()?;
            let (tracker, hard_stop) = (tracker.clone(), hard_stop.clone());
            let thread = std::thread::Builder::new()
                .name(format!("dockside-w{i}"))
                .spawn(move || run_worker(sockets, state, tracker, hard_stop))?;
            handles.push(thread);
        }
        Ok(Workers {
            threads: handles,
            hard_stop,
        })
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
    sockets: WorkerSockets,
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
        // One task per listen address: a connection on one does not poll the others' loops.
        let mut loops = Vec::with_capacity(sockets.len());
        for (socket, tls) in sockets {
            match TcpListener::from_std(socket) {
                Ok(listener) => loops.push(tokio::spawn(accept_loop(
                    listener,
                    state.clone(),
                    tracker.clone(),
                    tls,
                ))),
                Err(e) => {
                    tracing::error!("worker cannot register its listener: {e}");
                    return;
                }
            }
        }
        for accept in loops {
            let _ = accept.await;
        }
        // Keep this runtime alive while its connections drain (or until the deadline).
        tokio::select! {
            _ = tracker.wait() => {}
            _ = hard_stop.cancelled() => {}
        }
    });
}
