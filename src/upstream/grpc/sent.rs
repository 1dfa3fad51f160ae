//! When a call's request body has gone to the backend in full: the upstream (read) timeout of
//! a gRPC call starts then, so a client-streaming upload that lasts longer than the read
//! timeout is not cut short as a slow backend. The body wrapper tells a waiter at its end.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::Notify;

use crate::exchange::{BoxError, ProxyBody};

/// Set once by the body wrapper, awaited by the call.
pub(super) struct Sent {
    done: AtomicBool,
    notify: Notify,
}

impl Sent {
    /// Resolves once the body has ended (or failed): nothing more goes to the backend.
    pub(super) async fn wait(&self) {
        // `notify_one` keeps a permit when nobody waits yet, so no wake-up is lost.
        while !self.done.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
    }

    fn finish(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// `body`, observed: the returned [`Sent`] resolves when it has been sent in full. A body
/// that is empty from the start is sent already.
pub(super) fn watch(body: ProxyBody) -> (ProxyBody, Arc<Sent>) {
    let sent = Arc::new(Sent {
        done: AtomicBool::new(false),
        notify: Notify::new(),
    });
    if body.is_end_stream() {
        sent.finish();
    }
    let body = Watched {
        inner: body,
        sent: sent.clone(),
    };
    (body.boxed(), sent)
}

struct Watched {
    inner: ProxyBody,
    sent: Arc<Sent>,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_))))
            || self.inner.is_end_stream()
        {
            self.sent.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    /// hyper dropped the body unfinished (the call ended or failed): the read timer may run.
    fn drop(&mut self) {
        self.sent.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test]
    async fn an_empty_body_is_sent_at_once_and_a_streamed_one_at_its_end() {
        let (_body, sent) = watch(crate::exchange::empty());
        sent.wait().await;

        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|frame| (frame, rx))
        });
        let (mut body, sent) = watch(StreamBody::new(stream).boxed());
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        assert!(body.frame().await.is_some());
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), sent.wait());
        assert!(waiting.await.is_err(), "not sent before the body ends");
        drop(tx);
        assert!(body.frame().await.is_none());
        sent.wait().await;

        let (mut body, sent) = watch(
            Full::new(Bytes::from_static(b"x"))
                .map_err(|e| match e {})
                .boxed(),
        );
        assert!(body.frame().await.is_some());
        sent.wait().await;
    }
}
