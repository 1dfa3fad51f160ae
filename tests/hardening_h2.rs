//! HTTP/2 hardening: an RFC 9113 conformance table (h2spec is not packaged for Debian, PyPI or
//! crates.io, so this stands in for it) and the known HTTP/2 attacks — rapid reset, CONTINUATION
//! flood, HPACK bomb, stream and control-frame floods, a client that never reads — replayed
//! with a raw frame client (`common::h2raw`) against the dockside binary over h2c and TLS,
//! with a raw recording backend behind it. docs/security.md has the table these tests prove.

mod common;

use std::time::{Duration, Instant};

use common::h2hard::{HOST, Recorder, Spawned};
use common::h2raw::*;

/// How one table row went.
struct Row {
    rfc: &'static str,
    name: &'static str,
    got: Outcome,
    ok: bool,
}

/// Rows where the h2 crate (0.4) answers a frame it cannot load with GOAWAY PROTOCOL_ERROR where
/// RFC 9113 names another code. The connection still ends at once, so the deviation is only
/// the code; docs/security.md lists them. A row here must get exactly that answer: if h2 ever
/// answers as the RFC says, the row fails and the list shrinks.
const H2_CRATE_DEVIATIONS: &[&str] = &[
    "HPACK: index past both tables",
    "DATA on a half-closed (remote) stream",
    "PRIORITY of length 4",
    "RST_STREAM of length 3",
    "SETTINGS ACK with a payload",
    "SETTINGS of length 3",
    "SETTINGS_INITIAL_WINDOW_SIZE = 2^31",
    "PING of length 7",
    "WINDOW_UPDATE of length 3",
];

/// Prints the table (as h2spec would) and fails naming every row that did not hold.
fn verdict(rows: &[Row]) {
    for r in rows {
        let mark = match (r.ok, H2_CRATE_DEVIATIONS.contains(&r.name)) {
            (true, true) => "dev ",
            (true, false) => "ok  ",
            (false, _) => "FAIL",
        };
        eprintln!("{mark} {:<8} {:<58} {:?}", r.rfc, r.name, r.got);
    }
    let failed: Vec<_> = rows.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    assert!(failed.is_empty(), "RFC 9113 rows that failed: {failed:#?}");
}

/// A stream error: RST_STREAM with `code`, or — RFC 9113 §5.4.1 lets an endpoint treat any
/// stream error as a connection error — GOAWAY with the same code.
fn stream_error(code: u32) -> Vec<Outcome> {
    vec![Outcome::Reset(code), Outcome::GoAway(code)]
}

fn connection_error(code: u32) -> Vec<Outcome> {
    vec![Outcome::GoAway(code)]
}

/// A GET for `HOST` on `stream` with `extra` headers after the pseudo-headers.
fn get(stream: u32, extra: &[(&str, &str)]) -> Frame {
    Frame::headers(stream, &request_block("GET", HOST, "/", extra), true)
}

/// A request whose header block is exactly `fields`, in order.
fn raw_get(stream: u32, fields: &[(&str, &str)]) -> Frame {
    Frame::headers(stream, &hpack::block(fields), true)
}

const M: (&str, &str) = (":method", "GET");
const S: (&str, &str) = (":scheme", "http");
const A: (&str, &str) = (":authority", HOST);
const P: (&str, &str) = (":path", "/");

