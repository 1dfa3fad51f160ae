//! An HTTP/3 request stream's body as the service's [`ClientBody`], and a service response
//! streamed back over the stream. Both directions stream frame by frame: QUIC flow control
//! bounds what a client may send ahead, and a response chunk is written before the next one is
//! read from the backend.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3::server::RequestStream;
use http::{HeaderMap, Response, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::exchange::{BoxError, ClientBody, ClientBodyError, ProxyBody};

/// The receiving half of a request stream.
pub type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;
/// The sending half of a request stream.
pub type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// A request body read from an HTTP/3 stream.
pub struct H3Body {
    recv: RecvHalf,
    /// A chunk read ahead (to learn whether a GET has a body) and not yet returned.
    first: Option<Bytes>,
    /// The stream's end was seen.
    ended: bool,
    /// What `Content-Length` announced, less what has been returned.
    remaining: Option<u64>,
}

impl H3Body {
    /// Wraps `recv`; `length` is the request's `Content-Length`, if any.
    pub fn new(recv: RecvHalf, length: Option<u64>) -> H3Body {
        H3Body {
            recv,
            first: None,
            ended: length == Some(0),
            remaining: length,
        }
    }

    /// Reads the first chunk now: a request without `Content-Length` whose stream already ended
    /// (a plain GET) is then known to be empty, so it can be retried on another backend.
    pub async fn read_ahead(&mut self) -> Result<(), ClientBodyError> {
        match self.recv.recv_data().await {
            Ok(Some(mut buf)) => self.first = Some(buf.copy_to_bytes(buf.remaining())),
            Ok(None) => self.ended = true,
            Err(e) => return Err(ClientBodyError(Box::new(e))),
        }
        Ok(())
    }

    /// Returns a chunk, checked against `Content-Length` (RFC 9114 §4.1.2: a body longer than
    /// declared makes the request malformed; h3 does not check it).
    ///
    /// Once the declared length is reached, the body's consumer (hyper's HTTP/1 encoder) stops
    /// reading, so what the client already sent past it is looked at now, without waiting;
    /// excess that arrives later is not read (the backend gets exactly the declared bytes).
    fn take(
        &mut self,
        bytes: Bytes,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(left) = &mut self.remaining {
            match left.checked_sub(bytes.len() as u64) {
                Some(0) if !self.ended => match self.recv.poll_recv_data(cx) {
                    Poll::Ready(Ok(Some(more))) if more.has_remaining() => {
                        return self.malformed(LengthMismatch::Longer);
                    }
                    Poll::Ready(Err(e)) => {
                        self.ended = true;
                        return Poll::Ready(Some(Err(Box::new(ClientBodyError(Box::new(e))))));
                    }
                    Poll::Ready(Ok(None)) => {
                        self.ended = true;
                        self.remaining = Some(0);
                    }
                    _ => self.remaining = Some(0),
                },
                Some(rest) => *left = rest,
                None => return self.malformed(LengthMismatch::Longer),
            }
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }

    /// The body ends; short of `Content-Length`, that is the client's fault too.
    fn end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        match self.remaining {
            Some(left) if left > 0 => self.malformed(LengthMismatch::Shorter),
            _ => Poll::Ready(None),
        }
    }

    fn malformed(&mut self, why: LengthMismatch) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        self.remaining = None;
        Poll::Ready(Some(Err(Box::new(ClientBodyError(Box::new(why))))))
    }
}

/// A request body that does not match its `Content-Length` (a malformed request: 400).
#[derive(Debug, thiserror::Error)]
enum LengthMismatch {
    #[error("more body than its Content-Length")]
    Longer,
    #[error("the body ended short of its Content-Length")]
    Shorter,
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(first) = self.first.take() {
            return self.take(first, cx);
        }
        if self.ended {
            return Poll::Ready(None);
        }
        match self.recv.poll_recv_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(mut buf))) => {
                let bytes = buf.copy_to_bytes(buf.remaining());
                self.take(bytes, cx)
            }
            Poll::Ready(Ok(None)) => self.end(),
            Poll::Ready(Err(e)) => {
                self.ended = true;
                Poll::Ready(Some(Err(Box::new(ClientBodyError(Box::new(e))))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && (self.ended || self.remaining == Some(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

impl ClientBody for H3Body {
    const HTTP3: bool = true;

    fn into_proxy(self) -> ProxyBody {
        self.boxed()
    }
}

/// Why a response could not be sent in full (the client reset the stream, the backend's body
/// failed): the stream is then reset and the connection goes on.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("sending to the client: {0}")]
    Client(#[from] h3::error::StreamError),
    #[error("reading the response body: {0}")]
    Body(#[source] BoxError),
    #[error("the client took no response data for {0:?}")]
    Stalled(Duration),
}

/// Headers RFC 9114 §4.2 forbids on HTTP/3 (connection-specific); a backend's HTTP/1.1 answer
/// may carry them.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Sends `response` on `send`: the head, then each body frame as it comes, then the end. Each
/// write must make progress within `idle` (`DOCKSIDE_IDLE_TIMEOUT`): a client that grants no
/// stream credit would otherwise hold the request, and its backend connection, forever.
pub async fn send_response(
    send: &mut SendHalf,
    response: Response<ProxyBody>,
    idle: Duration,
) -> Result<(), SendError> {
    let (mut parts, mut body) = response.into_parts();
    strip_connection_headers(&mut parts.headers);
    within(idle, send.send_response(Response::from_parts(parts, ()))).await?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(SendError::Body)?;
        match frame.into_data() {
            Ok(data) => {
                if !data.is_empty() {
                    within(idle, send.send_data(data)).await?;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    within(idle, send.send_trailers(trailers)).await?;
                    return Ok(());
                }
            }
        }
    }
    within(idle, send.finish()).await?;
    Ok(())
}

/// One write to the client, bounded by `idle`.
async fn within(
    idle: Duration,
    write: impl Future<Output = Result<(), h3::error::StreamError>>,
) -> Result<(), SendError> {
    match tokio::time::timeout(idle, write).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(SendError::Stalled(idle)),
    }
}

fn strip_connection_headers(headers: &mut HeaderMap) {
    if let Some(listed) = headers.get(header::CONNECTION).cloned()
        && let Ok(listed) = listed.to_str()
    {
        for name in listed.split(',') {
            headers.remove(name.trim());
        }
    }
    for name in CONNECTION_SPECIFIC {
        headers.remove(name);
    }
}
