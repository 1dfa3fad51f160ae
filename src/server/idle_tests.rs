//! Tests for the connection watchdog, the head scanner and `Race`.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

const IDLE: Duration = Duration::from_secs(10);
const HEADER: Duration = Duration::from_secs(4);

/// A tracked connection (our side, the client's side) and its watchdog.
struct Conn {
    activity: Arc<Activity>,
    ours: Tracked<DuplexStream>,
    client: DuplexStream,
}

impl Conn {
    fn new() -> Conn {
        let (ours, client) = tokio::io::duplex(64);
        let activity = Activity::new();
        let ours = Tracked::new(ours, activity.clone());
        Conn {
            activity,
            ours,
            client,
        }
    }

    fn watch(&self, idle: Duration, header: Duration) -> JoinHandle<Expired> {
        let activity = self.activity.clone();
        tokio::spawn(async move { activity.expired(idle, header).await })
    }

    /// The client sends one byte every `every`, `times` times; we read each.
    async fn trickle(&mut self, times: usize, every: Duration) {
        for _ in 0..times {
            self.client.write_all(b"x").await.unwrap();
            let mut byte = [0u8; 1];
            self.ours.read_exact(&mut byte).await.unwrap();
            tokio::time::sleep(every).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn idle_fires_only_after_quiet_time() {
    let mut conn = Conn::new();
    // A request in flight keeps the header timer out of this test.
    let in_flight = conn.activity.request_started(false, Some(0));
    let expired = conn.watch(IDLE, IDLE);
    conn.trickle(3, Duration::from_secs(6)).await;
    assert!(!expired.is_finished(), "fired although bytes moved");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!expired.is_finished(), "idle fired before the timeout");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(expired.await.unwrap(), Expired::Idle);
    drop(in_flight);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_keep_alive_connection_is_not_a_slow_head() {
    let conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    // Silent for longer than the header timeout: only the idle timeout applies.
    tokio::time::sleep(HEADER * 2).await;
    assert!(!expired.is_finished());
    tokio::time::sleep(IDLE).await;
    assert_eq!(expired.await.unwrap(), Expired::Idle);
}

#[tokio::test(start_paused = true)]
async fn a_head_that_trickles_in_is_cut_off() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    // One byte a second keeps the connection from being idle, not the head from being late.
    conn.trickle(6, Duration::from_secs(1)).await;
    assert_eq!(expired.await.unwrap(), Expired::Header);
}

#[tokio::test(start_paused = true)]
async fn a_long_request_is_not_a_slow_head() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    let in_flight = conn.activity.request_started(false, None);
    // An upload trickling for longer than the header timeout, while the request is served.
    conn.trickle(8, Duration::from_secs(1)).await;
    assert!(!expired.is_finished());
    drop(in_flight);
}

#[tokio::test(start_paused = true)]
async fn http2_has_no_header_timeout() {
    let mut conn = Conn::new();
    drop(conn.activity.request_started(true, None));
    let expired = conn.watch(IDLE, HEADER);
    conn.trickle(8, Duration::from_secs(1)).await;
    assert!(!expired.is_finished());
}

impl Conn {
    /// The client sends `bytes` in one write; we read them in one read.
    async fn arrive(&mut self, bytes: &[u8]) {
        self.client.write_all(bytes).await.unwrap();
        let mut got = vec![0u8; bytes.len()];
        let n = self.ours.read(&mut got).await.unwrap();
        assert_eq!(n, bytes.len(), "one read");
    }
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn a_pipelined_partial_head_starts_the_header_timer() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    conn.arrive(b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\nGET /x HTTP/1.1\r\nHost: a.te")
        .await;
    drop(conn.activity.request_started(false, Some(0)));
    tokio::time::sleep(HEADER + HEADER / 2).await;
    assert_eq!(expired.await.unwrap(), Expired::Header);
}

#[tokio::test(start_paused = true)]
async fn bytes_after_a_complete_request_start_the_header_timer() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    conn.arrive(GET).await;
    let in_flight = conn.activity.request_started(false, Some(0));
    conn.arrive(b"GET /x HT").await;
    tokio::time::sleep(HEADER + HEADER / 4).await;
    assert!(
        !expired.is_finished(),
        "the header timer ran while a request was served"
    );
    drop(in_flight);
    tokio::time::sleep(HEADER / 2).await;
    assert!(!expired.is_finished(), "fired before the header timeout");
    assert_eq!(expired.await.unwrap(), Expired::Header);
}

#[tokio::test(start_paused = true)]
async fn a_head_parsed_from_buffered_bytes_may_hide_another() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    conn.arrive(GET).await;
    drop(conn.activity.request_started(false, Some(0)));
    // The second request came out of hyper's buffer without a read of ours.
    drop(conn.activity.request_started(false, Some(0)));
    tokio::time::sleep(HEADER + HEADER / 2).await;
    assert_eq!(expired.await.unwrap(), Expired::Header);
}

