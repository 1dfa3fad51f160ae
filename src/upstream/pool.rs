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
//!
//! Requests without a body (most of them: GET, HEAD) do not use hyper's client at all but
//! `h1::wire`, which writes the head and parses the answer itself; those connections are
//! pooled in stacks of their own. hyper keeps what needs its machinery: streaming a request
//! body while watching for an early answer, and upgrades.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::{TcpStream, UnixStream};

use super::h1::codec::{self, Head};
use super::h1::wire::{self, Io, Recycle, WireConn};
use crate::exchange::is_idempotent;
use crate::exchange::{BoxError, ProxyBody};
use crate::metrics::IdlePool;
use crate::model::BackendAddr;

/// Idle connections are closed after this long unused (below common backend keep-alive
/// timeouts, so we rarely pick one the backend is closing at that very moment).
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// At most this many idle connections are kept per backend and worker (nginx's `keepalive`,
/// Envoy's default connection limit per cluster). A cap below the concurrency a backend sees
/// makes the pool close connections that are needed again a moment later (docs/benchmarks.md,
/// "Figures behind choices in the code"). Idle connections still close after `POOL_IDLE`.
const MAX_IDLE_PER_BACKEND: usize = 1024;

/// Why no response came back. `Connect` means nothing reached the backend (safe to retry on
/// another); `Exchange` means the request may have been (partly) sent.
#[derive(Debug)]
pub enum SendError {
    Connect(std::io::Error),
    Exchange(BoxError),
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
    hyper: Stacks<Conn>,
    wire: Stacks<WireConn>,
    last_sweep: Option<Instant>,
}

/// Plain and TLS connections to the same address are different pools.
type Key = (BackendAddr, bool);

/// Idle connections per backend, most recently used on top.
struct Stacks<C> {
    by_backend: HashMap<Key, Vec<(C, Instant)>>,
}

impl<C> Default for Stacks<C> {
    fn default() -> Self {
        Stacks {
            by_backend: HashMap::new(),
        }
    }
}

impl<C> Stacks<C> {
    /// The most recently used connection that has not expired; expired ones are dropped
    /// (closing them).
    fn pop(&mut self, key: &Key, now: Instant) -> Option<C> {
        let conns = self.by_backend.get_mut(key)?;
        let (conn, since) = conns.pop()?;
        if now.duration_since(since) > POOL_IDLE {
            // Older ones are further down the stack: all expired.
            conns.clear();
            return None;
        }
        Some(conn)
    }

