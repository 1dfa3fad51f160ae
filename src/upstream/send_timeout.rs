//! nginx's `proxy_send_timeout` for HTTP(S) backends: the longest a backend may go without
//! taking more of the request. hyper writes the request body as it polls it, and stops polling
//! while the socket is full, so "the backend stopped reading" is "the body was not polled for
//! that long". Time spent waiting on the *client* (the body's own poll said Pending) does not
//! count: a slow client is the client-side watchdogs' business. The same watch tells gRPC when
//! the body has gone in full ([`Progress::sent`]), where its read timeout starts.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::exchange::{BoxError, ProxyBody};

/// What the body wrapper tells the watchdog.
pub(super) struct Progress {
    base: Instant,
    /// Milliseconds after `base` of the last poll; `u64::MAX` before the first.
    last_poll: AtomicU64,
    /// The last poll was answered Pending by the client side: not the backend's stall.
    waiting_on_client: AtomicBool,
    done: AtomicBool,
    /// Wakes [`Progress::sent`] when `done` is set.
    sent: Notify,
}

impl Progress {
    /// Resolves once the body has ended, failed or been dropped: nothing more goes to the
    /// backend.
    pub(super) async fn sent(&self) {
        // `notify_one` keeps a permit when nobody waits yet, so no wake-up is lost.
        while !self.done.load(Ordering::Acquire) {
            self.sent.notified().await;
        }
    }

    fn finish(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.sent.notify_one();
        }
    }
}

/// `body`, observed: the returned `Progress` feeds [`stalled`].
pub(super) fn watch(body: ProxyBody) -> (ProxyBody, Arc<Progress>) {
    let progress = Arc::new(Progress {
        base: Instant::now(),
        last_poll: AtomicU64::new(u64::MAX),
        waiting_on_client: AtomicBool::new(false),
        done: AtomicBool::new(false),
        sent: Notify::new(),
    });
    if body.is_end_stream() {
        progress.finish();
    }
    let body = Watched {
        inner: body,
        progress: progress.clone(),
    };
    (body.boxed(), progress)
}

/// `exchange`'s output, or `None` when the backend stopped taking the body for `limit` first.
pub(super) async fn unless_stalled<T>(
    exchange: impl std::future::Future<Output = T>,
    progress: &Progress,
    limit: Duration,
) -> Option<T> {
    tokio::select! {
        out = exchange => Some(out),
        () = stalled(progress, limit) => None,
    }
}

/// Resolves when the backend has not taken any of the body for `limit`; never once the body
/// is sent, before its first poll, or while the client is the one being waited for.
pub(super) async fn stalled(progress: &Progress, limit: Duration) {
    let mut wake = Instant::now() + limit;
    loop {
        tokio::time::sleep_until(wake).await;
        if progress.done.load(Ordering::Acquire) {
            return std::future::pending().await;
        }
        let last = progress.last_poll.load(Ordering::Acquire);
        let idle = progress.waiting_on_client.load(Ordering::Acquire) || last == u64::MAX;
        let since = progress.base + Duration::from_millis(if last == u64::MAX { 0 } else { last });
        if !idle && Instant::now() >= since + limit {
            return;
        }
        wake = (if idle { Instant::now() } else { since }) + limit;
    }
}

struct Watched {
    inner: ProxyBody,
    progress: Arc<Progress>,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let p = &self.progress;
        let ms = u64::try_from(p.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        p.last_poll.store(ms, Ordering::Release);
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let p = &self.progress;
        p.waiting_on_client
            .store(polled.is_pending(), Ordering::Release);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_))))
            || self.inner.is_end_stream()
        {
            self.progress.finish();
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
    /// hyper dropped the body unfinished (the exchange ended or failed): nothing more is sent.
    fn drop(&mut self) {
        self.progress.finish();
    }
}

#[cfg(test)]
#[path = "send_timeout_tests.rs"]
mod tests;