/// RFC 9113 §8.2 / §8.3: malformed requests are stream errors of type PROTOCOL_ERROR (or a
/// 400), and a malformed request is never forwarded: the backend records no request at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_never_reach_the_backend() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let refused = {
        let mut v = stream_error(PROTOCOL_ERROR);
        v.push(Outcome::Status(400));
        v
    };
    let cases: Vec<(&str, &str, Vec<Frame>)> = vec![
        (
            "8.2",
            "uppercase header name",
            vec![get(1, &[("X-Upper", "1")])],
        ),
        (
            "8.2.2",
            "connection: keep-alive",
            vec![get(1, &[("connection", "keep-alive")])],
        ),
        (
            "8.2.2",
            "keep-alive: timeout=5",
            vec![get(1, &[("keep-alive", "timeout=5")])],
        ),
        (
            "8.2.2",
            "proxy-connection: keep-alive",
            vec![get(1, &[("proxy-connection", "keep-alive")])],
        ),
        (
            "8.2.2",
            "transfer-encoding: chunked",
            vec![get(1, &[("transfer-encoding", "chunked")])],
        ),
        (
            "8.2.2",
            "upgrade: websocket",
            vec![get(1, &[("upgrade", "websocket")])],
        ),
        ("8.2.2", "te: gzip", vec![get(1, &[("te", "gzip")])]),
        (
            "8.3",
            "pseudo-header after a regular header",
            vec![raw_get(1, &[M, S, ("x-a", "1"), A, P])],
        ),
        (
            "8.3.1",
            "duplicate :method",
            vec![raw_get(1, &[M, M, S, A, P])],
        ),
        (
            "8.3.1",
            "duplicate :path",
            vec![raw_get(1, &[M, S, A, P, P])],
        ),
        (
            "8.3.1",
            "duplicate :scheme",
            vec![raw_get(1, &[M, S, S, A, P])],
        ),
        ("8.3.1", "missing :method", vec![raw_get(1, &[S, A, P])]),
        ("8.3.1", "missing :path", vec![raw_get(1, &[M, S, A])]),
        ("8.3.1", "missing :scheme", vec![raw_get(1, &[M, A, P])]),
        (
            "8.3",
            "unknown pseudo-header :foo",
            vec![raw_get(1, &[M, S, A, P, (":foo", "x")])],
        ),
        (
            "8.3.1",
            ":path empty",
            vec![raw_get(1, &[M, S, A, (":path", "")])],
        ),
        (
            "8.3.2",
            ":status in a request",
            vec![raw_get(1, &[M, S, A, P, (":status", "200")])],
        ),
        (
            "8.1.1",
            "content-length 10, DATA of 5",
            body_mismatch(10, 5),
        ),
        ("8.1.1", "content-length 3, DATA of 5", body_mismatch(3, 5)),
    ];
    let mut rows = Vec::new();
    for (rfc, name, frames) in cases {
        let mut c = H2Conn::connect(d.addr).await;
        c.send_all(&frames).await;
        let got = c.outcome(1).await;
        let ok = refused.contains(&got);
        rows.push(Row { rfc, name, got, ok });
    }
    // Positive controls: the same client, well-formed (te: trailers is the one allowed `te`).
    for (name, frames) in [
        ("well-formed GET", vec![get(1, &[])]),
        ("te: trailers", vec![get(1, &[("te", "trailers")])]),
        ("content-length 5, DATA of 5", body_mismatch(5, 5)),
    ] {
        let mut c = H2Conn::connect(d.addr).await;
        c.send_all(&frames).await;
        let got = c.outcome(1).await;
        let ok = got == Outcome::Status(200);
        rows.push(Row {
            rfc: "8",
            name,
            got,
            ok,
        });
    }
    verdict(&rows);
    let seen = backend.seen();
    assert_eq!(
        seen.len(),
        3,
        "only the 3 well-formed requests reach the backend: {seen:#?}"
    );
    assert!(seen.iter().all(|r| r.complete), "{seen:#?}");
}

/// A POST declaring `declared` bytes that sends `sent`.
fn body_mismatch(declared: usize, sent: usize) -> Vec<Frame> {
    let len = declared.to_string();
    let block = request_block("POST", HOST, "/", &[("content-length", &len)]);
    vec![
        Frame::headers(1, &block, false),
        Frame::data(1, &vec![b'x'; sent], true),
    ]
}

/// RFC 9113 §8.3.1: a `host` that disagrees with `:authority`. Routing, the `Host` the backend
/// receives and `$host` must all be the `:authority`, never a mix of the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authority_wins_over_a_disagreeing_host_everywhere() {
    let a = Recorder::start().await;
    let b = Recorder::start().await;
    let d = Spawned::start(&[(HOST, a.addr), ("other.test", b.addr)], &[], None);
    let mut c = H2Conn::connect(d.addr).await;
    c.send(&get(1, &[("host", "other.test")])).await;
    let got = c.outcome(1).await;
    assert_eq!(got, Outcome::Status(200));
    assert_eq!(
        b.heads(),
        0,
        "routed by host, not :authority: {:#?}",
        b.seen()
    );
    let seen = a.seen();
    assert_eq!(seen.len(), 1);
    let host = seen[0].header("host").unwrap_or_default();
    assert!(
        host.starts_with(&format!("{HOST}:")),
        "the backend got Host {host:?}, not the :authority the request was routed by"
    );
}

/// A frame of `kind` with a payload of `len` zero bytes.
fn sized(kind: u8, flags: u8, stream: u32, len: usize) -> Frame {
    Frame::new(kind, flags, stream, vec![0; len])
}

/// A HEADERS frame opening `stream` with a request body to come.
fn open(stream: u32) -> Frame {
    Frame::headers(stream, &request_block("POST", HOST, "/", &[]), false)
}

/// RFC section, name, frames sent, the stream whose fate is read, acceptable outcomes.
type FrameRow = (&'static str, &'static str, Vec<Frame>, u32, Vec<Outcome>);

