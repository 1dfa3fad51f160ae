//! The response body of a FastCGI exchange: STDOUT records handed to the client as they
//! arrive (each record's content is a slice of the read buffer, not a copy), STDERR records
//! logged, END_REQUEST the end. A clean end gives the connection back to the pool; anything
//! else (a short body, left-over bytes, the request body not fully sent) closes it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::{Instant, Sleep, sleep};

use super::codec::{self, EndRequest, Parsed, Record, RecordError};
use super::conn::{Pool, Stream};
use crate::exchange::{BoxError, ProxyError};
use crate::model::BackendAddr;
use crate::upstream::uwsgi::cgi::{Framing, SendError};

/// STDERR records logged per request; the rest are counted, not logged.
const MAX_STDERR_RECORDS: usize = 8;
/// Bytes of one STDERR record put in the log line.
const MAX_STDERR_BYTES: usize = 2048;
/// Room kept free in the read buffer before a read: a whole record when they come in large.
const READ_ROOM: usize = 16 * 1024;

/// The socket of an exchange: whole when no request body is sent, else its read half while a
/// task writes the body.
pub(super) struct Io {
    pub read: ReadSide,
    pub writer: Writer,
}

pub(super) enum ReadSide {
    Whole(Stream),
    Half(ReadHalf<Stream>),
}

/// Where the request body stands.
pub(super) enum Writer {
    /// No body (the whole socket is in `ReadSide::Whole`).
    None,
    /// The task is still sending; the half comes back through the channel.
    Sending(
        oneshot::Receiver<Result<WriteHalf<Stream>, SendError>>,
        AbortOnDrop,
    ),
    Sent(WriteHalf<Stream>),
    /// The body was not fully sent: the connection cannot be reused.
    Failed,
}

/// Aborts the writer task (and so drops the write half) with the response.
pub(super) struct AbortOnDrop(pub AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Writer {
    pub fn is_sending(&self) -> bool {
        matches!(self, Writer::Sending(..))
    }

    /// Waits for the body to be sent; a client-side failure is returned (the request cannot
    /// complete), a backend that stopped reading is not (it may still answer).
    pub async fn sent(&mut self) -> Option<ProxyError> {
        let Writer::Sending(rx, _) = self else {
            return None;
        };
        let (next, err) = match rx.await {
            Ok(Ok(wr)) => (Writer::Sent(wr), None),
            Ok(Err(SendError::Client(e))) => (Writer::Failed, Some(e)),
            Ok(Err(SendError::Backend(_))) | Err(_) => (Writer::Failed, None),
        };
        *self = next;
        err
    }
}

impl Io {
    /// The whole socket again, if the request was fully written.
    fn into_stream(self) -> Option<Stream> {
        match (self.read, self.writer) {
            (ReadSide::Whole(s), Writer::None) => Some(s),
            (ReadSide::Half(rd), Writer::Sent(wr)) => Some(rd.unsplit(wr)),
            (ReadSide::Half(rd), Writer::Sending(mut rx, _task)) => match rx.try_recv() {
                Ok(Ok(wr)) => Some(rd.unsplit(wr)),
                _ => None,
            },
            _ => None,
        }
    }
}

impl AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ReadSide::Whole(s) => Pin::new(s).poll_read(cx, buf),
            ReadSide::Half(rd) => Pin::new(rd).poll_read(cx, buf),
        }
    }
}

/// STDERR lines of one request, logged with the host and backend (nginx's "FastCGI sent in
/// stderr"), bounded.
pub(super) struct Logged {
    host: String,
    backend: BackendAddr,
    records: usize,
}

impl Logged {
    pub fn new(host: &str, backend: &BackendAddr) -> Logged {
        Logged {
            host: host.to_owned(),
            backend: backend.clone(),
            records: 0,
        }
    }

    pub fn stderr(&mut self, content: &[u8]) {
        self.records += 1;
        if self.records > MAX_STDERR_RECORDS {
            return;
        }
        let text = String::from_utf8_lossy(&content[..content.len().min(MAX_STDERR_BYTES)]);
        // Quoted and escaped: the script's text stays one log line and cannot forge others.
        let text = text.trim_end();
        if self.records == MAX_STDERR_RECORDS {
            tracing::warn!(host = %self.host, backend = %self.backend, "FastCGI sent in stderr: {text:?} (further stderr of this request not logged)");
        } else {
            tracing::warn!(host = %self.host, backend = %self.backend, "FastCGI sent in stderr: {text:?}");
        }
    }
}

