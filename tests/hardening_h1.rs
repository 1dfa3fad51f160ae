//! Request smuggling and parsing attacks on HTTP/1.1, one table row each, sent through the whole
//! proxy on a raw TCP socket with a recording backend behind it (`common::recorder`: exactly the
//! bytes it received). Each row says what the client must get (the status; whether the
//! connection is closed, RFC 9112 §6.3, §9.6, §11.2) and what the backend may have seen: no
//! request, or one request framed again without ambiguity. Every backend message is also read
//! strictly (CRLF only; one `Content-Length` or `Transfer-Encoding: chunked` alone; no chunk
//! extension or trailer passed on; `Host` is the routed host).
//!
//! Covered elsewhere, not repeated: a second `Host`, `Host` with userinfo, `Host` with a trailing
//! dot or a bad port (`security_probes::host_must_be_one_valid_value`); chunk sizes that
//! overflow, are negative or hex-prefixed (`security_probes::a_malformed_chunked_body_is_the_clients_fault`).

mod common;

use std::net::SocketAddr;

use common::recorder::{Message, Recorder, messages};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the client's connection does after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Closed by dockside, with no second answer (a pipelined request is not served).
    Closed,
    /// Kept: a follow-up `GET /next` on it is answered 200 and reaches the backend as its own
    /// request (the connection is still in step with the client).
    Open,
    /// Either: a refused request whose body dockside never read is drained if it has all
    /// arrived, else the connection is closed (hyper's `poll_drain_or_close_read`). The body
    /// must not be read as a request in either case.
    Either,
}

/// How the forwarded request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length,
    Chunked,
}

/// Which backend a request was routed to: `a.test` or `b.test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    A,
    B,
}

/// What the backends saw.
#[derive(Debug, Clone, Copy)]
enum Saw {
    /// Not one byte.
    Nothing,
    /// No whole request: nothing, or one cut off before its end (then the connection closed).
    /// A body found malformed after its first bytes went out cannot be taken back; the backend
    /// sees an incomplete message (RFC 9112 §8), never a complete or a second one.
    Cut,
    /// Exactly one request, at `site`.
    One {
        site: Site,
        target: &'static str,
        body: &'static [u8],
        framing: Framing,
    },
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    after: After,
    saw: Saw,
}

fn case(name: &'static str, request: &[u8], status: u16, after: After, saw: Saw) -> Case {
    Case {
        name,
        request: request.to_vec(),
        status,
        after,
        saw,
    }
}

fn one(target: &'static str, body: &'static [u8], framing: Framing) -> Saw {
    Saw::One {
        site: Site::A,
        target,
        body,
        framing,
    }
}

use After::{Closed, Either, Open};
use Framing::{Chunked, Empty, Length};
use Saw::Nothing;

