//! Client connection timeouts driven by IO activity, checked by one watchdog per connection:
//!
//! - **idle**: nothing moved for `DOCKSIDE_IDLE_TIMEOUT` (nginx's `keepalive_timeout`, 75 s);
//! - **header**: an HTTP/1 request head began (its first byte arrived while no request was in
//!   flight) but did not complete within `DOCKSIDE_HEADER_TIMEOUT` (nginx's
//!   `client_header_timeout`): the slowloris bound.
//!
//! hyper's own header timer is not used: it also runs while a keep-alive connection merely
//! waits for its next request, which closed idle keep-alive connections after the header
//! timeout (10 s) instead of the idle timeout, and a load balancer reusing such a connection
//! got a reset. hyper has no idle timeout of its own for HTTP/2 (and none for HTTP/1).
//!
//! A pipelined head — bytes of the next request that arrive with the current one, or while it
//! is served — sits in hyper's buffer where no read of ours sees it. So reads are watched for
//! bytes past the end of the current request (the end of its head found by a scan for the blank
//! line, plus its declared body length); when the response is sent and such bytes were seen, the
//! header timer starts as though the next head had just begun. A request parsed from buffered
//! bytes alone (no read since the previous response) counts as such too, since more may be
//! buffered behind it. A pipelined head behind a chunked body is not seen: that body's end is
//! known only to hyper (the idle timeout still bounds it).
//!
//! HTTP/2 has no heads between requests, and its PING frames (ours every idle timeout, or the
//! client's) move bytes forever: there the idle timer counts only streams, not bytes — it is
//! reset by a new request or while a response is still being sent.
//!
//! - **stalled** (HTTP/2): every open stream has a response frame waiting for the client's
//!   flow-control window, and none moved for `DOCKSIDE_IDLE_TIMEOUT` (nginx's `send_timeout`).
//!   A client that never sends WINDOW_UPDATE but answers PINGs otherwise held its streams, and the
//!   backend connections behind them, for ever. A stream waiting for its backend is not stalled
//!   (the upstream timeouts bound it).
//!
//! The hot path is one relaxed store per read or write and one clock read per request head;
//! the price is precision: the watchdog looks every eighth of the idle timeout (a quarter of
//! the header timeout, when shorter), so a timeout fires up to one step late. The connection and
//! its watchdog run in one task through [`Race`], which re-polls the watchdog only when its own
//! timer or signal woke the task, not on every read and write of a busy connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::task::AtomicWaker;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the watchdog needs to know about one connection.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    /// Whether any byte moved since the watchdog last looked.
    moved: AtomicBool,
    /// When the pending request head began, in milliseconds since `epoch` plus one; 0: none.
    head_started: AtomicU64,
    /// Requests whose response has not been fully sent.
    in_flight: AtomicU32,
    /// HTTP/2: framing has no "between requests", so the header timeout does not apply.
    multiplexed: AtomicBool,
    /// HTTP/2 streams started so far: a new one resets the idle timer.
    requests: AtomicU64,
    /// HTTP/2: responses whose last frame was handed to hyper and which were not polled since:
    /// they wait for the client's flow-control window (`Watched`).
    waiting_on_client: AtomicU32,
    /// HTTP/2: a response frame was handed to hyper since the watchdog last looked.
    sent: AtomicBool,
    /// HTTP/1: bytes read past the end of the last request head, in the read that ended it.
    past_head: AtomicU64,
    /// HTTP/1: body bytes of the request in flight still to be read; `u64::MAX` when unknown
    /// (chunked).
    body_left: AtomicU64,
    /// HTTP/1: bytes of a next request were read while this one was served: the header timer
    /// starts when its response is sent.
    next_head: AtomicBool,
    /// HTTP/1: a read happened since the last request began (else the next head came from
    /// hyper's buffer alone).
    fresh_read: AtomicBool,
}

/// `Activity::body_left` when the body's length is not known.
const UNKNOWN: u64 = u64::MAX;

