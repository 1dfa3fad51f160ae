//! HTTP/3 resource bounds with real QUIC clients: spoofed handshakes do not take the TCP
//! clients' connection permits (and past a few a client must answer a Retry), a connection
//! with no request is closed after the idle timeout even while its client PINGs, and a client
//! that takes no response data does not hold its request forever.

mod common;

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::WAIT;
use common::h3::H3Client;
use common::https::HttpsProxy;
use common::tls::Pki;
use dockside::model::{HttpsMethod, Site};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

fn site(host: &str, backend: SocketAddr) -> Site {
    Site {
        https_method: Some(HttpsMethod::NoRedirect),
        ..common::site(host, &[backend])
    }
}

/// Sets its flag when dropped: the response body it rides in was abandoned.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A backend whose every answer is an endless body; `dropped` turns true once dockside
/// abandons one.
async fn endless_backend(dropped: Arc<AtomicBool>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let dropped = dropped.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let flag = DropFlag(dropped.clone());
                    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                    let body = futures_util::stream::unfold(flag, move |flag| {
                        let chunk = chunk.clone();
                        async move { Some((Ok::<_, Infallible>(Frame::data(chunk)), flag)) }
                    });
                    async move {
                        Ok::<_, Infallible>(http::Response::new(StreamBody::new(body).boxed()))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

async fn wait_for(done: impl Fn() -> bool, what: &str) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "not within {WAIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinging_client_without_requests_is_closed_after_the_idle_timeout() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = common::backend::TestBackend::start("idle").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.defaults.http3 = true;
        c.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    p.publish(vec![site("a.test", be.addr)]).await;
    let client = H3Client::pinging(&pki.ca_pem(), Duration::from_millis(200));
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let (resp, _) = conn
        .request(
            Method::GET,
            &format!("a.test:{}", p.https.port()),
            "/",
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let closed = tokio::time::timeout(WAIT, conn.quic.closed())
        .await
        .expect("an idle connection (PINGs only) is closed");
    assert!(
        matches!(closed, quinn::ConnectionError::ApplicationClosed(ref c) if c.error_code == 0x100u32.into()),
        "closed gracefully (H3_NO_ERROR): {closed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_the_client_takes_no_data_of_times_out() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let dropped = Arc::new(AtomicBool::new(false));
    let be = endless_backend(dropped.clone()).await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.defaults.http3 = true;
        c.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    p.publish(vec![site("a.test", be)]).await;
    // PINGs keep the QUIC connection alive: only the write timeout can end the request.
    let client = H3Client::pinging(&pki.ca_pem(), Duration::from_millis(200));
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let mut stream = conn
        .start(Method::GET, &format!("a.test:{}", p.https.port()), "/")
        .await;
    stream.finish().await.unwrap();
    let resp = stream.recv_response().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The client reads no data: its stream window fills, dockside's writes stall.
    wait_for(
        || dropped.load(Ordering::SeqCst),
        "the stalled response abandoned (its backend body dropped)",
    )
    .await;
}

/// The long header's destination and source connection IDs (RFC 9000 §17.2).
fn long_header_cids(datagram: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if datagram.first()? & 0x80 == 0 {
        return None;
    }
    let dlen = *datagram.get(5)? as usize;
    let dcid = datagram.get(6..6 + dlen)?.to_vec();
    let slen = *datagram.get(6 + dlen)? as usize;
    let scid = datagram.get(7 + dlen..7 + dlen + slen)?.to_vec();
    Some((dcid, scid))
}

/// Spoofed Initials: the relay forwards the clients' packets to dockside from its own address
/// and drops every answer, as for a client whose source address was forged.
#[tokio::test(flavor = "multi_thread")]
async fn spoofed_handshakes_leave_tcp_its_connections() {
    common::require_tool("curl", "curl");
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = common::backend::TestBackend::start("spoof").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.defaults.http3 = true;
        c.limits.max_connections = 2;
        c.limits.header_timeout = Duration::from_secs(30);
    })
    .await;
    p.publish(vec![site("a.test", be.addr)]).await;

    let relay = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let relay_addr = relay.local_addr().unwrap();
    let server = p.https;
    let (sent_tx, sent) = tokio::sync::watch::channel(HashSet::<Vec<u8>>::new());
    let (answered_tx, answered) = tokio::sync::watch::channel(HashSet::<Vec<u8>>::new());
    let (retried_tx, retried) = tokio::sync::watch::channel(HashSet::<Vec<u8>>::new());
    let relaying = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = relay.recv_from(&mut buf).await.unwrap();
            let Some((dcid, scid)) = long_header_cids(&buf[..n]) else {
                continue;
            };
            if from == server {
                // QUIC v1 long header type 3: Retry.
                if (buf[0] >> 4) & 0x3 == 3 {
                    retried_tx.send_modify(|r| {
                        r.insert(dcid.clone());
                    });
                }
                answered_tx.send_modify(|a| {
                    a.insert(dcid);
                });
            } else {
                sent_tx.send_modify(|s| {
                    s.insert(scid);
                });
                let _ = relay.send_to(&buf[..n], server).await;
            }
        }
    });
    const SPOOFED: usize = 20;
    let spoofer = H3Client::new(&pki.ca_pem());
    let mut pending = Vec::new();
    for _ in 0..SPOOFED {
        pending.push(spoofer.start_handshake(relay_addr, "a.test"));
    }
    // Every spoofed Initial answered (handshake begun, Retry or refusal): dockside saw them all.
    let start = std::time::Instant::now();
    loop {
        let (sent, answered) = (sent.borrow().clone(), answered.borrow().clone());
        if sent.len() >= SPOOFED && sent.iter().all(|s| answered.contains(s)) {
            break;
        }
        assert!(start.elapsed() < WAIT, "spoofed Initials not all answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Past 16 handshakes in progress, the unproved ones were asked to Retry.
    assert_eq!(retried.borrow().len(), SPOOFED - 16, "Retry answers");
    // TCP clients still get connections (the limit is 2).
    for _ in 0..3 {
        let answer = p.curl("https", "a.test", "/", &[]).await;
        assert_eq!(answer.status, 200, "TCP starved: {}", answer.stderr);
    }
    // A real client proves its address (Retry past 16 handshakes in progress) and is served.
    let client = H3Client::new(&pki.ca_pem());
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let (resp, _) = conn
        .request(
            Method::GET,
            &format!("a.test:{}", p.https.port()),
            "/",
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    drop(pending);
    relaying.abort();
}