/// Why a response body stopped before its end: hyper then aborts the client connection.
#[derive(Debug, thiserror::Error)]
pub enum FastcgiBodyError {
    #[error("FastCGI backend ended the request {missing} bytes before the declared end")]
    Truncated { missing: u64 },
    #[error("FastCGI backend closed the connection before END_REQUEST")]
    Closed,
    #[error("FastCGI backend sent nothing for {secs}s")]
    Idle { secs: u64 },
    #[error("reading the FastCGI response: {0}")]
    Io(#[source] std::io::Error),
    #[error("FastCGI response: {0}")]
    Protocol(#[source] RecordError),
}

/// The response body, read record by record as the client consumes it.
pub(super) struct FastcgiBody {
    io: Option<Io>,
    /// Record bytes read and not yet parsed.
    buf: BytesMut,
    /// Body bytes that arrived with the head.
    pending: Bytes,
    /// Bytes still expected when the script declared a `Content-Length`.
    remaining: Option<u64>,
    done: bool,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` runs for the current wait.
    armed: bool,
    logged: Logged,
    /// Where the connection goes after a clean end (`None`: keep-alive is off).
    pool: Option<(Pool, BackendAddr)>,
}

impl FastcgiBody {
    pub fn new(
        io: Io,
        buf: BytesMut,
        pending: Bytes,
        framing: Framing,
        idle: Duration,
        logged: Logged,
        pool: Option<(Pool, BackendAddr)>,
    ) -> FastcgiBody {
        let remaining = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        FastcgiBody {
            io: Some(io),
            buf,
            pending,
            remaining,
            done: false,
            idle,
            timer: Box::pin(sleep(idle)),
            armed: false,
            logged,
            pool,
        }
    }

    /// For a response that has no body (HEAD, 204, 304) or has all of it: pools the connection
    /// if END_REQUEST is already in the buffer, else closes it (no waiting for more).
    pub fn finish_buffered(&mut self) {
        self.done = true;
        loop {
            match codec::parse_record(&self.buf) {
                Ok(Parsed::Complete { value, consumed }) => {
                    let record = self.buf.split_to(consumed);
                    match value {
                        Record::Stdout { .. } => {}
                        Record::Stderr { content } => self.logged.stderr(&record[content]),
                        Record::EndRequest(end) => return self.release(end),
                    }
                }
                _ => return,
            }
        }
    }

    /// The request is over: the connection goes back to the pool when it ended cleanly with
    /// nothing left over.
    fn release(&mut self, end: EndRequest) {
        if !end.is_complete() || !self.buf.is_empty() {
            return;
        }
        if let (Some((pool, addr)), Some(io)) = (self.pool.take(), self.io.take())
            && let Some(stream) = io.into_stream()
        {
            pool.put(&addr, stream);
        }
    }

    /// Caps `chunk` at the declared length (bytes past it are dropped, as nginx does).
    fn emit(&mut self, mut chunk: Bytes) -> Option<Frame<Bytes>> {
        if let Some(left) = self.remaining {
            let take = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            chunk.truncate(take);
            self.remaining = Some(left - take as u64);
            if left == take as u64 {
                // The client has it all: finish without waiting for more.
                self.finish_buffered();
            }
        }
        (!chunk.is_empty()).then(|| Frame::data(chunk))
    }

    fn fail(&mut self, e: FastcgiBodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        self.io = None;
        Poll::Ready(Some(Err(Box::new(e))))
    }
}

impl Body for FastcgiBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.pending.is_empty() {
                let chunk = std::mem::take(&mut this.pending);
                if let Some(frame) = this.emit(chunk) {
                    return Poll::Ready(Some(Ok(frame)));
                }
                continue;
            }
            match codec::parse_record(&this.buf) {
                Err(e) => return this.fail(FastcgiBodyError::Protocol(e)),
                Ok(Parsed::Complete { value, consumed }) => match value {
                    Record::Stdout { content } => {
                        let chunk = this.buf.split_to(consumed).freeze().slice(content);
                        if let Some(frame) = this.emit(chunk) {
                            return Poll::Ready(Some(Ok(frame)));
                        }
                        continue;
                    }
                    Record::Stderr { content } => {
                        let record = this.buf.split_to(consumed);
                        this.logged.stderr(&record[content]);
                        continue;
                    }
                    Record::EndRequest(end) => {
                        this.buf.advance(consumed);
                        if let Some(missing) = this.remaining.filter(|n| *n > 0) {
                            return this.fail(FastcgiBodyError::Truncated { missing });
                        }
                        this.done = true;
                        this.release(end);
                        return Poll::Ready(None);
                    }
                },
                Ok(Parsed::Incomplete) => {}
            }
            let Some(io) = this.io.as_mut() else {
                return this.fail(FastcgiBodyError::Closed);
            };
            if this.buf.capacity() - this.buf.len() < READ_ROOM {
                this.buf.reserve(READ_ROOM * 4);
            }
            // `read_buf`'s future keeps no state between polls, so a fresh one per poll is sound.
            let read = std::pin::pin!(io.read.read_buf(&mut this.buf)).poll(cx);
            match read {
                Poll::Pending => {
                    if !this.armed {
                        this.armed = true;
                        this.timer.as_mut().reset(Instant::now() + this.idle);
                    }
                    ready!(this.timer.as_mut().poll(cx));
                    let secs = this.idle.as_secs();
                    return this.fail(FastcgiBodyError::Idle { secs });
                }
                Poll::Ready(Err(e)) => return this.fail(FastcgiBodyError::Io(e)),
                Poll::Ready(Ok(0)) => return this.fail(FastcgiBodyError::Closed),
                Poll::Ready(Ok(_)) => this.armed = false,
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