/// Why the watchdog fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Idle,
    Header,
    /// HTTP/2: streams are open, but every one waits for the client to open its window.
    Stalled,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            moved: AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            multiplexed: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            waiting_on_client: AtomicU32::new(0),
            sent: AtomicBool::new(false),
            past_head: AtomicU64::new(0),
            body_left: AtomicU64::new(0),
            next_head: AtomicBool::new(false),
            fresh_read: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn wrote(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// `bytes` were just read. `scan` finds the end of a request head in them (HTTP/1 only).
    fn read(&self, bytes: &[u8], scan: &mut HeadScan) {
        self.moved.store(true, Ordering::Relaxed);
        if self.multiplexed.load(Ordering::Relaxed) {
            return;
        }
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            self.read_while_serving(bytes.len() as u64);
            return;
        }
        self.fresh_read.store(true, Ordering::Relaxed);
        if self.head_started.load(Ordering::Relaxed) == 0 {
            self.head_started.store(self.now_ms(), Ordering::Relaxed);
        }
        if let Some(end) = scan.find_end(bytes) {
            // HTTP/1 bookkeeping happens on the connection's own task: loads and stores, no
            // read-modify-write.
            let past = self.past_head.load(Ordering::Relaxed) + (bytes.len() - end) as u64;
            self.past_head.store(past, Ordering::Relaxed);
        }
    }

    /// A read while a request is served: past its body's end, it is the next request's.
    fn read_while_serving(&self, n: u64) {
        let left = self.body_left.load(Ordering::Relaxed);
        if left == UNKNOWN {
            return;
        }
        if n > left {
            self.next_head.store(true, Ordering::Relaxed);
        }
        self.body_left
            .store(left.saturating_sub(n), Ordering::Relaxed);
    }

    /// A request head is complete: the header timer stops until the response is sent.
    /// `body_len` is the request body's declared length (`Some(0)` for none, `None` when
    /// chunked).
    pub fn request_started(self: &Arc<Self>, http2: bool, body_len: Option<u64>) -> InFlight {
        if http2 {
            // Streams start on their own tasks: this count is shared.
            self.multiplexed.store(true, Ordering::Relaxed);
            self.requests.fetch_add(1, Ordering::Relaxed);
        } else {
            self.account_head(body_len);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// HTTP/1: whether bytes already read belong to a next request.
    fn account_head(&self, body_len: Option<u64>) {
        let past = self.past_head.load(Ordering::Relaxed);
        if past != 0 {
            self.past_head.store(0, Ordering::Relaxed);
        }
        let from_buffer = !self.fresh_read.load(Ordering::Relaxed);
        self.fresh_read.store(false, Ordering::Relaxed);
        let left = match body_len {
            Some(len) if past > len => {
                self.next_head.store(true, Ordering::Relaxed);
                0
            }
            Some(len) => len - past,
            None => UNKNOWN,
        };
        self.body_left.store(left, Ordering::Relaxed);
        if from_buffer {
            self.next_head.store(true, Ordering::Relaxed);
        }
    }

    /// The last response in flight was sent: a next head already read starts its timer now.
    fn served(&self) {
        if self.next_head.load(Ordering::Relaxed) && !self.multiplexed.load(Ordering::Relaxed) {
            self.next_head.store(false, Ordering::Relaxed);
            self.head_started.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Resolves when the connection has been idle for `idle`, or a request head has been
    /// arriving for longer than `header`.
    pub async fn expired(&self, idle: Duration, header: Duration) -> Expired {
        let step = (idle / 8).min(header / 4).max(Duration::from_millis(1));
        let header_ms = header.as_millis() as u64;
        let mut quiet = Duration::ZERO;
        let mut requests = self.requests.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(step).await;
            let started = self.head_started.load(Ordering::Relaxed);
            if started != 0 && self.now_ms().saturating_sub(started) >= header_ms {
                return Expired::Header;
            }
            let moved = self.moved.swap(false, Ordering::Relaxed);
            let now_requests = self.requests.load(Ordering::Relaxed);
            let new_request = std::mem::replace(&mut requests, now_requests) != now_requests;
            // HTTP/2: PINGs and other control frames move bytes but are not activity; a
            // stream is, unless it only waits for the client's window.
            let multiplexed = self.multiplexed.load(Ordering::Relaxed);
            let in_flight = self.in_flight.load(Ordering::Relaxed);
            let busy = if multiplexed {
                let sent = self.sent.swap(false, Ordering::Relaxed);
                new_request || sent || in_flight > self.waiting_on_client.load(Ordering::Relaxed)
            } else {
                moved
            };
            if busy {
                quiet = Duration::ZERO;
            } else {
                quiet += step;
                if quiet >= idle {
                    return match multiplexed && in_flight > 0 {
                        true => Expired::Stalled,
                        false => Expired::Idle,
                    };
                }
            }
        }
    }
}

/// One request in flight until dropped (with its response body, once sent).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.served();
        }
    }
}

/// The largest piece of response data `Watched` hands to hyper at once.
const PIECE: usize = 16 * 1024;

/// An HTTP/2 response body and its stream's `InFlight`: between handing a piece of data to hyper
/// and being polled again (hyper polls once h2 has sent what it holds, as the client's window
/// allows) it counts as waiting on the client, which the watchdog reads to tell a stalled
/// connection from a busy one. Data is handed out in pieces of at most 16 KiB (the frame size
/// h2 sends anyway; `Bytes::split_off`, no copy), so a client that takes 16 KiB per idle timeout
/// is making progress however large the backend's chunks are. The cost, on HTTP/2 only: two
/// relaxed read-modify-writes per piece, one hyper poll per 16 KiB.
pub struct Watched<B> {
    body: B,
    /// What is left of a chunk larger than `PIECE`.
    rest: Option<Bytes>,
    in_flight: InFlight,
    waiting: bool,
}

