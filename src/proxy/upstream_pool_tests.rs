//! The pool against real sockets: a raw HTTP/1.1 backend that counts its connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::proxy::body;

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
                loop {
                    // One request head at a time (the tests send no bodies).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let body = match reply {
                        Reply::Large => vec![b'x'; 64 * 1024],
                        _ => b"ok".to_vec(),
                    };
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(&body).await.is_err()
                    {
                        return;
                    }
                    if let Reply::CloseAfter = reply {
                        return;
                    }
                }
            });
        }
    });
    (BackendAddr::Tcp(addr), accepted)
}

fn pool() -> Pool {
    let tls = crate::proxy::upstream_tls::client_config(false).unwrap();
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
    let resp = pool.send(get(), addr, false, false).await.unwrap();
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
    let mut resp = pool.send(get(), &addr, false, false).await.unwrap();
    // One frame, then the client goes away.
    let first = resp.body_mut().frame().await.unwrap().unwrap();
    assert!(first.data_ref().is_some_and(|d| d.len() < 64 * 1024));
    drop(resp);
    // The next exchange must not read the rest of the first body.
    let resp = pool.send(get(), &addr, false, false).await.unwrap();
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
    match pool().send(get(), &addr, false, false).await {
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
