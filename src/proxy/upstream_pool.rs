//! One worker's upstream connections: idle HTTP/1.1 keep-alive connections per backend, reused
//! most-recent first, like nginx's `keepalive` in an `upstream` block.
//!
//! Each connection is a hyper `client::conn::http1` whose connection future is driven by the
//! request that uses it, not by a task of its own: the send polls it until the response head
//! arrives, then the response body polls it as the client reads. A request therefore crosses no
//! task boundary on its way to the backend and back (no wake-up, no channel hop), the way an
//! nginx worker handles both sockets of a request in one event loop. The connection goes back
//! to the pool when the response body has been read to its end (the body wrapper's drop hands
//! it back); a response abandoned half-read closes its connection instead, since its remaining
//! bytes would poison the next exchange. An idle pooled connection is not polled: one the
//! backend closed meanwhile is noticed when it is next picked, before anything is written, and
//! the request moves on to another connection. WebSocket upgrades use a connection of their
//! own, driven by a task, that never returns to the pool.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::model::BackendAddr;
use crate::proxy::body::{BoxError, ProxyBody};

/// Idle connections are closed after this long unused (below common backend keep-alive
/// timeouts, so we rarely pick one the backend is closing at that very moment).
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// At most this many idle connections are kept per backend and worker (nginx's `keepalive`).
const MAX_IDLE_PER_BACKEND: usize = 256;

/// Why no response came back. `Connect` means nothing reached the backend (safe to retry on
/// another); `Exchange` means the request may have been (partly) sent.
#[derive(Debug)]
pub enum SendError {
    Connect(std::io::Error),
    Exchange(hyper::Error),
}

/// The pool of one worker, cheap to clone (the body wrapper holds a clone to return its
/// connection).
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    idle: Mutex<Idle>,
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
}

#[derive(Default)]
struct Idle {
    by_backend: HashMap<Key, Vec<IdleConn>>,
    last_sweep: Option<Instant>,
}

/// Plain and TLS connections to the same address are different pools.
type Key = (BackendAddr, bool);

struct IdleConn {
    conn: Conn,
    since: Instant,
}

/// One upstream connection: the request side and the future that does its IO.
struct Conn {
    sender: SendRequest<ProxyBody>,
    driver: Driver,
}

type ConnFuture = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// The connection future, polled by whichever request holds the connection; `None` once the
/// connection has ended. The mutex is never locked (`get_mut`): it only makes the future
/// `Sync`, which the boxed response body requires.
struct Driver(Mutex<Option<ConnFuture>>);

impl Driver {
    /// Moves the connection's IO forward; ready once the connection has ended.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let slot = self.0.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some(conn) = slot else {
            return Poll::Ready(());
        };
        match conn.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                if let Err(e) = result {
                    tracing::debug!("upstream connection ended: {e}");
                }
                *slot = None;
                Poll::Ready(())
            }
        }
    }

    fn ended(&mut self) -> bool {
        self.0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

impl Pool {
    pub fn new(tls: rustls::ClientConfig, connect_timeout: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                idle: Mutex::new(Idle::default()),
                tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
                connect_timeout,
            }),
        }
    }

    /// Sends `req` (origin-form target, `Host` already set) to `backend`, over TLS when `tls`.
    /// A pooled connection found closed before the request was written is replaced by the
    /// next one or a fresh one; the request is never sent twice. `upgrade`: the client asked
    /// to switch protocols, so the connection may become the upgraded one and is not pooled.
    pub async fn send(
        &self,
        mut req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        upgrade: bool,
    ) -> Result<Response<ProxyBody>, SendError> {
        if upgrade {
            let mut sender = self.connect(backend, tls, Mode::Spawned).await?.sender;
            let resp = sender
                .send_request(req)
                .await
                .map_err(SendError::Exchange)?;
            return Ok(resp.map(|body| self.body(body, None)));
        }
        let key = (backend.clone(), tls);
        while let Some(mut conn) = self.checkout(&key) {
            if !ready_now(&mut conn).await {
                continue;
            }
            match exchange(&mut conn, req).await {
                Ok(resp) => return Ok(resp.map(|body| self.body(body, Some((key, conn))))),
                // Closed under us before anything was written: try the next one.
                Err(mut e) => match e.take_message() {
                    Some(back) => req = back,
                    None => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
        let mut conn = self.connect(backend, tls, Mode::Inline).await?;
        match exchange(&mut conn, req).await {
            Ok(resp) => Ok(resp.map(|body| self.body(body, Some((key, conn))))),
            Err(e) => Err(SendError::Exchange(e.into_error())),
        }
    }

    /// The most recently used idle connection; expired ones are dropped (closing them), and
    /// every `POOL_IDLE` the other backends' lists are swept too.
    fn checkout(&self, key: &Key) -> Option<Conn> {
        let now = Instant::now();
        let mut idle = self.lock();
        if idle
            .last_sweep
            .is_none_or(|t| now.duration_since(t) > POOL_IDLE)
        {
            idle.last_sweep = Some(now);
            idle.by_backend.retain(|_, conns| {
                conns.retain(|c| !expired(c, now));
                !conns.is_empty()
            });
        }
        let conns = idle.by_backend.get_mut(key)?;
        let conn = conns.pop()?;
        if expired(&conn, now) {
            // Older ones are further down the stack: all expired.
            conns.clear();
            return None;
        }
        Some(conn.conn)
    }

    fn checkin(&self, key: Key, conn: Conn) {
        let mut idle = self.lock();
        let conns = idle.by_backend.entry(key).or_default();
        if conns.len() < MAX_IDLE_PER_BACKEND {
            conns.push(IdleConn {
                conn,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection: TCP (nodelay) or unix socket, TLS when asked (no SNI for IP
    /// addresses, like nginx's default `proxy_ssl_server_name off`), then the HTTP/1.1
    /// handshake.
    async fn connect(
        &self,
        backend: &BackendAddr,
        tls: bool,
        mode: Mode,
    ) -> Result<Conn, SendError> {
        let connect = async {
            match backend {
                BackendAddr::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    let name = ServerName::IpAddress((addr.ip()).into());
                    self.handshake(stream, tls.then_some(name), mode).await
                }
                BackendAddr::Name { host, port } => {
                    let stream = TcpStream::connect((host.as_str(), *port)).await?;
                    stream.set_nodelay(true)?;
                    let name = if tls {
                        Some(ServerName::try_from(host.clone()).map_err(|e| {
                            std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
                        })?)
                    } else {
                        None
                    };
                    self.handshake(stream, name, mode).await
                }
                BackendAddr::Unix(path) => {
                    if tls {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "VIRTUAL_PROTO=https needs a TCP backend, not a unix socket",
                        ));
                    }
                    let stream = UnixStream::connect(path).await?;
                    self.handshake(stream, None, mode).await
                }
            }
        };
        match tokio::time::timeout(self.inner.connect_timeout, connect).await {
            Ok(result) => result.map_err(SendError::Connect),
            Err(_) => Err(SendError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "connect timed out after {}s",
                    self.inner.connect_timeout.as_secs()
                ),
            ))),
        }
    }

    async fn handshake<IO>(
        &self,
        stream: IO,
        tls: Option<ServerName<'static>>,
        mode: Mode,
    ) -> std::io::Result<Conn>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match tls {
            None => start(stream, mode).await,
            Some(name) => start(self.inner.tls.connect(name, stream).await?, mode).await,
        }
    }

    /// The response body for the client, carrying its connection (if poolable) back here.
    fn body(&self, body: Incoming, conn: Option<(Key, Conn)>) -> ProxyBody {
        let give_back = conn.map(|(key, conn)| GiveBack {
            pool: self.clone(),
            key,
            conn,
        });
        http_body_util::BodyExt::boxed(PooledBody {
            body,
            ended: false,
            give_back,
        })
    }
}

