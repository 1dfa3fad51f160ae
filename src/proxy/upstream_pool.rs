//! One worker's upstream connections: idle HTTP/1.1 keep-alive connections per backend, reused
//! most-recent first, like nginx's `keepalive` in an `upstream` block.
//!
//! Each connection is a hyper `client::conn::http1` whose connection future runs as a task on the
//! worker's runtime. A connection goes back to the pool when the response body it carried has
//! been read to its end (the body wrapper's drop hands it back), so the common request costs no
//! extra task, channel or pool lock beyond one checkout and one return. A response abandoned
//! half-read closes its connection instead: its remaining bytes would poison the next exchange.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
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
    sender: SendRequest<ProxyBody>,
    since: Instant,
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
    /// A pooled connection that turns out closed before the request was written is replaced
    /// by a fresh one; the request is never sent twice.
    pub async fn send(
        &self,
        mut req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
    ) -> Result<Response<ProxyBody>, SendError> {
        let key = (backend.clone(), tls);
        while let Some(mut sender) = self.checkout(&key) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(self.wrap(resp, sender, key)),
                Err(mut e) => match e.take_message() {
                    // Closed under us before anything was written: try the next one.
                    Some(back) => req = back,
                    None => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
        let mut sender = self.connect(backend, tls).await?;
        match sender.send_request(req).await {
            Ok(resp) => Ok(self.wrap(resp, sender, key)),
            Err(e) => Err(SendError::Exchange(e)),
        }
    }

    /// The most recently used idle connection that is still open; expired ones are dropped
    /// (closing them), and every `POOL_IDLE` the other backends' lists are swept too.
    fn checkout(&self, key: &Key) -> Option<SendRequest<ProxyBody>> {
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
        while let Some(conn) = conns.pop() {
            if expired(&conn, now) {
                // Older ones are further down the stack: all expired.
                conns.clear();
                break;
            }
            if !conn.sender.is_closed() {
                return Some(conn.sender);
            }
        }
        None
    }

    fn checkin(&self, key: Key, sender: SendRequest<ProxyBody>) {
        let mut idle = self.lock();
        let conns = idle.by_backend.entry(key).or_default();
        if conns.len() < MAX_IDLE_PER_BACKEND {
            conns.push(IdleConn {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.inner.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection: TCP (nodelay) or unix socket, TLS when asked (no SNI for IP
    /// addresses, like nginx's default `proxy_ssl_server_name off`), then the HTTP/1.1
    /// handshake; its connection future runs on this worker until the connection ends.
    async fn connect(
        &self,
        backend: &BackendAddr,
        tls: bool,
    ) -> Result<SendRequest<ProxyBody>, SendError> {
        let connect = async {
            match backend {
                BackendAddr::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    let name = ServerName::IpAddress((addr.ip()).into());
                    self.handshake(stream, tls.then_some(name)).await
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
                    self.handshake(stream, name).await
                }
                BackendAddr::Unix(path) => {
                    if tls {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "VIRTUAL_PROTO=https needs a TCP backend, not a unix socket",
                        ));
                    }
                    let stream = UnixStream::connect(path).await?;
                    self.handshake(stream, None).await
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
    ) -> std::io::Result<SendRequest<ProxyBody>>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match tls {
            None => start(stream).await,
            Some(name) => start(self.inner.tls.connect(name, stream).await?).await,
        }
    }

    /// Ties the connection to the response body so it comes back when the body is done. A
    /// `101 Switching Protocols` connection now belongs to the upgrade and never comes back.
    fn wrap(
        &self,
        resp: Response<Incoming>,
        sender: SendRequest<ProxyBody>,
        key: Key,
    ) -> Response<ProxyBody> {
        let give_back = (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then(|| GiveBack {
            pool: self.clone(),
            key,
            sender,
        });
        resp.map(|body| {
            http_body_util::BodyExt::boxed(PooledBody {
                body,
                ended: false,
                give_back,
            })
        })
    }
}

fn expired(conn: &IdleConn, now: Instant) -> bool {
    now.duration_since(conn.since) > POOL_IDLE
}

async fn start<IO>(io: IO) -> std::io::Result<SendRequest<ProxyBody>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("upstream connection ended: {e}");
        }
    });
    Ok(sender)
}

struct GiveBack {
    pool: Pool,
    key: Key,
    sender: SendRequest<ProxyBody>,
}

/// The backend's response body; on drop its connection returns to the pool if the body was
/// read to the end.
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
        let Some(GiveBack { pool, key, sender }) = self.give_back.take() else {
            return;
        };
        if !(self.ended || self.body.is_end_stream()) || sender.is_closed() {
            return;
        }
        if sender.is_ready() {
            pool.checkin(key, sender);
            return;
        }
        // The connection task has not yet noticed the end of the response: hand the
        // connection back once it is ready (rare; a closed one is simply dropped).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut sender = sender;
            runtime.spawn(async move {
                if sender.ready().await.is_ok() {
                    pool.checkin(key, sender);
                }
            });
        }
    }
}

#[cfg(test)]
#[path = "upstream_pool_tests.rs"]
mod tests;
