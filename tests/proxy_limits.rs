//! Bounds and errors on real sockets: upstream timeout (504), slow client headers (closed),
//! oversized headers (431), CLIENT_MAX_BODY_SIZE (413), graceful shutdown of in-flight requests.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn slow_backend_gives_504() {
    let d = Dockside::start(|c| c.limits.upstream_timeout = Duration::from_millis(300)).await;
    let b = TestBackend::start("slow").await;
    d.publish(vec![site("slow.tld", &[b.addr])]).await;
    let started = Instant::now();
    let reply = get(&d, "slow.tld", "/sleep/3000").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        get(&d, "slow.tld", "/sleep/10").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_client_headers_are_cut_off() {
    let d = Dockside::start(|c| c.limits.header_timeout = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: slow.tld\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Never finish the head: dockside must close (or answer 408) on its own.
    let head = read_head(&mut s).await;
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "unexpected answer: {head:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let d = Dockside::start(|c| c.limits.max_header_bytes = 16 * 1024).await;
    let b = TestBackend::start("big").await;
    d.publish(vec![site("big.tld", &[b.addr])]).await;
    let big = "x".repeat(32 * 1024);
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: big.tld\r\nX-Big: {big}\r\n\r\n");
    // The proxy may stop reading once over the limit; a failed write is fine.
    let _ = s.write_all(req.as_bytes()).await;
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head:?}");
    assert_eq!(b.hits(), 0);
    // A head under the limit still works.
    let ok = Request::get(d.url("/"))
        .header("host", "big.tld")
        .header("x-big", "x".repeat(8 * 1024));
    assert_eq!(send(&d, ok, empty_body()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn body_limit_gives_413_declared_and_streamed() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("limit").await;
    let mut s = site("up.tld", &[b.addr]);
    s.client_max_body_size = Some(1000);
    d.publish(vec![s]).await;
    let post = || Request::post(d.url("/upload")).header("host", "up.tld");

    let reply = send(&d, post(), full_body(vec![b'a'; 2000])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        b.hits(),
        0,
        "a declared oversize body must not reach the backend"
    );

    let reply = send(&d, post(), full_body(vec![b'a'; 1000])).await;
    assert_eq!(
        (reply.status, reply.json()["received"].as_u64()),
        (StatusCode::OK, Some(1000))
    );

    // Chunked (no Content-Length): aborted once more than the limit has streamed.
    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b'b'; 600]))));
    let body = StreamBody::new(futures_util::stream::iter(chunks))
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        .boxed();
    let reply = send(&d, post(), body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn shutdown_completes_in_flight_requests() {
    let d = Dockside::start(|c| c.limits.drain_timeout = Duration::from_secs(5)).await;
    let b = TestBackend::start("drain").await;
    d.publish(vec![site("drain.tld", &[b.addr])]).await;
    let url = d.url("/sleep/700");
    let in_flight = tokio::spawn(async move {
        let req = Request::get(url)
            .header("host", "drain.tld")
            .body(empty_body())
            .unwrap();
        let resp = client()
            .request(req)
            .await
            .expect("in-flight request completes");
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, body.len())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = d.addr;
    let started = Instant::now();
    tokio::time::timeout(WAIT, d.running.shutdown())
        .await
        .expect("drain within WAIT");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "did not wait for the request"
    );
    let (status, len) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(len > 0);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn bind_error_says_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = dockside::test_support::config(dir.path().to_path_buf());
    config.http = addr;
    let err = match dockside::app::start(config).await {
        Ok(_) => panic!("bound a port that is taken"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&addr.to_string()) && err.contains("already in use"),
        "{err}"
    );
}

#[tokio::test]
async fn connection_limit_closes_extra_clients() {
    let d = Dockside::start(|c| c.limits.max_connections = 1).await;
    let b = TestBackend::start("one").await;
    d.publish(vec![site("one.tld", &[b.addr])]).await;
    let request = b"GET / HTTP/1.1\r\nHost: one.tld\r\n\r\n";
    let mut first = TcpStream::connect(d.addr).await.unwrap();
    first.write_all(request).await.unwrap();
    assert!(read_head(&mut first).await.starts_with("HTTP/1.1 200"));
    // The first connection stays open (keep-alive) and holds the only permit.
    let mut second = TcpStream::connect(d.addr).await.unwrap();
    let _ = second.write_all(request).await;
    assert_eq!(read_head(&mut second).await, "", "served beyond the limit");
    drop(first);
    // The permit comes back when the first connection ends.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut third = TcpStream::connect(d.addr).await.unwrap();
        let _ = third.write_all(request).await;
        if read_head(&mut third).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "permit never returned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn idle_connections_are_closed() {
    use tokio::io::AsyncReadExt;
    let d = Dockside::start(|c| c.limits.idle_timeout = Duration::from_millis(300)).await;
    let b = TestBackend::start("idle").await;
    d.publish(vec![site("idle.tld", &[b.addr])]).await;
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: idle.tld\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .expect("idle connection closed within WAIT")
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_second_instance_cannot_share_the_port() {
    let first = Dockside::start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = dockside::test_support::config(dir.path().to_path_buf());
    config.http = first.addr;
    match dockside::app::start(config).await {
        Ok(_) => panic!("two instances bound {} (SO_REUSEPORT leak)", first.addr),
        Err(e) => assert!(e.to_string().contains("already in use"), "{e}"),
    }
}

#[tokio::test]
async fn a_keep_alive_connection_outlives_the_header_timeout() {
    // nginx: a connection waiting for its next request is bound by keepalive_timeout, not
    // client_header_timeout. A load balancer reusing it after a pause must not get a reset.
    let d = Dockside::start(|c| {
        c.limits.header_timeout = Duration::from_millis(200);
        c.limits.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let b = TestBackend::start("kept").await;
    d.publish(vec![site("kept.tld", &[b.addr])]).await;
    let stream = TcpStream::connect(d.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    for pause in [0, 800] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        sender.ready().await.expect("connection still open");
        let req = Request::get("/")
            .header("host", "kept.tld")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let resp = sender
            .send_request(req)
            .await
            .expect("request on the kept connection");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.into_body().collect().await.unwrap();
    }
}
