//! A request without a body over one upstream HTTP/1.1 connection, using `codec`: write the
//! head, read until the response head parses, then stream the response body straight from the
//! socket as the client reads it. No task, no channel: the request's own task does the IO.
//! `pool` keeps these connections and decides which requests take this path.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::Response;
use http::request::Parts;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::codec::{self, Chunk, Chunked, CodecError, Framing, Head};
use crate::exchange::BoxError;

/// Room made in the read buffer before a read: small, since most heads and many whole
/// responses fit, doubling while reads fill it (a large body) up to `MAX_CHUNK`.
const MIN_CHUNK: usize = 4 * 1024;
const MAX_CHUNK: usize = 64 * 1024;

/// A byte stream to a backend: TCP, unix socket, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// One upstream connection with its read buffer and a reusable buffer for request heads.
pub struct WireConn {
    io: Box<dyn Io>,
    buf: BytesMut,
    /// How much room the next read gets.
    chunk: usize,
    head: Vec<u8>,
}

/// Why an exchange failed. `nothing_received` tells a stale keep-alive connection (the backend
/// closed it while idle) from a backend that broke mid-exchange.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("writing the request: {0}")]
    Write(#[source] io::Error),
    #[error("reading the response head: {source}")]
    Read {
        #[source]
        source: io::Error,
        received: bool,
    },
    #[error("the backend closed the connection before the response head")]
    Closed { received: bool },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl WireError {
    /// The backend answered nothing at all: safe to repeat an idempotent request elsewhere.
    pub fn nothing_received(&self) -> bool {
        match self {
            WireError::Write(_) => true,
            WireError::Read { received, .. } | WireError::Closed { received } => !received,
            WireError::Codec(_) => false,
        }
    }
}

impl WireConn {
    pub fn new(io: Box<dyn Io>) -> WireConn {
        WireConn {
            io,
            buf: BytesMut::new(),
            chunk: MIN_CHUNK,
            head: Vec::with_capacity(1024),
        }
    }

    /// Whether an idle connection can take a request: nothing may be readable on it (an EOF
    /// means the backend closed it, stray bytes would poison the exchange). Costs no syscall
    /// unless the socket was reported readable.
    pub fn poll_idle_ok(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut self.io).poll_read(cx, &mut probe),
            Poll::Pending
        )
    }

    /// Sends the bodiless request `parts` (origin-form target, headers already rewritten) and
    /// reads the response head.
    pub async fn exchange(&mut self, parts: &Parts) -> Result<Head, WireError> {
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        self.head.clear();
        codec::encode_request_head(&parts.method, target, &parts.headers, &mut self.head);
        self.io
            .write_all(&self.head)
            .await
            .map_err(WireError::Write)?;
        self.io.flush().await.map_err(WireError::Write)?;
        let mut received = false;
        loop {
            if let Some(head) = codec::parse_response_head(&mut self.buf, &parts.method)? {
                return Ok(head);
            }
            let n = std::future::poll_fn(|cx| self.poll_fill(cx))
                .await
                .map_err(|source| WireError::Read { source, received })?;
            if n == 0 {
                return Err(WireError::Closed { received });
            }
            received = true;
        }
    }

    /// Reads once into the buffer; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.buf.reserve(self.chunk);
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.buf
        ))?;
        if n >= self.chunk {
            self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        }
        Poll::Ready(Ok(n))
    }

    /// The read buffer's capacity (what an idle pooled connection holds on to).
    #[cfg(test)]
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Called when the connection goes idle: a buffer grown by a large body is released, so
    /// that a pool of idle connections holds a few KiB each.
    fn shrink(&mut self) {
        if self.buf.capacity() > 2 * MIN_CHUNK {
            self.buf = BytesMut::new();
        }
        self.chunk = MIN_CHUNK;
    }
}

/// Where a finished body's connection goes: back to its pool, or closed.
pub trait Recycle: Send + Sync {
    fn recycle(&self, conn: WireConn);
}

/// The response body, read from the connection as the client consumes it. When it has been
/// read to its end on a keep-alive connection, the connection is handed to `recycle` at once;
/// dropped earlier, the connection is closed with it.
pub struct WireBody<R: Recycle> {
    conn: Option<WireConn>,
    state: State,
    keep_alive: bool,
    recycle: R,
}

enum State {
    Length(u64),
    Chunked(Chunked),
    Close,
    Done,
}

/// The backend ended the body early or broke its framing.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the backend closed the connection {0} bytes before the end of the body")]
    Truncated(u64),
    #[error("the backend closed the connection inside a chunked body")]
    ChunkedTruncated,
    #[error("reading the response body: {0}")]
    Read(#[source] io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The response for `head`, its body reading from `conn`.
pub fn response<R: Recycle>(head: Head, conn: WireConn, recycle: R) -> Response<WireBody<R>> {
    let state = match head.framing {
        Framing::Length(0) => State::Done,
        Framing::Length(n) => State::Length(n),
        Framing::Chunked => State::Chunked(Chunked::Size),
        Framing::Close => State::Close,
    };
    let mut body = WireBody {
        conn: Some(conn),
        state,
        keep_alive: head.keep_alive,
        recycle,
    };
    if matches!(body.state, State::Done) {
        body.finish();
    }
    head.response.map(|()| body)
}

impl<R: Recycle> WireBody<R> {
    /// The body is complete: a clean keep-alive connection goes back.
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(mut conn) = self.conn.take()
            && self.keep_alive
            && conn.buf.is_empty()
        {
            conn.shrink();
            self.recycle.recycle(conn);
        }
    }
}

impl<R: Recycle + Unpin> Body for WireBody<R> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done => {
                    this.finish();
                    return Poll::Ready(None);
                }
                State::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(conn.buf.len());
                        let data = conn.buf.split_to(n).freeze();
                        *left -= n as u64;
                        if *left == 0 {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    let left = *left;
                    match ready!(conn.poll_fill(cx)) {
                        Ok(0) => return fail(this, BodyError::Truncated(left)),
                        Ok(_) => {}
                        Err(e) => return fail(this, BodyError::Read(e)),
                    }
                }
                State::Chunked(decoder) => match decoder.decode(&mut conn.buf) {
                    Ok(Chunk::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Chunk::End) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Chunk::More) => match ready!(conn.poll_fill(cx)) {
                        Ok(0) => return fail(this, BodyError::ChunkedTruncated),
                        Ok(_) => {}
                        Err(e) => return fail(this, BodyError::Read(e)),
                    },
                    Err(e) => return fail(this, BodyError::Codec(e)),
                },
                State::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    match ready!(conn.poll_fill(cx)) {
                        Ok(0) => {
                            // The end of a close-delimited body; the connection is spent.
                            this.conn = None;
                            this.state = State::Done;
                            return Poll::Ready(None);
                        }
                        Ok(_) => {}
                        Err(e) => return fail(this, BodyError::Read(e)),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // A `Length` body reaching 0 becomes `Done` at once (`finish`).
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// Ends the body with `err`; the connection is closed.
fn fail<R: Recycle>(
    body: &mut WireBody<R>,
    err: BodyError,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    body.conn = None;
    body.state = State::Done;
    Poll::Ready(Some(Err(Box::new(err))))
}