/// RFC 9113 §3–§6, frame by frame, as h2spec's `http2` group does: each row on a fresh
/// connection, with the error code and level the RFC requires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_get_the_error_codes_rfc_9113_requires() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let ok = vec![Outcome::Status(200)];
    let max = (1u32 << 31) - 1;
    let cases: Vec<FrameRow> = vec![
        (
            "4.2",
            "DATA larger than SETTINGS_MAX_FRAME_SIZE",
            vec![open(1), sized(DATA, 0, 1, 16385)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "4.2",
            "HEADERS larger than SETTINGS_MAX_FRAME_SIZE",
            vec![Frame::headers(
                1,
                &request_block("GET", HOST, "/", &[("x-big", &"a".repeat(16400))]),
                true,
            )],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "4.3",
            "HPACK: index past both tables",
            vec![Frame::headers(1, &hpack::indexed(70), true)],
            1,
            connection_error(COMPRESSION_ERROR),
        ),
        (
            "5.1",
            "DATA on an idle stream",
            vec![Frame::data(1, b"x", true)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "5.1",
            "DATA on a half-closed (remote) stream",
            vec![get(1, &[]), Frame::data(1, b"x", true)],
            1,
            stream_error(STREAM_CLOSED),
        ),
        (
            "5.1",
            "RST_STREAM on an idle stream",
            vec![Frame::rst(1, CANCEL)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "5.1",
            "WINDOW_UPDATE on an idle stream",
            vec![Frame::window_update(1, 1)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "5.1.1",
            "HEADERS on an even stream id",
            vec![get(2, &[])],
            2,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "5.1.1",
            "stream id lower than a previous one",
            vec![get(5, &[]), get(3, &[])],
            3,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "5.5",
            "unknown frame type is ignored",
            vec![sized(0xfa, 0, 0, 8), get(1, &[])],
            1,
            ok.clone(),
        ),
        (
            "5.5",
            "unknown setting is ignored",
            vec![Frame::settings(&[(0xff, 1)]), get(1, &[])],
            1,
            ok.clone(),
        ),
        (
            "6.1",
            "DATA on stream 0",
            vec![Frame::data(0, b"x", false)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.1",
            "DATA padding longer than the payload",
            vec![open(1), Frame::new(DATA, PADDED, 1, [5, b'x'])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.2",
            "HEADERS on stream 0",
            vec![get(0, &[])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.2",
            "HEADERS padding longer than the payload",
            vec![Frame::new(
                HEADERS,
                PADDED | END_HEADERS | END_STREAM,
                1,
                [200, 0x82],
            )],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.3",
            "PRIORITY depending on itself",
            vec![Frame::priority(1, 1, 16)],
            1,
            stream_error(PROTOCOL_ERROR),
        ),
        (
            "6.3",
            "PRIORITY of length 4",
            vec![sized(PRIORITY, 0, 1, 4)],
            1,
            stream_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.3",
            "PRIORITY on stream 0",
            vec![Frame::priority(0, 1, 16)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.4",
            "RST_STREAM on stream 0",
            vec![Frame::rst(0, CANCEL)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.4",
            "RST_STREAM of length 3",
            vec![open(1), sized(RST_STREAM, 0, 1, 3)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.5",
            "SETTINGS ACK with a payload",
            vec![sized(SETTINGS, ACK, 0, 6)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.5",
            "SETTINGS on stream 1",
            vec![Frame::new(SETTINGS, 0, 1, [])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.5",
            "SETTINGS of length 3",
            vec![sized(SETTINGS, 0, 0, 3)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.5.2",
            "SETTINGS_ENABLE_PUSH = 2",
            vec![Frame::settings(&[(SETTINGS_ENABLE_PUSH, 2)])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.5.2",
            "SETTINGS_INITIAL_WINDOW_SIZE = 2^31",
            vec![Frame::settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 31)])],
            1,
            connection_error(FLOW_CONTROL_ERROR),
        ),
        (
            "6.5.2",
            "SETTINGS_MAX_FRAME_SIZE = 16383",
            vec![Frame::settings(&[(SETTINGS_MAX_FRAME_SIZE, 16383)])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.5.2",
            "SETTINGS_MAX_FRAME_SIZE = 2^24",
            vec![Frame::settings(&[(SETTINGS_MAX_FRAME_SIZE, 1 << 24)])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.6",
            "PUSH_PROMISE from a client",
            vec![
                open(1),
                Frame::new(PUSH_PROMISE, END_HEADERS, 1, [0, 0, 0, 2, 0x82]),
            ],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.7",
            "PING on stream 1",
            vec![Frame::new(PING, 0, 1, [0; 8])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.7",
            "PING of length 7",
            vec![sized(PING, 0, 0, 7)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.8",
            "GOAWAY on stream 1",
            vec![Frame::new(GOAWAY, 0, 1, [0; 8])],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.9",
            "WINDOW_UPDATE of 0 on the connection",
            vec![Frame::window_update(0, 0)],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.9",
            "WINDOW_UPDATE of 0 on a stream",
            vec![open(1), Frame::window_update(1, 0)],
            1,
            stream_error(PROTOCOL_ERROR),
        ),
        (
            "6.9",
            "WINDOW_UPDATE of length 3",
            vec![sized(WINDOW_UPDATE, 0, 0, 3)],
            1,
            connection_error(FRAME_SIZE_ERROR),
        ),
        (
            "6.9.1",
            "connection window past 2^31-1",
            vec![Frame::window_update(0, max), Frame::window_update(0, max)],
            1,
            connection_error(FLOW_CONTROL_ERROR),
        ),
        (
            "6.9.1",
            "stream window past 2^31-1",
            vec![
                open(1),
                Frame::window_update(1, max),
                Frame::window_update(1, max),
            ],
            1,
            stream_error(FLOW_CONTROL_ERROR),
        ),
        (
            "6.9.2",
            "SETTINGS_INITIAL_WINDOW_SIZE overflowing an open stream",
            vec![
                open(1),
                Frame::window_update(1, max - 65535),
                Frame::settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, max)]),
            ],
            1,
            connection_error(FLOW_CONTROL_ERROR),
        ),
        (
            "6.10",
            "CONTINUATION without HEADERS",
            vec![Frame::new(CONTINUATION, END_HEADERS, 1, hpack::block(&[M]))],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.10",
            "another frame inside a header block",
            vec![
                Frame::new(HEADERS, END_STREAM, 1, hpack::block(&[M, S])),
                Frame::ping([0; 8]),
            ],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.10",
            "CONTINUATION on another stream",
            vec![
                Frame::new(HEADERS, END_STREAM, 1, hpack::block(&[M, S])),
                Frame::new(CONTINUATION, END_HEADERS, 3, hpack::block(&[A, P])),
            ],
            1,
            connection_error(PROTOCOL_ERROR),
        ),
        (
            "6.10",
            "HEADERS split over CONTINUATION is served",
            vec![
                Frame::new(HEADERS, END_STREAM, 1, hpack::block(&[M, S])),
                Frame::new(CONTINUATION, END_HEADERS, 1, hpack::block(&[A, P])),
            ],
            1,
            ok.clone(),
        ),
    ];
    let mut rows = Vec::new();
    for (rfc, name, frames, stream, expect) in cases {
        let mut c = H2Conn::connect(d.addr).await;
        c.send_all(&frames).await;
        let got = c.outcome(stream).await;
        let ok = match H2_CRATE_DEVIATIONS.contains(&name) {
            true => got == Outcome::GoAway(PROTOCOL_ERROR),
            false => expect.contains(&got),
        };
        rows.push(Row { rfc, name, got, ok });
    }
    rows.push(preface_rows(&d).await);
    rows.push(ping_row(&d).await);
    verdict(&rows);
}

/// §3.4: the server's preface is a SETTINGS frame; a wrong client preface ends the connection
/// without a response.
async fn preface_rows(d: &Spawned) -> Row {
    let mut c = H2Conn::connect(d.addr).await;
    let first = c.next().await.expect("a frame");
    let mut bad = H2Conn::connect_bare(d.addr).await;
    bad.send_raw(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n").await;
    let (frames, closed) = bad.drain(Duration::from_secs(5)).await;
    let ok = first.kind == SETTINGS
        && first.flags & ACK == 0
        && closed
        && frames.iter().all(|f| f.kind != HEADERS);
    Row {
        rfc: "3.4",
        name: "server preface is SETTINGS; a bad client preface is closed",
        got: Outcome::Closed,
        ok,
    }
}

/// §6.7: a PING is answered with an ACK carrying the same 8 bytes.
async fn ping_row(d: &Spawned) -> Row {
    let mut c = H2Conn::connect(d.addr).await;
    c.send(&Frame::ping(*b"dockside")).await;
    let deadline = Instant::now() + common::WAIT;
    let mut ok = false;
    while Instant::now() < deadline {
        let Some(f) = c.next().await else { break };
        if f.kind == PING && f.flags & ACK != 0 {
            ok = f.payload == b"dockside";
            break;
        }
    }
    Row {
        rfc: "6.7",
        name: "PING is acknowledged with its payload",
        got: Outcome::Closed,
        ok,
    }
}

/// The same server builder serves TLS (ALPN h2) as h2c: a malformed request, the stream limit
/// and rapid reset get the same answers over TLS, and curl is served over TLS + h2 after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_h2_has_the_same_answers_and_bounds() {
    let backend = Recorder::start().await;
    let pki = common::tls::Pki::new();
    pki.install(HOST, HOST, &[HOST]);
    let d = Spawned::start(&[(HOST, backend.addr)], &[], Some(&pki.certs()));
    let https = d.https.expect("HTTPS listener");
    let mut c = H2Conn::connect_tls(https, HOST).await;
    c.send(&get(1, &[("connection", "keep-alive")])).await;
    assert_eq!(c.outcome(1).await, Outcome::Reset(PROTOCOL_ERROR));
    c.send(&get(3, &[])).await;
    assert_eq!(c.outcome(3).await, Outcome::Status(200));
    assert_eq!(c.setting(SETTINGS_MAX_CONCURRENT_STREAMS), Some(200));
    let frames: Vec<Frame> = (0..2000u32)
        .flat_map(|i| {
            let sid = 5 + 2 * i;
            let block = request_block("GET", HOST, "/attack", &[]);
            [Frame::headers(sid, &block, true), Frame::rst(sid, CANCEL)]
        })
        .collect();
    c.send_all(&frames).await;
    let (seen, closed) = c.drain(Duration::from_secs(5)).await;
    assert_eq!(
        goaway_code(&seen),
        Some(ENHANCE_YOUR_CALM),
        "rapid reset over TLS"
    );
    assert!(closed);
    let out = common::curl(&[
        "--http2",
        "--cacert",
        pki.ca_pem().to_str().unwrap(),
        "--resolve",
        &format!("{HOST}:{}:127.0.0.1", https.port()),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{http_version}",
        &format!("https://{HOST}:{}/", https.port()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 2", "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Attacks. Each one runs against its own dockside process, whose resident memory is read from
// /proc before and after; a legitimate client (curl over h2c) is served during and after.

/// curl, every 50 ms on its own thread until `stop`: every status it got.
struct Bystander {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u16>>,
}

impl Bystander {
    fn start(d: &Spawned) -> Bystander {
        let addr = d.addr;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) || got.is_empty() {
                got.push(common::h2hard::curl_h2c(addr, "/"));
                std::thread::sleep(Duration::from_millis(50));
            }
            got
        });
        Bystander { stop, thread }
    }

    /// Every request the bystander made was answered 200.
    fn all_served(self) -> Vec<u16> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let got = self.thread.join().unwrap();
        assert!(got.iter().all(|&s| s == 200), "bystander got {got:?}");
        got
    }
}

/// How far the peak resident memory of `d` rose above `before` (its RSS then), in KiB.
fn grown(d: &Spawned, before: u64) -> u64 {
    d.peak_kib().saturating_sub(before)
}

/// The GOAWAY among `frames`, if any: its error code.
fn goaway_code(frames: &[Frame]) -> Option<u32> {
    frames
        .iter()
        .find(|f| f.kind == GOAWAY)
        .and_then(Frame::error_code)
}

/// CVE-2023-44487 (rapid reset): streams opened and reset at once never count against
/// SETTINGS_MAX_CONCURRENT_STREAMS, so a client can make the server start unbounded work.
/// dockside must end the connection (GOAWAY) and the backend must see a bounded number of the
/// requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_and_backend_work_is_bounded() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let before = d.rss_kib();
    let bystander = Bystander::start(&d);
    let mut c = H2Conn::connect(d.addr).await;
    const PAIRS: u32 = 10_000;
    let started = Instant::now();
    for batch in 0..PAIRS / 100 {
        let frames: Vec<Frame> = (0..100)
            .flat_map(|i| {
                let sid = 1 + 2 * (batch * 100 + i);
                let block = request_block("GET", HOST, "/attack", &[]);
                [Frame::headers(sid, &block, true), Frame::rst(sid, CANCEL)]
            })
            .collect();
        c.send_all(&frames).await;
    }
    let (frames, closed) = c.drain(Duration::from_secs(5)).await;
    let code = goaway_code(&frames);
    let heads = backend.count("/attack");
    let growth = grown(&d, before);
    eprintln!(
        "rapid reset: {PAIRS} pairs in {:?}; GOAWAY {code:?}, closed {closed}; backend saw {heads}; RSS +{growth} KiB",
        started.elapsed()
    );
    let served = bystander.all_served();
    assert_eq!(code, Some(ENHANCE_YOUR_CALM), "{frames:?}");
    assert!(closed, "the connection was not closed after GOAWAY");
    assert!(
        heads <= 200,
        "the backend saw {heads} of {PAIRS} reset requests"
    );
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
    assert_eq!(d.curl_status(), 200);
    eprintln!("bystander: {} requests, all 200", served.len());
}

/// CVE-2025-8671 ("MadeYouReset"): malformed requests that make the server reset the stream
/// itself also escape SETTINGS_MAX_CONCURRENT_STREAMS. After 1024 such resets on a connection
/// (`max_local_error_reset_streams`) dockside sends GOAWAY ENHANCE_YOUR_CALM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_reset_for_protocol_errors_are_bounded() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let mut c = H2Conn::connect(d.addr).await;
    let block = request_block("GET", HOST, "/attack", &[("connection", "close")]);
    let frames: Vec<Frame> = (0..2000u32)
        .map(|i| Frame::headers(1 + 2 * i, &block, true))
        .collect();
    c.send_all(&frames).await;
    let (seen, closed) = c.drain(Duration::from_secs(5)).await;
    let resets = seen.iter().filter(|f| f.kind == RST_STREAM).count();
    eprintln!(
        "protocol-error resets: {resets} RST_STREAM, GOAWAY {:?}",
        goaway_code(&seen)
    );
    assert_eq!(
        goaway_code(&seen),
        Some(ENHANCE_YOUR_CALM),
        "after {resets} resets"
    );
    assert!(closed);
    assert_eq!(backend.count("/attack"), 0);
    assert_eq!(d.curl_status(), 200);
}

/// Writes `frames` until the server answers or closes, or `budget` bytes are written; returns
/// the bytes written and the frames the server sent.
async fn flood(c: &mut H2Conn, frames: &[Frame], budget: usize) -> (usize, Vec<Frame>, bool) {
    let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
    let mut written = 0;
    let mut seen = Vec::new();
    while written < budget {
        c.send_raw(&bytes).await;
        written += bytes.len();
        // Whatever the server has said so far, without waiting.
        while let Some(next) = c.next_within(Duration::from_millis(1)).await {
            match next {
                Some(f) => seen.push(f),
                None => return (written, seen, true),
            }
        }
        if seen
            .iter()
            .any(|f| f.kind == GOAWAY || f.kind == RST_STREAM || f.kind == HEADERS)
        {
            break;
        }
    }
    let (rest, closed) = c.drain(Duration::from_secs(5)).await;
    seen.extend(rest);
    (written, seen, closed)
}

/// CVE-2024-27316 (CONTINUATION flood): a header block that never ends. It must be cut off at
/// the header list size limit (SETTINGS_MAX_HEADER_LIST_SIZE, 64 KiB), with memory bounded,
/// and never reach the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuation_flood_is_cut_off_at_the_header_limit() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let before = d.rss_kib();
    let bystander = Bystander::start(&d);
    let mut c = H2Conn::connect(d.addr).await;
    let head = request_block("GET", HOST, "/attack", &[]);
    c.send(&Frame::new(HEADERS, END_STREAM, 1, head)).await;
    let fill = hpack::block(&[("x-fill", &"a".repeat(16_000))]);
    let frames = vec![Frame::new(CONTINUATION, 0, 1, fill); 16];
    const BUDGET: usize = 64 << 20;
    let (written, seen, closed) = flood(&mut c, &frames, BUDGET).await;
    let growth = grown(&d, before);
    eprintln!(
        "CONTINUATION flood: {written} bytes written; server: {:?}; closed {closed}; RSS +{growth} KiB",
        seen.iter()
            .map(|f| (f.kind, f.stream, f.error_code()))
            .collect::<Vec<_>>()
    );
    bystander.all_served();
    assert!(
        written < BUDGET,
        "dockside read {written} bytes of one header block"
    );
    assert!(closed, "the connection stayed open");
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
    assert_eq!(backend.count("/attack"), 0, "{:#?}", backend.seen());
    assert_eq!(d.curl_status(), 200);
}

/// HPACK bomb: one 4 KB header enters the dynamic table, then each one-byte reference to it
/// decodes to 4 KB again. The decoded size must hit the header list size limit (431 or a
/// reset), with memory bounded, and nothing reach the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpack_bomb_hits_the_header_list_limit() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let before = d.rss_kib();
    let mut c = H2Conn::connect(d.addr).await;
    let mut first = request_block("GET", HOST, "/", &[]);
    first.extend(hpack::literal_indexed("x-bomb", &[b'a'; 4000]));
    c.send(&Frame::headers(1, &first, true)).await;
    assert_eq!(c.outcome(1).await, Outcome::Status(200), "the seed request");
    // 16,000 references: 64 MB decoded from one 16 KB frame, on 20 streams.
    let mut outcomes = Vec::new();
    for i in 0..20u32 {
        let sid = 3 + 2 * i;
        let mut block = request_block("GET", HOST, "/", &[]);
        let room = 16_384 - block.len();
        block.extend(std::iter::repeat_n(hpack::indexed(62)[0], room));
        c.send(&Frame::headers(sid, &block, true)).await;
        let got = c.outcome(sid).await;
        let end = matches!(got, Outcome::GoAway(_) | Outcome::Closed);
        outcomes.push(got);
        if end {
            break;
        }
    }
    let growth = grown(&d, before);
    eprintln!("HPACK bomb: {outcomes:?}; RSS +{growth} KiB");
    let refused = [
        Outcome::Status(431),
        Outcome::Reset(PROTOCOL_ERROR),
        Outcome::Reset(REFUSED_STREAM),
        Outcome::GoAway(ENHANCE_YOUR_CALM),
        Outcome::GoAway(COMPRESSION_ERROR),
        Outcome::GoAway(PROTOCOL_ERROR),
    ];
    assert!(outcomes.iter().all(|o| refused.contains(o)), "{outcomes:?}");
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
    assert_eq!(
        backend.heads(),
        1,
        "only the seed request: {:#?}",
        backend.seen()
    );
    assert_eq!(d.curl_status(), 200);
}

/// RFC 9113 §5.1.2: dockside advertises SETTINGS_MAX_CONCURRENT_STREAMS and refuses a stream
/// beyond it with REFUSED_STREAM (retryable), so the backend sees at most that many requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_max_concurrent_streams_are_refused() {
    let backend = Recorder::start().await;
    let d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let mut c = H2Conn::connect(d.addr).await;
    // Read the server's SETTINGS first: the limit applies once they are acknowledged.
    while c.setting(SETTINGS_MAX_CONCURRENT_STREAMS).is_none() {
        c.next().await.expect("server SETTINGS");
    }
    let limit = c.setting(SETTINGS_MAX_CONCURRENT_STREAMS).unwrap();
    assert!(
        (1..=256).contains(&limit),
        "SETTINGS_MAX_CONCURRENT_STREAMS {limit}"
    );
    // `limit` requests whose bodies never come keep their streams open; one more is refused.
    let frames: Vec<Frame> = (0..=limit).map(|i| open(1 + 2 * i)).collect();
    c.send_all(&frames).await;
    let extra = 1 + 2 * limit;
    let got = c.outcome(extra).await;
    eprintln!("stream {extra} beyond {limit}: {got:?}");
    assert!(
        [
            Outcome::Reset(REFUSED_STREAM),
            Outcome::Reset(PROTOCOL_ERROR)
        ]
        .contains(&got),
        "{got:?}"
    );
    let deadline = Instant::now() + common::WAIT;
    while backend.heads() < limit as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        backend.heads(),
        limit as usize,
        "the backend saw the open streams only"
    );
    assert_eq!(d.curl_status(), 200);
}

/// Control-frame floods (CVE-2019-9512 ping flood, CVE-2019-9515 settings flood, and the
/// WINDOW_UPDATE / PRIORITY variants): each frame is cheap to send and PING and SETTINGS ask
/// for an answer. A client that never reads the answers must not make dockside queue them
/// without bound: either dockside stops reading (the writes stall) or its memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_settings_floods_are_bounded() {
    let backend = Recorder::start().await;
    let mut d = Spawned::start(&[(HOST, backend.addr)], &[], None);
    let bystander = Bystander::start(&d);
    let floods = [
        ("PING", Frame::ping(*b"flooding")),
        (
            "SETTINGS",
            Frame::settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 65_535)]),
        ),
        ("WINDOW_UPDATE", Frame::window_update(0, 1)),
        ("PRIORITY", Frame::priority(3, 0, 16)),
    ];
    for (name, frame) in floods {
        let before = d.rss_kib();
        let mut c = H2Conn::connect(d.addr).await;
        // Up to 32 MiB of frames, written without reading a byte; a write that makes no
        // progress for a second means dockside stopped reading.
        let batch: Vec<u8> = std::iter::repeat_n(frame.encode(), 16_384)
            .flatten()
            .collect();
        let (mut written, mut stalled) = (0, false);
        let started = Instant::now();
        while written < 32 << 20 {
            let sent = tokio::time::timeout(Duration::from_secs(1), c.send_raw(&batch)).await;
            if sent.is_err() {
                stalled = true;
                break;
            }
            written += batch.len();
        }
        let growth = grown(&d, before);
        eprintln!(
            "{name} flood: {written} bytes in {:?}, stalled {stalled}; peak RSS +{growth} KiB",
            started.elapsed()
        );
        assert!(growth < 16 * 1024, "{name} flood: RSS grew by {growth} KiB");
        assert!(d.alive());
        drop(c);
    }
    bystander.all_served();
    assert_eq!(d.curl_status(), 200);
}

/// A client that asks for large responses and never opens its flow-control window (it does
/// read, and answers PINGs, so keep-alive sees a live peer): dockside's buffers for it must be
/// bounded, and the connection must end after DOCKSIDE_IDLE_TIMEOUT (here 2 s; the watchdog
/// looks every eighth of it) instead of holding its streams — and the backend connections
/// behind them — for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_opens_its_window_is_bounded_and_closed() {
    let backend = Recorder::start().await;
    let d = Spawned::start(
        &[(HOST, backend.addr)],
        &[("DOCKSIDE_IDLE_TIMEOUT", "2")],
        None,
    );
    let before = d.rss_kib();
    let mut c = H2Conn::connect(d.addr).await;
    const STREAMS: u32 = 100;
    let frames: Vec<Frame> = (0..STREAMS)
        .map(|i| {
            let block = request_block("GET", HOST, "/big/4194304", &[]);
            Frame::headers(1 + 2 * i, &block, true)
        })
        .collect();
    c.send_all(&frames).await;
    let started = Instant::now();
    // Reads (and acknowledges PINGs) but never sends WINDOW_UPDATE.
    let (seen, closed) = c.drain(Duration::from_secs(20)).await;
    let took = started.elapsed();
    let data: usize = seen
        .iter()
        .filter(|f| f.kind == DATA)
        .map(|f| f.payload.len())
        .sum();
    let growth = grown(&d, before);
    eprintln!(
        "window never opened: {STREAMS} streams, {data} DATA bytes; closed {closed} after {took:?}; peak RSS +{growth} KiB; backend saw {}",
        backend.count("/big/")
    );
    assert!(
        data <= 65_535,
        "sent {data} bytes past the flow-control window"
    );
    assert!(closed, "the connection was still open after {took:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "closed after {took:?}, not DOCKSIDE_IDLE_TIMEOUT (2 s)"
    );
    assert!(growth < 32 * 1024, "RSS grew by {growth} KiB");
    assert_eq!(d.curl_status(), 200);
}

