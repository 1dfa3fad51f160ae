//! Backend responses that break HTTP/1.1 framing, replayed through the whole proxy from
//! scripted raw backends (exact bytes per connection) to raw client sockets: conflicting
//! framing, bodies longer or shorter than declared, a chunked body cut off, 1xx answers, bodies
//! after HEAD/204/304, bytes after a complete response, and pooled connections the backend
//! closed. Each runs for a bodiless request (GET: dockside's own exchange, `upstream/h1`) and a
//! request with a body (POST: hyper's client) where it applies. The pool tests use two client
//! connections on the same worker, so that the second request would reuse the first one's
//! upstream connection if dockside pooled it.
//! `tests/security_probes.rs` holds the first framing cases (CL with TE, a `5, 6` list, gzip).

mod common;

use common::upstream::{
    Event, RawClient, Scripted, Seen, Step, ok_from, request, same_worker_pair,
};
use common::*;

const HOST: &str = "up.test";
const METHODS: [&str; 2] = ["GET", "POST"];

/// A complete response that, read as the answer to the next request, would be accepted.
const SMUGGLED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED";

/// Dockside in front of a scripted backend that answers `/probe` (and every path the script
/// leaves to it) with `ok_from`.
async fn proxy(
    script: impl Fn(&Seen) -> Option<Vec<Step>> + Send + Sync + 'static,
) -> (Dockside, Scripted) {
    let backend =
        Scripted::start(move |req| script(req).unwrap_or_else(|| vec![Step::Write(ok_from(req))]))
            .await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site(HOST, &[backend.addr])]).await;
    (d, backend)
}