/// Transfer-Encoding and Content-Length (RFC 9112 §6.1, §6.3).
fn framing_cases() -> Vec<Case> {
    vec![
        // §6.1: TE wins (CL removed) or reject; either way close after. hyper keeps TE.
        case(
            "CL then TE",
            b"POST /cl-te HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            200,
            Closed,
            one("/cl-te", b"hello", Chunked),
        ),
        case(
            "TE then CL",
            b"POST /te-cl HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            200,
            Closed,
            one("/te-cl", b"hello", Chunked),
        ),
        // CL.TE with a request hidden after the chunked body, then a pipelined one: neither
        // is served, as the connection closes after the first answer.
        case(
            "CL and TE hiding a request, then a pipelined request",
            b"POST /hide HTTP/1.1\r\nHost: a.test\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\nGET /pipelined HTTP/1.1\r\nHost: a.test\r\n\r\n",
            200,
            Closed,
            one("/hide", b"", Chunked),
        ),
        case(
            "TE: chunked, identity",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "TE: identity with CL",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "TE with obs-fold",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "TE: gzip (chunked not last)",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        // §6.1: a coding the server does not apply is 501; forwarding the chunked-decoded body
        // without its label would hand the backend gzip bytes as plain ones.
        case(
            "TE: gzip, chunked",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            501,
            Closed,
            Nothing,
        ),
        case(
            "TE: gzip and TE: chunked on two lines",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            501,
            Closed,
            Nothing,
        ),
        // §6.1: chunked MUST NOT be applied twice; the body is one chunked layer short.
        case(
            "TE: chunked, chunked",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "TE: chunked on two lines",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "TE: CHUNKED (case is not significant)",
            b"POST /upper HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            200,
            Open,
            one("/upper", b"hello", Chunked),
        ),
        case(
            "HTTP/1.0 with TE: chunked",
            b"POST /x HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "two Content-Length lines that differ",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            400,
            Closed,
            Nothing,
        ),
        case(
            "Content-Length: 5, 6",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 6\r\n\r\nhello!",
            400,
            Closed,
            Nothing,
        ),
        // RFC 9110 §8.6 allows reading this as 5; refusing it is allowed too (hyper does).
        case(
            "Content-Length: 5, 5",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "two equal Content-Length lines",
            b"POST /same HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            200,
            Open,
            one("/same", b"hello", Length),
        ),
        case(
            "Content-Length: -5",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: -5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "Content-Length: +5",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: +5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "Content-Length past u64",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 18446744073709551621\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
        case(
            "Content-Length : 5 (space before the colon)",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length : 5\r\n\r\nhello",
            400,
            Closed,
            Nothing,
        ),
    ]
}

/// Line endings, field syntax, chunks (RFC 9112 §2.2, §5, §7.1).
fn syntax_cases() -> Vec<Case> {
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: a.test\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    vec![
        // §2.2: a recipient MAY take a bare LF as a line end; forwarded with CRLF.
        case(
            "bare LF line ends",
            b"GET /lf HTTP/1.1\nHost: a.test\n\n",
            200,
            Open,
            one("/lf", b"", Empty),
        ),
        case(
            "bare LF line ends with a body",
            b"POST /lf-body HTTP/1.1\nHost: a.test\nContent-Length: 5\n\nhello",
            200,
            Open,
            one("/lf-body", b"hello", Length),
        ),
        case(
            "bare LF in a chunk size line",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
            400,
            Closed,
            Saw::Cut,
        ),
        case(
            "bare CR in the request line",
            b"GET /cr HTTP/1.1\rHost: a.test\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "bare CR in a header value",
            b"GET /cr HTTP/1.1\r\nHost: a.test\r\nX-A: a\rb\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "Host : a.test (space before the colon)",
            b"GET /x HTTP/1.1\r\nHost : a.test\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        case(
            "NUL in a header value",
            b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: a\0b\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
        // hyper's buffer (64 KiB, DOCKSIDE's max header bytes) fills before the line ends.
        case(
            "request line of 70 KiB",
            long_target.as_bytes(),
            431,
            Closed,
            Nothing,
        ),
        case(
            "chunk size not hex",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nz\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Saw::Cut,
        ),
        case(
            "chunk data longer than its size",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Saw::Cut,
        ),
        case(
            "chunk extension with a bare LF",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nhello\r\n0\r\n\r\n",
            400,
            Closed,
            Saw::Cut,
        ),
        case(
            "chunk extensions",
            b"POST /ext HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value;q=\"a;b\"\r\nhello\r\n0;last\r\n\r\n",
            200,
            Open,
            one("/ext", b"hello", Chunked),
        ),
        case(
            "trailers, one of them a Content-Length",
            b"POST /trailers HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: t\r\nContent-Length: 50\r\n\r\n",
            200,
            Open,
            one("/trailers", b"hello", Chunked),
        ),
        // hyper's client sends a GET body of unknown length as none at all unless told.
        case(
            "a chunked body on a GET",
            b"GET /get-chunked HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nX-T: t\r\n\r\n",
            200,
            Open,
            one("/get-chunked", b"hello", Chunked),
        ),
        case(
            "an empty chunked body on a GET",
            b"GET /empty-chunked HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: t\r\n\r\n",
            200,
            Open,
            one("/empty-chunked", b"", Chunked),
        ),
    ]
}

/// Routing (RFC 9112 §3.2.2) and refusals that leave a body unread.
fn routing_cases() -> Vec<Case> {
    vec![
        // §3.2.2: the target's authority wins over Host; the forwarded Host says the same.
        case(
            "absolute-form naming another host than Host",
            b"GET http://b.test/abs HTTP/1.1\r\nHost: a.test\r\n\r\n",
            200,
            Open,
            Saw::One {
                site: Site::B,
                target: "/abs",
                body: b"",
                framing: Empty,
            },
        ),
        case(
            "absolute-form with a trailing dot and upper case",
            b"GET http://B.TEST./abs HTTP/1.1\r\nHost: a.test\r\n\r\n",
            200,
            Open,
            Saw::One {
                site: Site::B,
                target: "/abs",
                body: b"",
                framing: Empty,
            },
        ),
        // RFC 9110 §4.2.4: userinfo in an http URI is an error (as in Host).
        case(
            "absolute-form with userinfo",
            b"GET http://a.test@b.test/abs HTTP/1.1\r\nHost: b.test\r\n\r\n",
            400,
            Open,
            Nothing,
        ),
        case(
            "absolute-form and two Host lines",
            b"GET http://b.test/abs HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
            400,
            Open,
            Nothing,
        ),
        // Refused before its body is read: the body holds a request, which must stay a body.
        case(
            "refused request whose body is a request",
            b"POST /a/..%2f..%2fx HTTP/1.1\r\nHost: a.test\r\nContent-Length: 39\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n",
            400,
            Either,
            Nothing,
        ),
        case(
            "refused TE then a pipelined request",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /pipelined HTTP/1.1\r\nHost: a.test\r\n\r\n",
            400,
            Closed,
            Nothing,
        ),
    ]
}

/// A raw client connection reading responses framed by `Content-Length`.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    /// A read waited WAIT for nothing.
    stalled: bool,
}

impl Client {
    async fn open(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        Client {
            s,
            buf: Vec::new(),
            stalled: false,
        }
    }

    /// Writes what it can: dockside may close before reading it all (an oversized head).
    async fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes).await;
    }

    /// Reads more into `buf`; false on EOF, reset, or nothing within WAIT (`stalled`).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(WAIT, self.s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Ok(_) => false,
            Err(_) => {
                self.stalled = true;
                false
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// One whole response: its status and its text; `None` if the connection ended first.
    async fn response(&mut self) -> Option<(u16, String)> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while self.buf.len() < head_end + length {
            if !self.fill().await {
                return None;
            }
        }
        let text = String::from_utf8_lossy(&self.buf[..head_end + length]).into_owned();
        self.buf.drain(..head_end + length);
        Some((status, text))
    }

    /// Whether dockside closes the connection with nothing more sent (bounded by WAIT).
    async fn closes_quietly(&mut self) -> bool {
        while self.fill().await {}
        self.buf.is_empty()
    }
}