    fn push(&mut self, key: Key, conn: C, now: Instant) {
        let conns = self.by_backend.entry(key).or_default();
        if conns.len() < MAX_IDLE_PER_BACKEND {
            conns.push((conn, now));
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.by_backend.retain(|_, conns| {
            conns.retain(|(_, since)| now.duration_since(*since) <= POOL_IDLE);
            !conns.is_empty()
        });
    }
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
        req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        upgrade: bool,
        connect_timeout: Option<Duration>,
    ) -> Result<Response<ProxyBody>, SendError> {
        if upgrade {
            let io = self.connect(backend, tls, connect_timeout).await?;
            let mut sender = start(io, Mode::Spawned)
                .await
                .map_err(SendError::Connect)?
                .sender;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| SendError::Exchange(Box::new(e)))?;
            let mut resp = resp.map(|body| self.body(body, None));
            *resp.version_mut() = Version::HTTP_11;
            return Ok(resp);
        }
        if req.body().is_end_stream() {
            return self.send_bodiless(req, backend, tls, connect_timeout).await;
        }
        self.send_with_body(req, backend, tls, connect_timeout)
            .await
    }

    /// A request with a body, over hyper's client.
    async fn send_with_body(
        &self,
        mut req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        connect_timeout: Option<Duration>,
    ) -> Result<Response<ProxyBody>, SendError> {
        say_chunked(&mut req);
        let key = (backend.clone(), tls);
        while let Some(mut conn) = self.checkout(&key, |idle| &mut idle.hyper) {
            if !ready_now(&mut conn).await {
                continue;
            }
            match exchange(&mut conn, req).await {
                Ok(resp) => return self.hyper_response(resp, key, conn),
                // Closed under us before anything was written: try the next one.
                Err(mut e) => match e.take_message() {
                    Some(back) => req = back,
                    None => return Err(SendError::Exchange(Box::new(e.into_error()))),
                },
            }
        }
        let io = self.connect(backend, tls, connect_timeout).await?;
        let mut conn = start(io, Mode::Inline).await.map_err(SendError::Connect)?;
        match exchange(&mut conn, req).await {
            Ok(resp) => self.hyper_response(resp, key, conn),
            Err(e) => Err(SendError::Exchange(Box::new(e.into_error()))),
        }
    }

    /// hyper's answer to a request with a body, held to the framing rule our own exchange
    /// applies (`codec::check_framing_headers`; hyper forwards a stale `Content-Length` or a
    /// non-chunked coding as it is); a refused answer's connection is dropped, never pooled.
    fn hyper_response(
        &self,
        mut resp: Response<Incoming>,
        key: Key,
        conn: Conn,
    ) -> Result<Response<ProxyBody>, SendError> {
        codec::check_framing_headers(resp.headers_mut())
            .map_err(|e| SendError::Exchange(Box::new(e)))?;
        // Our own HTTP version goes to the client (RFC 9110 §6.2), not the backend's.
        *resp.version_mut() = Version::HTTP_11;
        Ok(resp.map(|body| self.body(body, Some((key, conn)))))
    }

    /// A request without a body, over `h1::wire`. A pooled connection the backend closed
    /// while it was idle is skipped before anything is written; one found closed only after
    /// the request went out, without a byte of answer, gets an idempotent request again on
    /// the next connection (as nginx does with its cached upstream connections).
    async fn send_bodiless(
        &self,
        req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        connect_timeout: Option<Duration>,
    ) -> Result<Response<ProxyBody>, SendError> {
        let (parts, _) = req.into_parts();
        let key = (backend.clone(), tls);
        let idempotent = is_idempotent(&parts.method);
        while let Some(mut conn) = self.checkout(&key, |idle| &mut idle.wire) {
            if !poll_fn(|cx| Poll::Ready(conn.poll_idle_ok(cx))).await {
                continue;
            }
            match conn.exchange(&parts).await {
                Ok(head) => return Ok(self.wire_response(head, key, conn)),
                Err(e) if idempotent && e.nothing_received() => {
                    tracing::debug!(%backend, "pooled connection failed ({e}); trying another");
                }
                Err(e) => return Err(SendError::Exchange(Box::new(e))),
            }
        }
        let mut conn = WireConn::new(self.connect(backend, tls, connect_timeout).await?);
        match conn.exchange(&parts).await {
            Ok(head) => Ok(self.wire_response(head, key, conn)),
            Err(e) => Err(SendError::Exchange(Box::new(e))),
        }
    }

    fn wire_response(&self, head: Head, key: Key, conn: WireConn) -> Response<ProxyBody> {
        let recycle = ToPool {
            pool: self.clone(),
            key,
        };
        wire::response(head, conn, recycle).map(http_body_util::BodyExt::boxed)
    }

    /// The most recently used idle connection of one kind; every `POOL_IDLE` the expired
    /// connections of every backend are dropped.
    fn checkout<C>(&self, key: &Key, kind: impl FnOnce(&mut Idle) -> &mut Stacks<C>) -> Option<C> {
        let now = Instant::now();
        let mut idle = self.lock();
        if idle
            .last_sweep
            .is_none_or(|t| now.duration_since(t) > POOL_IDLE)
        {
            idle.last_sweep = Some(now);
            idle.hyper.sweep(now);
            idle.wire.sweep(now);
        }
        kind(&mut idle).pop(key, now)
    }

    fn checkin(&self, key: Key, conn: Conn) {
        self.lock().hyper.push(key, conn, Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection: TCP (nodelay) or unix socket, TLS when asked (no SNI for IP
    /// addresses, like nginx's default `proxy_ssl_server_name off`).
    async fn connect(
        &self,
        backend: &BackendAddr,
        tls: bool,
        limit: Option<Duration>,
    ) -> Result<Box<dyn Io>, SendError> {
        let limit = limit.unwrap_or(self.inner.connect_timeout);
        let connect = async {
            match backend {
                BackendAddr::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    let name = ServerName::IpAddress((addr.ip()).into());
                    self.secure(stream, tls.then_some(name)).await
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
                    self.secure(stream, name).await
                }
                BackendAddr::Unix(path) => {
                    if tls {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "VIRTUAL_PROTO=https needs a TCP backend, not a unix socket",
                        ));
                    }
                    let stream = UnixStream::connect(path).await?;
                    Ok(Box::new(stream) as Box<dyn Io>)
                }
            }
        };
        match tokio::time::timeout(limit, connect).await {
            Ok(result) => result.map_err(SendError::Connect),
            Err(_) => Err(SendError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("connect timed out after {}s", limit.as_secs()),
            ))),
        }
    }

    /// TLS over `stream` when `name` is given.
    async fn secure(
        &self,
        stream: TcpStream,
        name: Option<ServerName<'static>>,
    ) -> std::io::Result<Box<dyn Io>> {
        Ok(match name {
            None => Box::new(stream),
            Some(name) => Box::new(self.inner.tls.connect(name, stream).await?),
        })
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

/// Who drives a new connection's IO.
#[derive(Clone, Copy)]
enum Mode {
    /// The requests that use it (pooled connections).
    Inline,
    /// A task of its own, with upgrades (a WebSocket handshake).
    Spawned,
}

/// The HTTP/1.1 handshake of hyper's client over a new connection.
async fn start(io: Box<dyn Io>, mode: Mode) -> std::io::Result<Conn> {
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

/// hyper's client sends a GET or HEAD body of unknown length as no body at all (it assumes
/// they "almost never have bodies") and drops its bytes; the client's own `Transfer-Encoding`
/// was removed as hop-by-hop. Naming `chunked` again makes hyper send the body as it came.
fn say_chunked(req: &mut Request<ProxyBody>) {
    if matches!(*req.method(), Method::GET | Method::HEAD)
        && req.body().size_hint().exact().is_none()
    {
        req.headers_mut().insert(
            http::header::TRANSFER_ENCODING,
            http::HeaderValue::from_static("chunked"),
        );
    }
}

/// Where a finished `h1::wire` body puts its connection.
struct ToPool {
    pool: Pool,
    key: Key,
}

impl Recycle for ToPool {
    fn recycle(&self, conn: WireConn) {
        self.pool
            .lock()
            .wire
            .push(self.key.clone(), conn, Instant::now());
    }
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
#[path = "pool_tests.rs"]
mod tests;

/// A pool as `/metrics` sees it: weakly, so a pool whose listener closed (an extra port) is
/// dropped with its connections, not kept alive by the gauge.
pub(crate) struct PoolGauge(std::sync::Weak<Inner>);

impl Pool {
    /// This pool for the idle-connection gauge.
    pub(crate) fn gauge(&self) -> PoolGauge {
        PoolGauge(Arc::downgrade(&self.inner))
    }
}

/// Idle connections per backend now (plain and TLS, both kinds): read at scrape time under
/// the pool's own lock, so serving pays nothing for it.
impl IdlePool for PoolGauge {
    fn idle_counts(&self, out: &mut dyn FnMut(&BackendAddr, usize)) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let idle = inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
        for ((addr, _), conns) in &idle.hyper.by_backend {
            out(addr, conns.len());
        }
        for ((addr, _), conns) in &idle.wire.by_backend {
            out(addr, conns.len());
        }
    }
}