impl<B> Watched<B> {
    pub fn new(body: B, in_flight: InFlight) -> Watched<B> {
        Watched {
            body,
            rest: None,
            in_flight,
            waiting: false,
        }
    }

    fn polled(&mut self) {
        if std::mem::take(&mut self.waiting) {
            let activity = &self.in_flight.0;
            activity.waiting_on_client.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The first `PIECE` bytes of `data`; the rest is kept for the next poll.
    fn piece(&mut self, mut data: Bytes) -> Bytes {
        if data.len() > PIECE {
            self.rest = Some(data.split_off(PIECE));
        }
        data
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Watched<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        this.polled();
        let polled = match this.rest.take() {
            Some(rest) => Poll::Ready(Some(Ok(Frame::data(rest)))),
            None => Pin::new(&mut this.body).poll_frame(cx),
        };
        let Poll::Ready(Some(Ok(frame))) = polled else {
            return polled;
        };
        let frame = match frame.into_data() {
            Ok(data) => Frame::data(this.piece(data)),
            Err(trailers) => trailers,
        };
        let activity = &this.in_flight.0;
        activity.sent.store(true, Ordering::Relaxed);
        activity.waiting_on_client.fetch_add(1, Ordering::Relaxed);
        this.waiting = true;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.body.size_hint();
        let Some(rest) = &self.rest else {
            return inner;
        };
        let n = rest.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + n);
        }
        hint.set_lower(inner.lower() + n);
        hint
    }
}

impl<B> Drop for Watched<B> {
    fn drop(&mut self) {
        // Before `in_flight` drops: `waiting_on_client` never exceeds `in_flight`.
        self.polled();
    }
}

/// Finds the blank line that ends an HTTP/1 request head (`\n\n` or `\n\r\n`, as httparse
/// accepts both), across reads.
#[derive(Debug, Default)]
pub struct HeadScan {
    /// 0: inside a line; 1: just after a line feed; 2: after a line feed and a carriage return.
    state: u8,
}

impl HeadScan {
    /// The offset just past the first head end in `bytes`; the scan then goes on through the
    /// rest, so a later head that begins here is followed into the next read.
    fn find_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut first = None;
        let mut i = 0;
        while i < bytes.len() {
            if self.state == 0 {
                match memchr::memchr(b'\n', &bytes[i..]) {
                    Some(at) => {
                        self.state = 1;
                        i += at + 1;
                    }
                    None => return first,
                }
                continue;
            }
            match (self.state, bytes[i]) {
                (1 | 2, b'\n') => {
                    first = first.or(Some(i + 1));
                    self.state = 0;
                }
                (1, b'\r') => self.state = 2,
                _ => self.state = 0,
            }
            i += 1;
        }
        first
    }
}

pin_project! {
    /// `inner`, stamping `activity` on every successful read or write.
    pub struct Tracked<IO> {
        #[pin]
        inner: IO,
        activity: Arc<Activity>,
        scan: HeadScan,
    }
}

impl<IO> Tracked<IO> {
    pub fn new(inner: IO, activity: Arc<Activity>) -> Tracked<IO> {
        Tracked {
            inner,
            activity,
            scan: HeadScan::default(),
        }
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
            this.activity.read(&buf.filled()[before..], this.scan);
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
            this.activity.wrote();
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
            this.activity.wrote();
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

pin_project! {
    /// Drives `main` and `side` in one task and resolves with whichever finishes first (`side`
    /// when both are ready), like `select!`, except that `side` is polled only after one of its
    /// own wakers fired. `side` is a connection's watchdog (a sleep and the shutdown signal):
    /// with `select!` both were polled on every wake of the task, that is on every read and
    /// write, which cost more than all the rest of the timeout bookkeeping.
    pub struct Race<M, S> {
        #[pin]
        main: M,
        #[pin]
        side: S,
        waker: Arc<SideWaker>,
    }
}

impl<M, S> Race<M, S> {
    pub fn new(main: M, side: S) -> Race<M, S> {
        Race {
            main,
            side,
            waker: Arc::new(SideWaker {
                // The first poll must reach `side` so that it can register its wakers.
                fired: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
        }
    }
}

/// The waker `side` sees: it records that `side` has news, then wakes the task.
#[derive(Debug)]
struct SideWaker {
    fired: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SideWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<M: Future, S: Future> Future for Race<M, S> {
    type Output = Either<M::Output, S::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Register before looking at the flag: a wake in between then polls us again.
        this.waker.task.register(cx.waker());
        if this.waker.fired.swap(false, Ordering::AcqRel) {
            let waker = Waker::from(this.waker.clone());
            if let Poll::Ready(out) = this.side.poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(Either::Right(out));
            }
        }
        this.main.poll(cx).map(Either::Left)
    }
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod tests;
