//! FastCGI connections: the socket (TCP with nodelay, or unix) and one worker's idle
//! keep-alive connections per backend (`FCGI_KEEP_CONN`, nginx's `fastcgi_keep_conn on`).
//!
//! php-fpm gives each connection a whole worker process for as long as it stays open, idle or
//! not: an idle pooled connection pins a PHP child. So the pool is small
//! ([`MAX_IDLE_PER_BACKEND`], nginx-proxy's `keepalive` for one server) and an idle
//! connection is closed after [`IDLE`] by a sweeper task, not just forgotten until the next
//! request comes — a quiet site must give its PHP children back.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::model::BackendAddr;

/// Idle connections kept per backend and worker thread (nginx-proxy's `keepalive auto` gives
/// nginx `2 × servers`). More would hold more PHP children doing nothing.
pub const MAX_IDLE_PER_BACKEND: usize = 2;
/// An idle connection is closed after this long (a pinned PHP child is freed).
pub const IDLE: Duration = Duration::from_secs(10);
/// How often the sweeper looks for expired connections while any are idle.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A connected FastCGI socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Connects to `addr` (nodelay on TCP: a request is several writes when a body follows).
    pub async fn connect(addr: &BackendAddr) -> std::io::Result<Stream> {
        let tcp = |s: TcpStream| -> std::io::Result<Stream> {
            s.set_nodelay(true)?;
            Ok(Stream::Tcp(s))
        };
        match addr {
            BackendAddr::Tcp(sa) => tcp(TcpStream::connect(sa).await?),
            BackendAddr::Name { host, port } => {
                tcp(TcpStream::connect((host.as_str(), *port)).await?)
            }
            BackendAddr::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }

    /// Whether an idle connection can carry a request: not closed by the application, and
    /// with nothing unread (stray bytes would be read as the next response).
    fn is_clean(&self) -> bool {
        let mut probe = [0u8; 1];
        let read = match self {
            Stream::Tcp(s) => s.try_read(&mut probe),
            Stream::Unix(s) => s.try_read(&mut probe),
        };
        matches!(read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// One worker's idle FastCGI connections, cheap to clone (a response body holds a clone to
/// hand its connection back).
#[derive(Clone, Default)]
pub struct Pool {
    inner: Arc<Mutex<Idle>>,
}

#[derive(Default)]
struct Idle {
    by_backend: HashMap<BackendAddr, Vec<(Stream, Instant)>>,
    sweeping: bool,
}

impl Pool {
    /// The most recently used idle connection to `addr` that is still clean.
    pub fn take(&self, addr: &BackendAddr) -> Option<Stream> {
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.by_backend.get_mut(addr)?;
        let now = Instant::now();
        while let Some((stream, since)) = conns.pop() {
            if now.duration_since(since) <= IDLE && stream.is_clean() {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps `stream` for the next request to `addr` (closes it when the pool is full), and
    /// makes sure a sweeper will close it once it has been idle for [`IDLE`].
    pub fn put(&self, addr: &BackendAddr, stream: Stream) {
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.by_backend.entry(addr.clone()).or_default();
        if conns.len() >= MAX_IDLE_PER_BACKEND {
            return;
        }
        conns.push((stream, Instant::now()));
        if !idle.sweeping && tokio::runtime::Handle::try_current().is_ok() {
            idle.sweeping = true;
            tokio::spawn(sweep(Arc::downgrade(&self.inner)));
        }
    }

    /// Idle connections to `addr` right now (tests).
    #[cfg(test)]
    pub fn idle(&self, addr: &BackendAddr) -> usize {
        let idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        idle.by_backend.get(addr).map_or(0, Vec::len)
    }
}

/// Closes expired idle connections while there are any; ends when none are left (the next
/// `put` starts another) or the pool is gone.
async fn sweep(pool: Weak<Mutex<Idle>>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let mut idle = inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        idle.by_backend.retain(|_, conns| {
            conns.retain(|(_, since)| now.duration_since(*since) <= IDLE);
            !conns.is_empty()
        });
        if idle.by_backend.is_empty() {
            idle.sweeping = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair: our `Stream` and the application's end.
    async fn pair(l: &TcpListener) -> (Stream, TcpStream) {
        let addr = BackendAddr::Tcp(l.local_addr().unwrap());
        let ours = Stream::connect(&addr).await.unwrap();
        let (theirs, _) = l.accept().await.unwrap();
        (ours, theirs)
    }

    #[tokio::test]
    async fn a_closed_or_unread_connection_is_never_reused() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = BackendAddr::Tcp(l.local_addr().unwrap());
        let pool = Pool::default();

        let (clean, _app1) = pair(&l).await;
        pool.put(&addr, clean);
        assert_eq!(pool.idle(&addr), 1);
        assert!(
            pool.take(&addr).is_some(),
            "an open, quiet connection is reused"
        );

        let (closed, app2) = pair(&l).await;
        drop(app2);
        let (stray, mut app3) = pair(&l).await;
        app3.write_all(b"stray").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        pool.put(&addr, closed);
        pool.put(&addr, stray);
        assert_eq!(pool.idle(&addr), 2);
        assert!(
            pool.take(&addr).is_none(),
            "closed and unread ones are dropped"
        );
        assert_eq!(pool.idle(&addr), 0);

        let mut apps = Vec::new();
        for _ in 0..MAX_IDLE_PER_BACKEND + 1 {
            let (s, app) = pair(&l).await;
            apps.push(app);
            pool.put(&addr, s);
        }
        assert_eq!(pool.idle(&addr), MAX_IDLE_PER_BACKEND, "bounded");
    }
}
