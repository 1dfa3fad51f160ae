//! The end of a response as the client saw it: a body wrapper that counts the bytes actually
//! handed to the connection and reports once, when the body ends, fails, or is dropped because
//! the client went away. The access log's `body_bytes_sent` and `request_time` and the metrics'
//! bytes out and request duration come from it (nginx's `$request_time` runs to the last byte).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::body::{BoxError, ProxyBody};

/// What to do when a response is over.
pub(crate) trait OnComplete: Send + Sync + Unpin + 'static {
    /// `sent`: body bytes handed to the connection; `end`: when the body ended or was dropped.
    fn complete(self, sent: u64, end: Instant);
}

/// `body`, reporting to `done` once it is over. Only added when something listens (metrics or
/// the access log), so a proxy with both off does not pay for it.
pub(crate) fn on_complete<F: OnComplete>(body: ProxyBody, done: F) -> ProxyBody {
    Completion {
        body,
        sent: 0,
        done: Some(done),
    }
    .boxed()
}

struct Completion<F: OnComplete> {
    body: ProxyBody,
    sent: u64,
    done: Option<F>,
}

impl<F: OnComplete> Completion<F> {
    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            done.complete(self.sent, Instant::now());
        }
    }
}

impl<F: OnComplete> Body for Completion<F> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
                if self.body.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None | Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<F: OnComplete> Drop for Completion<F> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
#[path = "completion_tests.rs"]
mod tests;