const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n";

/// Sends one case on a fresh connection; the problems found, if any.
async fn run(d: &Dockside, c: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let mut client = Client::open(d.addr).await;
    client.send(&c.request).await;
    let status = client.response().await.map(|(s, _)| s);
    if status != Some(c.status) {
        problems.push(format!(
            "status {status:?}, want {} ({:?})",
            c.status,
            client.text()
        ));
    }
    match c.after {
        Closed => {
            if !client.closes_quietly().await {
                problems.push(format!("not closed quietly: {:?}", client.text()));
            }
        }
        Open | Either => {
            client.send(NEXT).await;
            match client.response().await {
                Some((200, text)) if text.ends_with("ok") => {}
                None if c.after == Either && client.buf.is_empty() => {}
                other => problems.push(format!("follow-up on the same connection: {other:?}")),
            }
        }
    }
    if client.stalled {
        problems.push(format!(
            "dockside sent nothing for WAIT: {:?}",
            client.text()
        ));
    }
    problems
}

/// Checks what the two backends saw against the case (the `/next` follow-ups set aside).
fn check_backends(c: &Case, port: u16, seen: [Vec<common::recorder::Conn>; 2]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut got: Vec<(Site, Message)> = Vec::new();
    let mut nexts = 0;
    let mut incomplete = 0;
    for (site, conns) in [Site::A, Site::B].into_iter().zip(seen) {
        for conn in conns {
            match messages(&conn.bytes) {
                Err(e) => problems.push(format!(
                    "{site:?} saw an ambiguous stream ({e}): {:?}",
                    String::from_utf8_lossy(&conn.bytes)
                )),
                Ok(read) => {
                    // `Cut` allows one incomplete request on a connection that carried no whole one.
                    let cut_allowed =
                        matches!(c.saw, Saw::Cut) && read.messages.is_empty() && incomplete == 0;
                    if !read.incomplete.is_empty() && !cut_allowed {
                        problems.push(format!(
                            "{site:?} saw an incomplete request: {:?}",
                            String::from_utf8_lossy(&read.incomplete)
                        ));
                    }
                    incomplete += usize::from(!read.incomplete.is_empty());
                    for m in read.messages {
                        if m.target == "/next" {
                            nexts += 1;
                        } else {
                            got.push((site, m));
                        }
                    }
                }
            }
        }
    }
    let want_next = usize::from(c.after != Closed);
    if nexts > want_next {
        problems.push(format!("{nexts} follow-ups reached the backend"));
    }
    for (site, m) in &got {
        problems.extend(check_message(*site, m, port));
    }
    match (c.saw, got.as_slice()) {
        (Nothing | Saw::Cut, []) => {}
        (
            Saw::One {
                site,
                target,
                body,
                framing,
            },
            [(at, m)],
        ) => {
            let framed = match (m.chunked, m.header("content-length")) {
                (true, None) => Chunked,
                (false, Some(_)) => Length,
                (false, None) => Empty,
                (true, Some(_)) => unreachable!("the strict reader refuses it"),
            };
            if (*at, m.target.as_str(), m.body.as_slice(), framed) != (site, target, body, framing)
            {
                problems.push(format!(
                    "backend saw {at:?} {m:?}, want {site:?} {target} {:?} {framing:?}",
                    String::from_utf8_lossy(body)
                ));
            }
        }
        (want, got) => problems.push(format!("backends saw {got:?}, want {want:?}")),
    }
    problems
}