/// The other side of the stall rule: a client that reads slowly but steadily — a little
/// window every 250 ms, for three times DOCKSIDE_IDLE_TIMEOUT — is served to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_reader_is_not_cut_off() {
    let backend = Recorder::start().await;
    let d = Spawned::start(
        &[(HOST, backend.addr)],
        &[("DOCKSIDE_IDLE_TIMEOUT", "2")],
        None,
    );
    let mut c = H2Conn::connect(d.addr).await;
    const SIZE: usize = 65_535 + 24 * 8192;
    let block = request_block("GET", HOST, &format!("/big/{SIZE}"), &[]);
    c.send(&Frame::headers(1, &block, true)).await;
    let (mut got, mut ended) = (0, false);
    let started = Instant::now();
    while !ended {
        let Some(next) = c.next_within(Duration::from_millis(250)).await else {
            // Nothing more until the window opens: 8 KiB more, on the stream and connection.
            c.send_all(&[Frame::window_update(0, 8192), Frame::window_update(1, 8192)])
                .await;
            continue;
        };
        let f = next.unwrap_or_else(|| panic!("closed after {got} bytes, {:?}", started.elapsed()));
        assert!(
            f.kind != GOAWAY && f.kind != RST_STREAM,
            "{f:?} after {got} bytes"
        );
        if f.kind == DATA && f.stream == 1 {
            got += f.payload.len();
            ended = f.flags & END_STREAM != 0;
        }
    }
    assert_eq!(got, SIZE);
    assert!(
        started.elapsed() > Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
// ---------------------------------------------------------------------------------------------
// The raw client's own codecs, so a row above cannot pass through a bug of the client.

#[test]
fn every_prefix_of_a_frame_is_incomplete() {
    let f = Frame::headers(3, &hpack::block(&[("a", "b")]), true);
    let wire = f.encode();
    for n in 0..wire.len() {
        assert_eq!(Frame::decode(&wire[..n]), None, "prefix {n}");
    }
    assert_eq!(Frame::decode(&wire), Some((f, wire.len())));
}

/// RFC 7541 C.4.1 (Huffman), C.3.1/C.3.2 (dynamic table), and an integer past its prefix.
#[test]
fn hpack_decodes_the_rfc_examples() {
    let raw = [
        0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
    ];
    assert_eq!(hpack::huffman_decode(&raw).unwrap(), b"www.example.com");
    let mut d = hpack::Decoder::default();
    let mut first = vec![0x82, 0x86, 0x84, 0x41, 0x0f];
    first.extend_from_slice(b"www.example.com");
    let fields = d.decode(&first).unwrap();
    assert_eq!(fields[0], (":method".into(), "GET".into()));
    assert_eq!(fields[3], (":authority".into(), "www.example.com".into()));
    let mut second = vec![0x82, 0x86, 0x84, 0xbe, 0x58, 0x08];
    second.extend_from_slice(b"no-cache");
    let fields = d.decode(&second).unwrap();
    assert_eq!(fields[3], (":authority".into(), "www.example.com".into()));
    assert_eq!(fields[4], ("cache-control".into(), "no-cache".into()));
    // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
    let mut out = Vec::new();
    hpack::integer(&mut out, 5, 0, 1337);
    assert_eq!(out, [31, 154, 10]);
    let block = hpack::block(&[("x-a", &"v".repeat(300))]);
    assert_eq!(d.decode(&block).unwrap(), [("x-a".into(), "v".repeat(300))]);
}
