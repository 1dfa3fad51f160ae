//! An HTTP/3 request stream's body as the service's [`ClientBody`], and a service response
//! streamed back over the stream. Both directions stream frame by frame: QUIC flow control
//! bounds what a client may send ahead, and a response chunk is written before the next one is
//! read from the backend.

use std::pin::Pin;
use std::task::{Context, Poll};

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

    fn take(&mut self, bytes: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(left) = &mut self.remaining {
            *left = left.saturating_sub(bytes.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(first) = self.first.take() {
            return self.take(first);
        }
        if self.ended {
            return Poll::Ready(None);
        }
        match self.recv.poll_recv_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(mut buf))) => {
                let bytes = buf.copy_to_bytes(buf.remaining());
                self.take(bytes)
            }
            Poll::Ready(Ok(None)) => {
                self.ended = true;
                Poll::Ready(None)
            }
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

/// Sends `response` on `send`: the head, then each body frame as it comes, then the end.
pub async fn send_response(
    send: &mut SendHalf,
    response: Response<ProxyBody>,
) -> Result<(), SendError> {
    let (mut parts, mut body) = response.into_parts();
    strip_connection_headers(&mut parts.headers);
    send.send_response(Response::from_parts(parts, ())).await?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(SendError::Body)?;
        match frame.into_data() {
            Ok(data) => {
                if !data.is_empty() {
                    send.send_data(data).await?;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers).await?;
                    return Ok(());
                }
            }
        }
    }
    send.finish().await?;
    Ok(())
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
