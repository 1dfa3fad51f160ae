//! The streaming side: a `Body` that compresses the backend's body as it arrives. It never waits
//! for more of the body than the backend has sent: whenever the backend has nothing more ready,
//! what was compressed so far is flushed and sent, so a backend that sends a first chunk and
//! then thinks gives the client decodable bytes at once (nginx's `gzip` does the same when
//! `proxy_buffering` is off). Frames that arrive together are compressed together, so a fast
//! backend pays for one flush per burst, not one per frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use super::coder::Coder;
use crate::exchange::{BoxError, ProxyBody};

/// Compressed bytes are sent once this many are ready, even while the backend still has more,
/// so the buffer a stream holds stays this size plus one input frame.
const SEND_AT: usize = 16 * 1024;

/// Input compressed in one poll before the task yields, so a backend body that is always ready
/// (and compresses to almost nothing) cannot hold a worker thread.
const YIELD_AFTER: usize = 256 * 1024;

/// `body` compressed by `coder`. Trailers pass through after the last compressed bytes; an error
/// of the backend body passes through as it is and ends the stream.
pub(super) fn compressed(body: ProxyBody, coder: Coder) -> ProxyBody {
    http_body_util::BodyExt::boxed(Compressed {
        inner: body,
        coder,
        unflushed: false,
        ended: false,
        trailers: None,
    })
}

struct Compressed {
    inner: ProxyBody,
    coder: Coder,
    /// Input written since the last flush: a flush would produce something.
    unflushed: bool,
    /// The backend body ended (or failed); only `trailers` may still go out.
    ended: bool,
    trailers: Option<HeaderMap>,
}

type Polled = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

impl Body for Compressed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        let mut read = 0;
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        read += data.len();
                        if let Err(e) = this.coder.write(&data) {
                            return this.fail(e.into());
                        }
                        this.unflushed |= !data.is_empty();
                        if this.coder.ready() >= SEND_AT {
                            return send(this.coder.take());
                        }
                        if read >= YIELD_AFTER {
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                        return this.finish();
                    }
                },
                Poll::Ready(Some(Err(e))) => return this.fail(e),
                Poll::Ready(None) => return this.finish(),
                Poll::Pending => return this.flush(),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.trailers.is_none()
    }

    /// Unknown: the compressed length is known only at the end (the backend's length must not
    /// become a `Content-Length`).
    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Compressed {
    /// The backend has nothing ready: send what was compressed so far, decodable.
    fn flush(&mut self) -> Polled {
        if !self.unflushed {
            return Poll::Pending;
        }
        self.unflushed = false;
        if let Err(e) = self.coder.flush() {
            return self.fail(e.into());
        }
        match self.coder.take() {
            out if out.is_empty() => Poll::Pending,
            out => send(out),
        }
    }

    /// The backend body is complete: the end of the compressed stream, then the trailers.
    fn finish(&mut self) -> Polled {
        self.ended = true;
        match self.coder.finish() {
            Ok(rest) if !rest.is_empty() => send(rest),
            Ok(_) => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
            Err(e) => self.fail(e.into()),
        }
    }

    fn fail(&mut self, e: BoxError) -> Polled {
        self.ended = true;
        self.trailers = None;
        self.coder.abandon();
        Poll::Ready(Some(Err(e)))
    }
}

fn send(data: Bytes) -> Polled {
    Poll::Ready(Some(Ok(Frame::data(data))))
}