#[tokio::test(start_paused = true)]
async fn a_declared_body_is_not_a_next_head() {
    let mut conn = Conn::new();
    let expired = conn.watch(IDLE, HEADER);
    conn.arrive(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234")
        .await;
    let in_flight = conn.activity.request_started(false, Some(10));
    conn.arrive(b"56789").await;
    drop(in_flight);
    // Waiting for the next request after the response: only the idle timeout applies.
    tokio::time::sleep(HEADER * 2).await;
    assert!(
        !expired.is_finished(),
        "the body's tail was taken for a head"
    );
    tokio::time::sleep(IDLE).await;
    assert_eq!(expired.await.unwrap(), Expired::Idle);
}

#[tokio::test(start_paused = true)]
async fn http2_control_frames_do_not_keep_an_idle_connection() {
    let mut conn = Conn::new();
    drop(conn.activity.request_started(true, None));
    let expired = conn.watch(IDLE, HEADER);
    // PING and its ACK every second: bytes move, no stream is open.
    conn.trickle(30, Duration::from_secs(1)).await;
    assert_eq!(expired.await.unwrap(), Expired::Idle);
}

#[tokio::test(start_paused = true)]
async fn http2_a_stream_being_served_is_not_idle() {
    let conn = Conn::new();
    let in_flight = conn.activity.request_started(true, None);
    let expired = conn.watch(IDLE, HEADER);
    tokio::time::sleep(IDLE * 2).await;
    assert!(!expired.is_finished(), "idle fired with a stream open");
    drop(in_flight);
    tokio::time::sleep(IDLE + IDLE / 4).await;
    assert_eq!(expired.await.unwrap(), Expired::Idle);
}

#[tokio::test(start_paused = true)]
async fn http2_streams_that_only_wait_on_the_client_are_stalled() {
    use http_body_util::BodyExt;
    let conn = Conn::new();
    let in_flight = conn.activity.request_started(true, None);
    let data = bytes::Bytes::from(vec![0u8; 40_000]);
    let mut body = Watched::new(http_body_util::Full::new(data), in_flight);
    let expired = conn.watch(IDLE, HEADER);
    let mut piece = async || {
        let frame = body.frame().await.unwrap().unwrap();
        frame.into_data().unwrap().len()
    };
    // hyper takes one 16 KiB piece; the client's window then opens only every 0.9 IDLE.
    assert_eq!(piece().await, 16 * 1024);
    tokio::time::sleep(IDLE * 9 / 10).await;
    assert_eq!(piece().await, 16 * 1024);
    tokio::time::sleep(IDLE * 9 / 10).await;
    assert!(!expired.is_finished(), "stalled although data moved");
    assert_eq!(piece().await, 40_000 - 32 * 1024);
    // The last piece is never taken.
    tokio::time::sleep(IDLE + IDLE / 4).await;
    assert_eq!(expired.await.unwrap(), Expired::Stalled);
}

#[test]
fn head_ends_are_found_across_reads() {
    type Case<'a> = (&'a [&'a [u8]], &'a [Option<usize>]);
    let cases: &[Case<'_>] = &[
        (&[b"GET / HTTP/1.1\r\n\r\n"], &[Some(18)]),
        (&[b"GET / HTTP/1.1\n\nrest"], &[Some(16)]),
        (&[b"GET / HTTP/1.1\r\n", b"\r\nX"], &[None, Some(2)]),
        (
            &[b"GET / HTTP/1.1\r", b"\n", b"\r", b"\n"],
            &[None, None, None, Some(1)],
        ),
        (&[b"A: b\r\nC: d\r\n"], &[None]),
        (&[b"x\r\n\r\ny\r\n\r\n"], &[Some(5)]),
        (&[b"x\r\n\r\ny\r\n", b"\r\n"], &[Some(5), Some(2)]),
    ];
    for (reads, want) in cases {
        let mut scan = HeadScan::default();
        let got: Vec<_> = reads.iter().map(|r| scan.find_end(r)).collect();
        assert_eq!(&got[..], *want, "{reads:?}");
    }
}

/// Pending for `wakes` polls, waking itself each time (a busy connection), then `Ready`.
struct Busy {
    wakes: usize,
}

impl Future for Busy {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        if self.wakes == 0 {
            return Poll::Ready("main");
        }
        self.wakes -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Counts how often it is polled; finishes when its sleep ends.
struct Counted {
    polls: Arc<AtomicU32>,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for Counted {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.sleep.as_mut().poll(cx).map(|()| "side")
    }
}

fn counted(after: Duration) -> (Counted, Arc<AtomicU32>) {
    let polls = Arc::new(AtomicU32::new(0));
    let side = Counted {
        polls: polls.clone(),
        sleep: Box::pin(tokio::time::sleep(after)),
    };
    (side, polls)
}

#[tokio::test(start_paused = true)]
async fn race_polls_the_side_only_when_it_woke() {
    let (side, polls) = counted(Duration::from_secs(60));
    let out = Race::new(Busy { wakes: 1000 }, side).await;
    assert!(matches!(out, Either::Left("main")));
    // Once to register its timer; the thousand wakes of `main` did not reach it.
    assert_eq!(polls.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn race_ends_with_the_side_when_it_fires_first() {
    let (side, polls) = counted(Duration::from_secs(5));
    let out = Race::new(std::future::pending::<&str>(), side).await;
    assert!(matches!(out, Either::Right("side")));
    assert_eq!(polls.load(Ordering::Relaxed), 2);
}