fn expired(conn: &IdleConn, now: Instant) -> bool {
    now.duration_since(conn.since) > POOL_IDLE
}

/// Who drives a new connection's IO.
#[derive(Clone, Copy)]
enum Mode {
    /// The requests that use it (pooled connections).
    Inline,
    /// A task of its own, with upgrades (a WebSocket handshake).
    Spawned,
}

async fn start<IO>(io: IO, mode: Mode) -> std::io::Result<Conn>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(std::io::Error::other)?;
    let driver = match mode {
        Mode::Inline => Some(Box::pin(conn) as ConnFuture),
        Mode::Spawned => {
            tokio::spawn(async move {
                if let Err(e) = conn.with_upgrades().await {
                    tracing::debug!("upstream connection ended: {e}");
                }
            });
            None
        }
    };
    Ok(Conn {
        sender,
        driver: Driver(Mutex::new(driver)),
    })
}

/// Whether a pooled connection can take a request now. Its driver is polled so that the end
/// of the previous exchange (or the backend closing it) is noticed; a connection still busy
/// after that, e.g. finishing an upload the backend answered early, is not waited for.
async fn ready_now(conn: &mut Conn) -> bool {
    let Conn { sender, driver } = conn;
    poll_fn(|cx| {
        for _ in 0..2 {
            match sender.poll_ready(cx) {
                Poll::Ready(result) => return Poll::Ready(result.is_ok()),
                Poll::Pending => {}
            }
            if driver.poll(cx).is_ready() {
                return Poll::Ready(false);
            }
        }
        Poll::Ready(false)
    })
    .await
}

/// Sends `req` and drives the connection until the response head is in. On failure the error
/// still holds the request if nothing of it was written.
async fn exchange(
    conn: &mut Conn,
    req: Request<ProxyBody>,
) -> Result<Response<Incoming>, TrySendError<Request<ProxyBody>>> {
    let Conn { sender, driver } = conn;
    let mut response = pin!(sender.try_send_request(req));
    poll_fn(|cx| {
        if let Poll::Ready(result) = response.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        if driver.poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The connection just ended, which fails the request (or delivered its answer).
        response.as_mut().poll(cx)
    })
    .await
}

struct GiveBack {
    pool: Pool,
    key: Key,
    conn: Conn,
}

/// The backend's response body. Polling it also drives the connection (which is what reads
/// the body from the socket); on drop the connection returns to the pool if the body was read
/// to its end.
struct PooledBody {
    body: Incoming,
    ended: bool,
    give_back: Option<GiveBack>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(give_back) = self.give_back.as_mut() {
            // Ended or not, the body channel still holds what the connection read.
            let _ = give_back.conn.driver.poll(cx);
        }
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.ended = true,
            Poll::Ready(Some(Err(_))) => self.give_back = None,
            _ => {}
        }
        polled.map_err(|e| Box::new(e) as BoxError)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        let Some(GiveBack {
            pool,
            key,
            mut conn,
        }) = self.give_back.take()
        else {
            return;
        };
        if (self.ended || self.body.is_end_stream()) && !conn.driver.ended() {
            pool.checkin(key, conn);
        }
    }
}

#[cfg(test)]
#[path = "upstream_pool_tests.rs"]
mod tests;
