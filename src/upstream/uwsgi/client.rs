//! Owns the uwsgi socket: one connection per request (uWSGI closes after each response),
//! TCP (nodelay when a body follows the vars) or a unix socket, the packet and body written by
//! a task tied to the response's lifetime, the head read with a deadline, then the body
//! streamed to the client.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use http::{Method, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::oneshot,
    task::AbortHandle,
    time::{Instant, Sleep, sleep, timeout},
};

use super::{
    codec::{self, Parsed, ResponseHead},
    framing::{self, Framing},
    upload::{SendError, Upload},
};
use crate::exchange::{BoxError, ProxyBody, ProxyError, empty};
use crate::model::BackendAddr;

type Reader = Box<dyn AsyncRead + Send + Sync + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// Most bytes read from uWSGI per body frame (less when the declared remainder is smaller).
const READ_CHUNK: usize = 32 * 1024;
/// Below this much room left in the read buffer, a fresh one is allocated.
const MIN_READ: usize = 4 * 1024;

/// Timeouts that bound one exchange.
pub(super) struct Deadlines {
    pub connect: Duration,
    /// Longest wait for the head once the body is sent, and between any two reads.
    pub idle: Duration,
    /// Longest wait between two writes of the request (`proxy_send_timeout`).
    pub send: Duration,
}

/// Sends `packet` and `upload` to `addr` and returns the response with a streaming body.
pub(super) async fn exchange(
    addr: &BackendAddr,
    packet: Vec<u8>,
    upload: Upload,
    method: &Method,
    limits: &Deadlines,
) -> Result<Response<ProxyBody>, ProxyError> {
    // Nagle only delays a second write (the body after the vars); one packet alone goes out
    // at once, so a body-less request skips the setsockopt.
    let nodelay = !matches!(upload, Upload::None);
    let (mut rd, mut wr) = connect(addr, limits.connect, nodelay).await?;
    let upstream = |reason: String| ProxyError::Upstream {
        backend: addr.clone(),
        reason,
    };
    match timeout(limits.send, wr.write_all(&packet)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(upstream(format!("sending the vars: {e}"))),
        Err(_) => return Err(timed_out(addr, limits.send)),
    }
    let (writer, sent_rx) = spawn_writer(wr, upload, limits.send);
    let idle = limits.idle;
    let (mut head, rest) = read_head(&mut rd, sent_rx, addr, idle).await?;
    let framing =
        framing::response_framing(method, &mut head).map_err(|e| upstream(e.to_string()))?;
    let body = match framing {
        Framing::Empty => empty(),
        Framing::Length(n) => UwsgiBody::new(rd, rest, Some(n), idle, writer).boxed(),
        Framing::UntilClose => UwsgiBody::new(rd, rest, None, idle, writer).boxed(),
    };
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    Ok(response)
}

/// Starts sending the body; the returned guard keeps the write half open (some apps treat a
/// half-closed socket as a client that went away) until the response is dropped. Without a
/// body no task is needed: the guard just holds the half.
fn spawn_writer(
    mut wr: Writer,
    upload: Upload,
    idle: Duration,
) -> (KeepWriter, oneshot::Receiver<Result<(), SendError>>) {
    let (sent_tx, sent_rx) = oneshot::channel();
    if let Upload::None = upload {
        let _ = sent_tx.send(Ok(()));
        return (KeepWriter::Half(wr), sent_rx);
    }
    let task = tokio::spawn(async move {
        let _ = sent_tx.send(upload.send(&mut wr, idle).await);
        std::future::pending::<()>().await;
        drop(wr);
    });
    (KeepWriter::Task(AbortOnDrop(task.abort_handle())), sent_rx)
}

async fn connect(
    addr: &BackendAddr,
    limit: Duration,
    nodelay: bool,
) -> Result<(Reader, Writer), ProxyError> {
    let attempt = async {
        match addr {
            BackendAddr::Tcp(sa) => tcp(tokio::net::TcpStream::connect(sa).await?, nodelay),
            BackendAddr::Name { host, port } => tcp(
                tokio::net::TcpStream::connect((host.as_str(), *port)).await?,
                nodelay,
            ),
            BackendAddr::Unix(path) => {
                let (r, w) = tokio::net::UnixStream::connect(path).await?.into_split();
                let w = NoShutdown(Some(OwnedHalf::Unix(w)));
                Ok((Box::new(r) as Reader, Box::new(w) as Writer))
            }
        }
    };
    let result = timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
    result.map_err(|source| ProxyError::Connect {
        backend: addr.clone(),
        source,
    })
}

fn tcp(stream: tokio::net::TcpStream, nodelay: bool) -> std::io::Result<(Reader, Writer)> {
    if nodelay {
        stream.set_nodelay(true)?;
    }
    let (r, w) = stream.into_split();
    Ok((Box::new(r), Box::new(NoShutdown(Some(OwnedHalf::Tcp(w))))))
}

enum OwnedHalf {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Unix(tokio::net::unix::OwnedWriteHalf),
}

/// The write half without tokio's `shutdown(SHUT_WR)` on drop: the socket closes when the read
/// half goes too, so the shutdown would only be one more syscall per request.
struct NoShutdown(Option<OwnedHalf>);

impl NoShutdown {
    fn half(&mut self) -> Pin<&mut (dyn AsyncWrite + Send + Sync + Unpin)> {
        match self.0.as_mut() {
            Some(OwnedHalf::Tcp(w)) => Pin::new(w),
            Some(OwnedHalf::Unix(w)) => Pin::new(w),
            None => unreachable!("the half is only taken in drop"),
        }
    }
}

impl AsyncWrite for NoShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.half().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.half().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.half().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.half().poll_shutdown(cx)
    }
}

