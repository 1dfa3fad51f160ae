//! The pool against real sockets: a raw HTTP/1.1 backend that counts its connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::exchange as body;

/// How the test backend answers each request on a connection.
#[derive(Clone, Copy)]
enum Reply {
    /// `ok`, connection kept open.
    KeepAlive,
    /// `ok` without `Connection: close`, then the socket is closed at once (a backend whose
    /// keep-alive timeout just expired).
    CloseAfter,
    /// A 64 KiB body (so a client can stop reading half-way).
    Large,
    /// These bytes as they are, connection kept open.
    Raw(&'static str),
    /// These bytes, then the socket is closed (a close-delimited body).
    RawClose(&'static str),
    /// Answers the first request on a connection; at the second, closes without a word (a
    /// keep-alive connection the backend shut just as it was reused).
    DropSecond,
}

/// Serves every connection until it closes; returns the address and the accept count.
async fn backend(reply: Reply) -> (BackendAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                for served in 0.. {
                    // One request head at a time, then its Content-Length body if any.
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + length);
                    let answer = match reply {
                        Reply::Raw(raw) | Reply::RawClose(raw) => raw.as_bytes().to_vec(),
                        Reply::DropSecond if served == 1 => return,
                        _ => {
                            let body = match reply {
                                Reply::Large => vec![b'x'; 64 * 1024],
                                _ => b"ok".to_vec(),
                            };
                            let mut answer = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            answer.extend_from_slice(&body);
                            answer
                        }
                    };
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                    if let Reply::CloseAfter | Reply::RawClose(_) = reply {
                        return;
                    }
                }
            });
        }
    });
    (BackendAddr::Tcp(addr), accepted)
}

fn pool() -> Pool {
    let tls = crate::upstream::tls::client_config(false).unwrap();
    Pool::new(tls, Duration::from_secs(2))
}

fn get() -> Request<ProxyBody> {
    Request::builder()
        .uri("/")
        .header("host", "test")
        .body(body::empty())
        .unwrap()
}