/// What must hold of any request a backend receives.
fn check_message(site: Site, m: &Message, port: u16) -> Vec<String> {
    let mut problems = Vec::new();
    let host = match site {
        Site::A => format!("a.test:{port}"),
        Site::B => format!("b.test:{port}"),
    };
    if m.header("host") != Some(host.as_str()) {
        problems.push(format!(
            "forwarded Host {:?}, routed {host}",
            m.header("host")
        ));
    }
    if m.headers.iter().filter(|(n, _)| n == "host").count() != 1 {
        problems.push(format!("not one Host: {:?}", m.headers));
    }
    if m.extensions || !m.trailers.is_empty() {
        problems.push(format!("chunk extensions or trailers passed on: {m:?}"));
    }
    problems
}

#[tokio::test]
async fn smuggling_and_parsing_attacks_are_refused_or_reframed() {
    let cases: Vec<Case> = [framing_cases(), syntax_cases(), routing_cases()].concat();
    let mut failures = Vec::new();
    for c in &cases {
        // A dockside and two backends per case: nothing a case leaves behind reaches the next.
        let (a, b) = (Recorder::start().await, Recorder::start().await);
        let d = Dockside::start(|_| {}).await;
        d.publish(vec![site("a.test", &[a.addr]), site("b.test", &[b.addr])])
            .await;
        let mut problems = run(&d, c).await;
        let seen = [a.settle(&d, "a.test").await, b.settle(&d, "b.test").await];
        problems.extend(check_backends(c, d.addr.port(), seen));
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", c.name, problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The strict reader is what catches an ambiguous forward: it must refuse what a lenient
/// parser would read two ways, and note what must not be passed on.
#[test]
fn the_strict_reader_refuses_ambiguous_streams() {
    let ambiguous: [&[u8]; 6] = [
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    ];
    for bytes in ambiguous {
        let read = messages(bytes);
        assert!(
            read.is_err(),
            "{read:?}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
    let read = messages(
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: t\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HT",
    )
    .unwrap();
    let [a, b] = read.messages.as_slice() else {
        panic!("{read:?}")
    };
    assert_eq!((a.body.as_slice(), a.extensions), (&b"hello"[..], true));
    assert_eq!(a.trailers, ["X-T: t"]);
    assert_eq!((b.target.as_str(), b.body.len()), ("/b", 0));
    assert_eq!(read.incomplete, b"GET /c HT");
}