impl Drop for NoShutdown {
    fn drop(&mut self) {
        match self.0.take() {
            Some(OwnedHalf::Tcp(w)) => w.forget(),
            Some(OwnedHalf::Unix(w)) => w.forget(),
            None => {}
        }
    }
}

fn timed_out(addr: &BackendAddr, idle: Duration) -> ProxyError {
    ProxyError::Timeout {
        backend: addr.clone(),
        secs: idle.as_secs(),
    }
}

/// Reads until the head parses. The deadline starts once the body is fully sent (a long upload
/// is not a slow backend); a client-side body failure ends the exchange at once.
async fn read_head(
    rd: &mut Reader,
    mut sent: oneshot::Receiver<Result<(), SendError>>,
    addr: &BackendAddr,
    idle: Duration,
) -> Result<(ResponseHead, Bytes), ProxyError> {
    let upstream = |reason: String| ProxyError::Upstream {
        backend: addr.clone(),
        reason,
    };
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut sending = true;
    let deadline = sleep(idle);
    tokio::pin!(deadline);
    loop {
        match codec::parse_head(&buf) {
            Ok(Parsed::Complete { head, consumed }) => {
                let rest = buf.split_off(consumed).freeze();
                return Ok((head, rest));
            }
            Ok(Parsed::Incomplete) => buf.reserve(8 * 1024),
            Err(e) => return Err(upstream(e.to_string())),
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => return Err(upstream("closed the connection before the response head".into())),
                Ok(_) => {}
                Err(e) => return Err(upstream(format!("reading the response head: {e}"))),
            },
            result = &mut sent, if sending => {
                sending = false;
                if let Ok(Err(SendError::Client(e))) = result {
                    return Err(e);
                }
                deadline.as_mut().reset(Instant::now() + idle);
            }
            () = &mut deadline, if !sending => return Err(timed_out(addr, idle)),
        }
    }
}

/// What keeps the write half alive for as long as the response: the task still sending the
/// body (aborted on drop), or the half itself.
#[allow(dead_code, reason = "the fields are held only for their Drop")]
enum KeepWriter {
    Task(AbortOnDrop),
    Half(Writer),
}

/// Aborts the writer task (and so closes the write half) when the response is dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a response body stopped before its end: hyper then aborts the client connection.
#[derive(Debug, thiserror::Error)]
pub enum UwsgiBodyError {
    #[error("uwsgi backend closed the connection {missing} bytes before the declared end")]
    Truncated { missing: u64 },
    #[error("uwsgi backend sent nothing for {secs}s")]
    Idle { secs: u64 },
    #[error("reading the uwsgi response body: {0}")]
    Io(#[source] std::io::Error),
}

/// The response body, read from the socket as the client consumes it (never buffered whole).
struct UwsgiBody {
    rd: Reader,
    /// Body bytes that arrived together with the head.
    pending: Bytes,
    /// Bytes still expected when the app declared a length; `None` means until close.
    remaining: Option<u64>,
    done: bool,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` runs for the current wait (it restarts when a wait begins, so time the
    /// client spends not polling is not counted against the backend).
    armed: bool,
    /// Read straight into (no zeroing, no copy): each frame is split off and frozen, and the
    /// allocation is sized by what is still expected, so a small body costs a small buffer.
    buf: BytesMut,
    _writer: KeepWriter,
}

impl UwsgiBody {
    fn new(
        rd: Reader,
        pending: Bytes,
        remaining: Option<u64>,
        idle: Duration,
        writer: KeepWriter,
    ) -> Self {
        UwsgiBody {
            rd,
            pending,
            remaining,
            done: remaining == Some(0),
            idle,
            timer: Box::pin(sleep(idle)),
            armed: false,
            buf: BytesMut::new(),
            _writer: writer,
        }
    }

    /// Caps `chunk` at the declared length (an app writing past it is ignored) and counts it.
    fn emit(&mut self, mut chunk: Bytes) -> Frame<Bytes> {
        if let Some(left) = self.remaining.as_mut() {
            let take = chunk
                .len()
                .min(usize::try_from(*left).unwrap_or(usize::MAX));
            chunk.truncate(take);
            *left -= take as u64;
            self.done = *left == 0;
        }
        Frame::data(chunk)
    }

    fn fail(&mut self, e: UwsgiBodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(Box::new(e))))
    }
}

impl Body for UwsgiBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if !this.pending.is_empty() {
            let chunk = std::mem::take(&mut this.pending);
            return Poll::Ready(Some(Ok(this.emit(chunk))));
        }
        let want = this
            .remaining
            .map_or(READ_CHUNK, |n| usize::try_from(n).unwrap_or(READ_CHUNK))
            .clamp(1, READ_CHUNK);
        // Keep reading into what is left of the allocation unless that is too small to be useful.
        if this.buf.capacity() < want.min(MIN_READ) {
            this.buf.reserve(want);
        }
        // `read_buf`'s future keeps no state between polls, so a fresh one per poll is sound.
        let read = std::pin::pin!(this.rd.read_buf(&mut this.buf)).poll(cx);
        match read {
            Poll::Pending => {
                if !this.armed {
                    this.armed = true;
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                }
                ready!(this.timer.as_mut().poll(cx));
                let secs = this.idle.as_secs();
                this.fail(UwsgiBodyError::Idle { secs })
            }
            Poll::Ready(Err(e)) => this.fail(UwsgiBodyError::Io(e)),
            Poll::Ready(Ok(0)) => match this.remaining {
                Some(missing) => this.fail(UwsgiBodyError::Truncated { missing }),
                None => {
                    this.done = true;
                    Poll::Ready(None)
                }
            },
            Poll::Ready(Ok(_)) => {
                let chunk = this.buf.split().freeze();
                this.armed = false;
                Poll::Ready(Some(Ok(this.emit(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