fn bytes(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[tokio::test]
async fn conflicting_framing_is_a_502_and_the_backend_connection_is_closed() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "/cl-then-te",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "/two-cl-lines",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 13\r\n\r\nhelloSMUGGLED",
        ),
        (
            "/chunked-twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "/bad-cl",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        ),
    ];
    let (d, backend) = proxy(move |req| {
        let (_, answer) = cases.iter().find(|(p, _)| *p == req.path)?;
        Some(vec![Step::Write(answer.to_vec())])
    })
    .await;
    for method in METHODS {
        let mut c = RawClient::connect(d.addr).await;
        for (path, _) in cases {
            c.send(&request(method, HOST, path)).await;
            let reply = c.response(false).await;
            assert_eq!(reply.status, 502, "{method} {path}: {reply:?}");
            let conn = backend.conn_of(path).unwrap();
            backend.wait_for(Event::Closed { conn }).await;
            // The client's own connection is intact: the next answer on it is a clean one.
            c.send(&request(method, HOST, "/after")).await;
            let after = c.response(false).await;
            assert_eq!(after.status, 200, "{method} after {path}: {after:?}");
            assert_ne!(after.text(), format!("conn{conn}"), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_never_reaches_the_next_client() {
    let (d, backend) = proxy(|req| {
        (req.path == "/long").then(|| {
            vec![Step::Write(bytes(&[
                &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
                SMUGGLED,
            ]))]
        })
    })
    .await;
    for method in METHODS {
        let (mut a, mut b) = same_worker_pair(d.addr, HOST, method).await;
        a.send(&request(method, HOST, "/long")).await;
        let reply = a.response(false).await;
        assert_eq!(
            (reply.status, reply.text()),
            (200, "hello".into()),
            "{method}"
        );
        let poisoned = backend.conn_of("/long").unwrap();
        b.send(&request(method, HOST, "/next")).await;
        let next = b.response(false).await;
        assert_eq!(next.status, 200, "{method}: {next:?}");
        assert!(!next.text().contains("SMUGGLED"), "{method}: {next:?}");
        assert_ne!(next.text(), format!("conn{poisoned}"), "{method}");
        backend.wait_for(Event::Closed { conn: poisoned }).await;
        // Nothing left over on A's side either: its next answer starts clean.
        a.send(&request(method, HOST, "/again")).await;
        assert_eq!(a.response(false).await.status, 200, "{method}");
    }
}

/// The backend sends the head and `hello`, waits until the client has them, then closes.
fn cut_short(head: &[u8], part: &[u8]) -> Vec<Step> {
    vec![
        Step::Write([head, part].concat()),
        Step::WaitRelease,
        Step::Close,
    ]
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_an_aborted_response() {
    let (d, backend) = proxy(|req| {
        (req.path == "/short")
            .then(|| cut_short(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"hello"))
    })
    .await;
    for method in METHODS {
        let mut c = RawClient::connect(d.addr).await;
        c.send(&request(method, HOST, "/short")).await;
        // What was sent is forwarded at once; then the backend closes.
        c.wait_for_bytes(b"hello").await;
        backend.release();
        let reply = c.response(false).await;
        assert_eq!(reply.status, 200, "{method}: {reply:?}");
        assert_eq!(reply.header("content-length"), Some("10"), "{method}");
        assert_eq!(reply.text(), "hello", "{method}");
        assert!(!reply.complete, "{method}: {reply:?}");
        assert!(
            c.closed().await,
            "{method}: the client connection is closed"
        );
    }
}

#[tokio::test]
async fn a_backend_closing_inside_a_chunked_body_is_an_aborted_response() {
    let cuts: [(&str, &[u8]); 3] = [
        ("/between-chunks", b"5\r\nhello\r\n"),
        ("/inside-a-chunk", b"a\r\nhello"),
        ("/before-the-trailers-end", b"5\r\nhello\r\n0\r\n"),
    ];
    let (d, backend) = proxy(move |req| {
        let (_, cut) = cuts.iter().find(|(p, _)| *p == req.path)?;
        Some(cut_short(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            cut,
        ))
    })
    .await;
    for method in METHODS {
        for (path, _) in cuts {
            let mut c = RawClient::connect(d.addr).await;
            c.send(&request(method, HOST, path)).await;
            c.wait_for_bytes(b"hello").await;
            backend.release();
            let reply = c.response(false).await;
            assert_eq!(reply.status, 200, "{method} {path}: {reply:?}");
            assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
            assert_eq!(reply.text(), "hello", "{method} {path}");
            // Never a terminating chunk: the client cannot take the cut body for a whole one.
            assert!(!reply.complete, "{method} {path}: {reply:?}");
            assert!(c.closed().await, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn informational_answers_before_the_final_one_are_skipped() {
    let cases: [(&str, &[&[u8]]); 3] = [
        ("/continue", &[b"HTTP/1.1 100 Continue\r\n\r\n"]),
        (
            "/early-hints",
            &[b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"],
        ),
        (
            "/several",
            &[
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.js>\r\n\r\n",
                b"HTTP/1.1 103 Early Hints\r\nLink: </b.js>\r\n\r\n",
            ],
        ),
    ];
    let (d, _backend) = proxy(move |req| {
        let (_, informational) = cases.iter().find(|(p, _)| *p == req.path)?;
        // Each 1xx its own write, the final answer another.
        let mut steps: Vec<Step> = informational
            .iter()
            .map(|b| Step::Write(b.to_vec()))
            .collect();
        steps.push(Step::Write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal".to_vec(),
        ));
        Some(steps)
    })
    .await;
    for method in METHODS {
        let mut c = RawClient::connect(d.addr).await;
        for (path, _) in cases {
            c.send(&request(method, HOST, path)).await;
            let reply = c.response(false).await;
            assert_eq!(
                (reply.status, reply.text()),
                (200, "final".into()),
                "{method} {path}"
            );
            assert!(!reply.head.contains("link:"), "{method} {path}: {reply:?}");
        }
        // The client connection's framing held: a next request gets its own answer.
        c.send(&request(method, HOST, "/probe")).await;
        assert_eq!(c.response(false).await.status, 200, "{method}");
    }
}

#[tokio::test]
async fn no_body_is_forwarded_after_head_204_or_304_nor_left_on_a_pooled_connection() {
    let cases: [(&str, &str, &[u8]); 5] = [
        (
            "HEAD",
            "/head",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        ),
        ("GET", "/no-content", b"HTTP/1.1 204 No Content\r\n\r\n"),
        ("GET", "/not-modified", b"HTTP/1.1 304 Not Modified\r\n\r\n"),
        ("POST", "/no-content", b"HTTP/1.1 204 No Content\r\n\r\n"),
        (
            "POST",
            "/not-modified",
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
        ),
    ];
    let (d, backend) = proxy(move |req| {
        let (_, _, head) = cases
            .iter()
            .find(|(m, p, _)| *m == req.method && *p == req.path)?;
        // The "body" is a whole response: read as the next exchange's answer, it would pass.
        Some(vec![Step::Write(bytes(&[*head, SMUGGLED]))])
    })
    .await;
    for (method, path, _) in cases {
        // HEAD and GET share the bodiless path's pool.
        let pool_method = if method == "POST" { "POST" } else { "GET" };
        let (mut a, mut b) = same_worker_pair(d.addr, HOST, pool_method).await;
        a.send(&request(method, HOST, path)).await;
        let reply = a.response(method == "HEAD").await;
        assert!(reply.body.is_empty(), "{method} {path}: {reply:?}");
        let poisoned = backend.conn_of(path).unwrap();
        b.send(&request(pool_method, HOST, "/next")).await;
        let next = b.response(false).await;
        assert_eq!(next.status, 200, "{method} {path}: {next:?}");
        assert!(
            !next.text().contains("SMUGGLED"),
            "{method} {path}: {next:?}"
        );
        assert_ne!(next.text(), format!("conn{poisoned}"), "{method} {path}");
        backend.wait_for(Event::Closed { conn: poisoned }).await;
        // A's next answer follows the bodiless one directly: no body bytes were forwarded.
        a.send(&request(pool_method, HOST, "/probe")).await;
        let again = a.response(false).await;
        assert_eq!(again.status, 200, "{method} {path}: {again:?}");
        assert!(
            again.text().starts_with("conn"),
            "{method} {path}: {again:?}"
        );
    }
}

#[tokio::test]
async fn bytes_after_a_complete_response_retire_the_pooled_connection() {
    let (d, backend) = proxy(|req| {
        (req.path == "/then-garbage").then(|| {
            vec![
                Step::Write(ok_from(req)),
                // A separate write, after the answer: it reaches the idle pooled connection.
                Step::Write(SMUGGLED.to_vec()),
            ]
        })
    })
    .await;
    for method in METHODS {
        let (mut a, mut b) = same_worker_pair(d.addr, HOST, method).await;
        a.send(&request(method, HOST, "/then-garbage")).await;
        assert_eq!(a.response(false).await.status, 200, "{method}");
        let poisoned = backend.conn_of("/then-garbage").unwrap();
        let answered = backend
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Request { conn, .. } if *conn == poisoned))
            .count();
        backend
            .wait_for(Event::Answered {
                conn: poisoned,
                nth: answered,
            })
            .await;
        b.send(&request(method, HOST, "/next")).await;
        let next = b.response(false).await;
        assert_eq!(next.status, 200, "{method}: {next:?}");
        assert!(
            !next.text().contains("SMUGGLED"),
            "{method}: {next:?} {:?}",
            backend.events()
        );
        assert_ne!(next.text(), format!("conn{poisoned}"), "{method}");
        backend.wait_for(Event::Closed { conn: poisoned }).await;
    }
}

#[tokio::test]
async fn a_pooled_connection_half_closed_while_idle_is_not_used() {
    let (d, backend) = proxy(|req| {
        (req.path == "/then-fin").then(|| {
            vec![
                Step::Write(ok_from(req)),
                Step::WaitRelease,
                Step::ShutdownWrite,
            ]
        })
    })
    .await;
    for method in METHODS {
        let (mut a, mut b) = same_worker_pair(d.addr, HOST, method).await;
        a.send(&request(method, HOST, "/then-fin")).await;
        assert_eq!(a.response(false).await.status, 200, "{method}");
        let idle = backend.conn_of("/then-fin").unwrap();
        // The connection is back in the pool (the answer was read to its end); now the FIN.
        backend.wait_for(Event::Waiting { conn: idle }).await;
        backend.release();
        backend.wait_for(Event::ShutDown { conn: idle }).await;
        b.send(&request(method, HOST, "/next")).await;
        let next = b.response(false).await;
        assert_eq!(next.status, 200, "{method}: {next:?}");
        assert_ne!(next.text(), format!("conn{idle}"), "{method}");
        backend.wait_for(Event::Closed { conn: idle }).await;
    }
}

#[tokio::test]
async fn a_pooled_connection_closed_as_the_request_arrives_is_retried_only_without_a_body() {
    // The second request on a connection is read and the connection closed without a byte of
    // answer: the keep-alive race, where the backend's idle timeout fires as the request lands.
    let (d, backend) =
        proxy(|req| (req.nth > 1 && req.path == "/raced").then(|| vec![Step::Close])).await;
    for (method, status) in [("GET", 200), ("POST", 502)] {
        let (_a, mut b) = same_worker_pair(d.addr, HOST, method).await;
        let pooled = backend.conn_of("/probe").unwrap();
        b.send(&request(method, HOST, "/raced")).await;
        let reply = b.response(false).await;
        assert_eq!(reply.status, status, "{method}: {reply:?}");
        let raced = Event::Request {
            conn: pooled,
            nth: 3,
            path: "/raced".into(),
        };
        assert!(
            backend.events().contains(&raced),
            "{method}: {:?}",
            backend.events()
        );
        if status == 200 {
            // Sent again, once, over a new connection.
            assert_ne!(reply.text(), format!("conn{pooled}"), "{method}");
        }
    }
}
