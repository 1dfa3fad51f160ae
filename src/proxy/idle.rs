//! Idle detection for client connections: an IO wrapper flags every read or write that moved
//! bytes, and a watchdog resolves once a whole idle timeout passed without the flag being set.
//! hyper has no idle timeout of its own for HTTP/2 (and only the header timeout for HTTP/1).
//! The flag is one relaxed store on the hot path (no clock read per read and write); the price
//! is precision: a connection is closed after between `timeout` and `timeout + timeout/8` of
//! silence.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Whether any byte moved on one connection since the watchdog last looked.
#[derive(Debug, Default)]
pub struct Activity {
    moved: AtomicBool,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity::default())
    }

    fn touch(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// Resolves once no byte moved for `timeout` (checked every eighth of it).
    pub async fn idle(&self, timeout: Duration) {
        let step = (timeout / 8).max(Duration::from_millis(1));
        let mut quiet = Duration::ZERO;
        loop {
            tokio::time::sleep(step).await;
            if self.moved.swap(false, Ordering::Relaxed) {
                quiet = Duration::ZERO;
            } else {
                quiet += step;
                if quiet >= timeout {
                    return;
                }
            }
        }
    }
}

pin_project! {
    /// `inner`, stamping `activity` on every successful read or write.
    pub struct Tracked<IO> {
        #[pin]
        inner: IO,
        activity: Arc<Activity>,
    }
}

impl<IO> Tracked<IO> {
    pub fn new(inner: IO, activity: Arc<Activity>) -> Tracked<IO> {
        Tracked { inner, activity }
    }
}

impl<IO: AsyncRead> AsyncRead for Tracked<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let res = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        res
    }
}

impl<IO: AsyncWrite> AsyncWrite for Tracked<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.inner.poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.inner.poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn idle_fires_only_after_quiet_time() {
        let (a, mut b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut tracked = Tracked::new(a, activity.clone());
        let watchdog = activity.clone();
        let idle = tokio::spawn(async move { watchdog.idle(Duration::from_secs(10)).await });
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            b.write_all(b"x").await.unwrap();
            let mut byte = [0u8; 1];
            tracked.read_exact(&mut byte).await.unwrap();
            assert!(!idle.is_finished(), "idle fired although bytes moved");
        }
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(!idle.is_finished(), "idle fired before the timeout");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(idle.is_finished());
    }
}