async fn text(pool: &Pool, addr: &BackendAddr) -> String {
    let resp = pool.send(get(), addr, false, false, None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Connections the backend accepted for 20 sequential requests through one pool.
async fn connections_for_20_requests(reply: Reply) -> usize {
    let (addr, accepted) = backend(reply).await;
    let pool = pool();
    for _ in 0..20 {
        assert_eq!(text(&pool, &addr).await, "ok");
    }
    accepted.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_finished_response_returns_its_connection() {
    assert_eq!(connections_for_20_requests(Reply::KeepAlive).await, 1);
}

#[tokio::test]
async fn a_half_read_response_closes_its_connection() {
    let (addr, accepted) = backend(Reply::Large).await;
    let pool = pool();
    let mut resp = pool.send(get(), &addr, false, false, None).await.unwrap();
    // One frame, then the client goes away.
    let first = resp.body_mut().frame().await.unwrap().unwrap();
    assert!(first.data_ref().is_some_and(|d| d.len() < 64 * 1024));
    drop(resp);
    // The next exchange must not read the rest of the first body.
    let resp = pool.send(get(), &addr, false, false, None).await.unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.len(), 64 * 1024);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_backend_closed_is_replaced() {
    // Every request is answered although each pooled connection is dead by its next use.
    assert_eq!(connections_for_20_requests(Reply::CloseAfter).await, 20);
}

#[tokio::test]
async fn a_refused_connect_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = BackendAddr::Tcp(listener.local_addr().unwrap());
    drop(listener);
    match pool().send(get(), &addr, false, false, None).await {
        Err(SendError::Connect(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        other => panic!(
            "expected a connect error, got {:?}",
            other.map(|r| r.status())
        ),
    }
}

#[tokio::test]
async fn unix_socket_backends_speak_http() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await.unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix")
            .await
            .unwrap();
    });
    assert_eq!(text(&pool(), &BackendAddr::Unix(path)).await, "unix");
}

/// A request with a body takes hyper's client; its connections are pooled too.
#[tokio::test]
async fn requests_with_a_body_reuse_their_connection() {
    let (addr, accepted) = backend(Reply::KeepAlive).await;
    let pool = pool();
    for _ in 0..10 {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "test")
            .header("content-length", "3")
            .body(body::full("abc"))
            .unwrap();
        let resp = pool.send(req, &addr, false, false, None).await.unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

async fn bodies_and_connections(reply: Reply, n: usize) -> (Vec<String>, usize) {
    let (addr, accepted) = backend(reply).await;
    let pool = pool();
    let mut bodies = Vec::new();
    for _ in 0..n {
        bodies.push(text(&pool, &addr).await);
    }
    (bodies, accepted.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_chunked_response_is_decoded_and_keeps_its_connection() {
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
               3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let (bodies, connections) = bodies_and_connections(Reply::Raw(raw), 5).await;
    assert_eq!(bodies, vec!["abcde"; 5]);
    assert_eq!(connections, 1);
}

#[tokio::test]
async fn a_close_delimited_response_ends_at_eof_and_is_not_reused() {
    let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    let (bodies, connections) = bodies_and_connections(Reply::RawClose(raw), 3).await;
    assert_eq!(bodies, vec!["until the end"; 3]);
    assert_eq!(connections, 3);
}

#[tokio::test]
async fn a_truncated_body_is_an_error_for_the_client() {
    let (addr, _) = backend(Reply::RawClose(
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    ))
    .await;
    let resp = pool().send(get(), &addr, false, false, None).await.unwrap();
    let err = resp.into_body().collect().await.unwrap_err();
    assert!(err.to_string().contains("5 bytes before the end"), "{err}");
}

#[tokio::test]
async fn a_garbage_answer_is_an_exchange_error() {
    let (addr, _) = backend(Reply::RawClose("SSH-2.0-OpenSSH_9.2\r\n\r\n")).await;
    match pool().send(get(), &addr, false, false, None).await {
        Err(SendError::Exchange(e)) => {
            assert!(e.to_string().contains("invalid response head"), "{e}")
        }
        other => panic!(
            "expected an exchange error, got {:?}",
            other.map(|r| r.status())
        ),
    }
}

/// A reused connection that dies after the request went out, without a byte of answer: a GET
/// is sent again on a fresh connection, a POST is not (it may have been acted on).
#[tokio::test]
async fn only_idempotent_requests_are_repeated_after_a_silent_close() {
    let (bodies, connections) = bodies_and_connections(Reply::DropSecond, 6).await;
    assert_eq!(bodies, vec!["ok"; 6]);
    assert_eq!(connections, 6);

    let (addr, _) = backend(Reply::DropSecond).await;
    let pool = pool();
    let post = || {
        Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "test")
            .header("content-length", "0")
            .body(body::empty())
            .unwrap()
    };
    let first = pool.send(post(), &addr, false, false, None).await.unwrap();
    first.into_body().collect().await.unwrap();
    match pool.send(post(), &addr, false, false, None).await {
        Err(SendError::Exchange(e)) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!(
            "expected an exchange error, got {:?}",
            other.map(|r| r.status())
        ),
    }
}

/// A large body grows the read buffer; the connection goes back to the pool holding a few KiB.
#[tokio::test]
async fn an_idle_connection_gives_back_the_buffer_a_large_body_grew() {
    let (addr, accepted) = backend(Reply::Large).await;
    let pool = pool();
    let resp = pool.send(get(), &addr, false, false, None).await.unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.len(), 64 * 1024);
    let key = (addr.clone(), false);
    let conn = pool
        .checkout(&key, |idle| &mut idle.wire)
        .expect("the connection is back in the pool");
    assert!(
        conn.buffer_capacity() <= 8 * 1024,
        "{}",
        conn.buffer_capacity()
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
