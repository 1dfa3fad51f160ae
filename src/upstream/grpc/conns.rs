//! One worker's HTTP/2 connections to gRPC backends: one multiplexed connection per backend
//! (and per plain/TLS), shared by every call of the worker and replaced when it closes. Each
//! connection is driven by a task of its own, since many calls use it at once. HTTP/2 pings
//! (also while idle) close a connection whose backend host vanished or went silent; a call
//! that times out waiting for its answer also takes its connection out of use. Closed
//! connections leave the map when a new one is added.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::exchange::ProxyBody;
use crate::model::BackendAddr;
use crate::upstream::pool::SendError;

/// Plain and TLS connections to the same address are different connections.
type Key = (BackendAddr, bool);

/// The connections of one worker.
pub struct Conns {
    open: Mutex<HashMap<Key, SendRequest<ProxyBody>>>,
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    /// How often to ping, and how long a ping may go unanswered.
    ping: (Duration, Duration),
}

impl Conns {
    /// `tls`: the upstream client config (verification as for `https`); ALPN `h2` is set here.
    pub fn new(mut tls: rustls::ClientConfig, connect_timeout: Duration) -> Conns {
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Conns {
            open: Mutex::new(HashMap::new()),
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            connect_timeout,
            ping: (PING_EVERY, PING_TIMEOUT),
        }
    }

    /// Sends `req` on the backend's connection, opening one when there is none or it closed.
    /// A request the closing connection refused before sending goes once more on a new one.
    pub async fn send(
        &self,
        req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        connect_limit: Option<Duration>,
    ) -> Result<Response<Incoming>, SendError> {
        let key = (backend.clone(), tls);
        let mut sender = match self.open(&key) {
            Some(sender) => sender,
            None => self.connect(key.clone(), connect_limit).await?,
        };
        let mut err = match sender.try_send_request(req).await {
            Ok(resp) => return Ok(resp),
            Err(err) => err,
        };
        match err.take_message() {
            Some(req) => {
                let mut sender = self.connect(key, connect_limit).await?;
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| SendError::Exchange(Box::new(e)))
            }
            None => Err(SendError::Exchange(Box::new(err.into_error()))),
        }
    }

    /// The open connection to `key`, if it is still usable.
    fn open(&self, key: &Key) -> Option<SendRequest<ProxyBody>> {
        let open = self.lock();
        open.get(key).filter(|s| !s.is_closed()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, SendRequest<ProxyBody>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection (TCP with nodelay, TLS with ALPN `h2` for `grpcs`), its HTTP/2
    /// handshake, and its driver task; it replaces the one kept for `key`.
    async fn connect(
        &self,
        key: Key,
        limit: Option<Duration>,
    ) -> Result<SendRequest<ProxyBody>, SendError> {
        let limit = limit.unwrap_or(self.connect_timeout);
        let sender = match tokio::time::timeout(limit, self.dial(&key.0, key.1)).await {
            Ok(result) => result.map_err(SendError::Connect)?,
            Err(_) => {
                return Err(SendError::Connect(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connect timed out after {}s", limit.as_secs()),
                )));
            }
        };
        let mut open = self.lock();
        open.retain(|_, s| !s.is_closed());
        open.insert(key, sender.clone());
        Ok(sender)
    }

    /// New calls to `backend` open a new connection: one of its calls waited the whole read
    /// timeout (a host that went silent). Calls still on the old connection keep it until
    /// they end. Should another call have replaced it meanwhile, that costs one reconnect.
    pub fn forget(&self, backend: &BackendAddr, tls: bool) {
        self.lock().remove(&(backend.clone(), tls));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    async fn dial(
        &self,
        backend: &BackendAddr,
        tls: bool,
    ) -> std::io::Result<SendRequest<ProxyBody>> {
        let (stream, name) = match backend {
            BackendAddr::Tcp(addr) => (
                TcpStream::connect(addr).await?,
                ServerName::IpAddress(addr.ip().into()),
            ),
            BackendAddr::Name { host, port } => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                (TcpStream::connect((host.as_str(), *port)).await?, name)
            }
            BackendAddr::Unix(path) if !tls => {
                return handshake(UnixStream::connect(path).await?, self.ping).await;
            }
            BackendAddr::Unix(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "VIRTUAL_PROTO=grpcs needs a TCP backend, not a unix socket",
                ));
            }
        };
        stream.set_nodelay(true)?;
        if tls {
            handshake(self.tls.connect(name, stream).await?, self.ping).await
        } else {
            handshake(stream, self.ping).await
        }
    }
}

/// [`handshake`] pings every [`PING_EVERY`] while the connection is open, idle or not; one
/// unanswered for [`PING_TIMEOUT`] closes it. gRPC servers count pings closer than 5 minutes
/// apart as abuse (grpc-core's `min_recv_ping_interval_without_data`, grpc-go's
/// `EnforcementPolicy.MinTime`) and answer `GOAWAY too_many_pings`, which would also end quiet
/// long-lived streams: stay above it, with a margin for timer jitter.
const PING_EVERY: Duration = Duration::from_secs(330);
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// hyper's HTTP/2 client handshake over `io`; the connection runs as a task until every
/// sender is gone, the backend closes it, or a ping goes unanswered.
async fn handshake<I>(
    io: I,
    (every, timeout): (Duration, Duration),
) -> std::io::Result<SendRequest<ProxyBody>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(every)
        .keep_alive_timeout(timeout)
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("gRPC upstream connection ended: {e}");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn an_unanswered_ping_closes_a_connection_to_a_silent_host() {
        let tls = crate::upstream::tls::client_config(false).unwrap();
        let mut conns = Conns::new(tls, Duration::from_secs(5));
        conns.ping = (Duration::from_millis(100), Duration::from_millis(100));
        // A host that accepts and then never answers (nor closes): only the ping notices.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = BackendAddr::Tcp(listener.local_addr().unwrap());
        let (accepted, sender) = tokio::join!(
            listener.accept(),
            conns.connect((backend.clone(), false), None)
        );
        let (_held, sender) = (accepted.unwrap(), sender.unwrap());
        let closed = async {
            while !sender.is_closed() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), closed)
            .await
            .expect("the unanswered ping closes the connection");
        assert!(conns.open(&(backend, false)).is_none());
    }

    #[tokio::test]
    async fn closed_connections_leave_the_map_when_another_is_added() {
        let tls = crate::upstream::tls::client_config(false).unwrap();
        let conns = Conns::new(tls, Duration::from_secs(5));
        for _ in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let backend = BackendAddr::Tcp(listener.local_addr().unwrap());
            let (accepted, sender) = tokio::join!(
                listener.accept(),
                conns.connect((backend.clone(), false), None)
            );
            let sender = sender.unwrap();
            // The backend closes it; hyper's connection task sees the end.
            drop(accepted.unwrap());
            let closed = async {
                while !sender.is_closed() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), closed)
                .await
                .expect("the connection closes");
        }
        assert_eq!(
            conns.len(),
            1,
            "only the last one, closed since it was added"
        );
    }
}
