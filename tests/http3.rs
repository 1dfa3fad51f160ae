//! HTTP/3 (`ENABLE_HTTP3`, the `http3.enable` label) end to end with a real QUIC client
//! (quinn + h3): requests through the same pipeline as h1/h2 to a real backend, bodies streamed
//! both ways, the same certificates and SNI rules as TCP TLS, and `alt-svc` on the TLS answers
//! of HTTP/3 sites only.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use common::WAIT;
use common::h3::{H3Client, leaf_of};
use common::https::HttpsProxy;
use common::tls::Pki;
use dockside::model::{HttpsMethod, Site};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use tokio::sync::Notify;

/// A backend that hashes uploads (`/hash`: `LEN SHA256`), streams a first chunk and then waits
/// for the test (`/stream`), and otherwise echoes what dockside sent it.
struct Backend {
    addr: SocketAddr,
    release: Arc<Notify>,
    _task: tokio::task::JoinHandle<()>,
}

type Body = BoxBody<Bytes, Infallible>;

impl Backend {
    async fn start() -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let release = Arc::new(Notify::new());
        let gate = release.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let gate = gate.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let gate = gate.clone();
                        async move { Ok::<_, Infallible>(answer(req, gate).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Backend {
            addr,
            release,
            _task: task,
        }
    }
}

async fn answer(req: Request<Incoming>, gate: Arc<Notify>) -> Response<Body> {
    let text = |s: String| Response::new(http_body_util::Full::new(Bytes::from(s)).boxed());
    match req.uri().path() {
        "/hash" => {
            let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            let mut len = 0usize;
            let mut body = req.into_body();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    len += data.len();
                    digest.update(&data);
                }
            }
            text(format!("{len} {}", hex(digest.finish().as_ref())))
        }
        "/stream" => {
            let first = futures_util::stream::once(async {
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first;")))
            });
            let second = futures_util::stream::once(async move {
                gate.notified().await;
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"second")))
            });
            let both = futures_util::StreamExt::chain(first, second);
            Response::new(BodyExt::boxed(StreamBody::new(both)))
        }
        _ => {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned()
            };
            text(format!(
                "{} {} host={} proto={} real-ip={}",
                req.method(),
                req.uri(),
                h("host"),
                h("x-forwarded-proto"),
                h("x-real-ip")
            ))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

fn site(host: &str, backend: SocketAddr, http3: Option<bool>) -> Site {
    Site {
        https_method: Some(HttpsMethod::NoRedirect),
        http3,
        ..common::site(host, &[backend])
    }
}

/// dockside with HTTPS on `pki`'s certificates, `ENABLE_HTTP3` as given.
async fn proxy(pki: &Pki, global: bool) -> HttpsProxy {
    HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| c.defaults.http3 = global).await
}

#[tokio::test(flavor = "multi_thread")]
async fn get_post_and_a_streamed_answer_go_through_the_pipeline() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, true).await;
    assert_eq!(p.d.running.h3_addrs, vec![p.https], "bound at start");
    p.publish(vec![site("a.test", be.addr, None)]).await;
    let client = H3Client::new(&pki.ca_pem());
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let authority = format!("a.test:{}", p.https.port());

    let (resp, body) = conn
        .request(Method::GET, &authority, "/hello?x=1", None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!(
            "GET /hello?x=1 host=a.test:{} proto=https real-ip=127.0.0.1",
            p.https.port()
        )
    );
    assert!(resp.headers().get("alt-svc").is_none(), "not on h3 itself");

    let upload: Bytes = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (resp, body) = conn
        .request(Method::POST, &authority, "/hash", Some(upload.clone()))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("1000000 {}", sha256(&upload))
    );

    // A length that cannot be trusted is the client's fault, as over HTTP/1.1.
    let bad = Request::post(format!("https://{authority}/hash"))
        .header("content-length", "12, 13")
        .body(())
        .unwrap();
    let mut stream = conn.send(bad).await;
    let _ = stream.finish().await;
    let resp = stream.recv_response().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The first chunk arrives while the backend still holds the second.
    let mut stream = conn.start(Method::GET, &authority, "/stream").await;
    stream.finish().await.unwrap();
    let resp = tokio::time::timeout(WAIT, stream.recv_response())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut first = tokio::time::timeout(WAIT, stream.recv_data())
        .await
        .expect("first chunk before the backend finished")
        .unwrap()
        .unwrap();
    assert_eq!(first.copy_to_bytes(first.remaining()), "first;");
    be.release.notify_one();
    let mut rest = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        rest.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    assert_eq!(rest, b"second");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_certificate_reaches_new_h3_connections() {
    let pki = Pki::new();
    pki.install("a.test", "v1", &["a.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, true).await;
    p.publish(vec![site("a.test", be.addr, None)]).await;
    let client = H3Client::new(&pki.ca_pem());
    let crt = pki.certs().join("a.test.crt");
    let v1 = leaf_of(&crt);
    let old = client.connect(p.https, "a.test").await.unwrap();
    assert_eq!(old.peer_leaf(), v1);

    pki.install("a.test", "v2", &["a.test"]);
    let v2 = leaf_of(&crt);
    assert_ne!(v1, v2);
    let start = std::time::Instant::now();
    loop {
        let conn = client.connect(p.https, "a.test").await.unwrap();
        if conn.peer_leaf() == v2 {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "new certificate not served over QUIC"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before the swap still serves.
    let mut old = old;
    let authority = format!("a.test:{}", p.https.port());
    let (resp, _) = old.request(Method::GET, &authority, "/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_sni_and_sites_without_http3_are_refused() {
    let pki = Pki::new();
    // a.test's certificate covers tcp.test too: only the HTTP/3 rule keeps tcp.test off h3.
    pki.install("a.test", "a", &["a.test", "tcp.test"]);
    pki.install("tcp.test", "tcp", &["tcp.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, true).await;
    p.publish(vec![
        site("a.test", be.addr, None),
        site("tcp.test", be.addr, Some(false)),
    ])
    .await;
    let client = H3Client::new(&pki.ca_pem());
    // No certificate for the name (no default.crt): the handshake fails, as over TCP.
    let err = client.connect(p.https, "unknown.test").await.err();
    assert!(err.is_some(), "an unknown SNI must be refused");
    // A site with HTTP/3 off is not on the QUIC endpoint at all.
    let err = client.connect(p.https, "tcp.test").await.err();
    assert!(
        err.is_some(),
        "a site without HTTP/3 must be refused over QUIC"
    );
    // Nor is it reachable by Host on another site's connection.
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let port = p.https.port();
    let (resp, _) = conn
        .request(Method::GET, &format!("tcp.test:{port}"), "/", None)
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // It is still served over TCP TLS.
    let tcp = p.curl("https", "tcp.test", "/", &[]).await;
    assert_eq!(tcp.status, 200, "{}", tcp.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn alt_svc_on_tls_answers_of_http3_sites_only() {
    common::require_tool("curl", "curl");
    let pki = Pki::new();
    pki.install("h3.test", "h3", &["h3.test"]);
    pki.install("plain.test", "plain", &["plain.test"]);
    let be = Backend::start().await;
    // ENABLE_HTTP3 off: the label alone turns it on, and binds QUIC when the site appears.
    let p = proxy(&pki, false).await;
    assert!(
        p.d.running.h3_addrs.is_empty(),
        "nothing asks for HTTP/3 yet"
    );
    p.publish(vec![
        site("h3.test", be.addr, Some(true)),
        site("plain.test", be.addr, None),
    ])
    .await;
    let port = p.https.port();
    wait_for(|| p.d.running.http3.serving(), "the QUIC endpoint serving").await;
    let want = format!("h3=\":{port}\"; ma=86400");
    for version in ["--http1.1", "--http2"] {
        let h3 = p.curl("https", "h3.test", "/", &[version]).await;
        assert_eq!(h3.status, 200, "{}", h3.stderr);
        assert_eq!(h3.header("alt-svc"), Some(want.as_str()), "{version}");
        let plain = p.curl("https", "plain.test", "/", &[version]).await;
        assert_eq!(plain.status, 200, "{}", plain.stderr);
        assert_eq!(plain.header("alt-svc"), None, "{version}");
    }
    let clear = p.curl("http", "h3.test", "/", &[]).await;
    assert_eq!(clear.status, 200, "{}", clear.stderr);
    assert_eq!(
        clear.header("alt-svc"),
        None,
        "plain HTTP does not advertise"
    );
    // And what it advertises is there.
    let client = H3Client::new(&pki.ca_pem());
    let mut conn = client.connect_within(p.https, "h3.test", WAIT).await;
    let (resp, body) = conn
        .request(Method::GET, &format!("h3.test:{port}"), "/", None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "{body:?}");
    assert!(client.connect(p.https, "plain.test").await.is_err());
}

/// Waits (up to `WAIT`) until `done`.
async fn wait_for(done: impl Fn() -> bool, what: &str) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "not within {WAIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When the UDP port cannot be bound, HTTP/3 sites do not advertise what is not there.
#[tokio::test(flavor = "multi_thread")]
async fn no_alt_svc_when_quic_failed_to_bind() {
    common::require_tool("curl", "curl");
    let pki = Pki::new();
    pki.install("h3.test", "h3", &["h3.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, false).await;
    // Someone else holds the UDP port when the first HTTP/3 site appears.
    let _taken = std::net::UdpSocket::bind(p.https).unwrap();
    p.publish(vec![site("h3.test", be.addr, Some(true))]).await;
    wait_for(|| p.d.running.http3.failed(), "the QUIC bind failing").await;
    let answer = p.curl("https", "h3.test", "/", &["--http2"]).await;
    assert_eq!(answer.status, 200, "{}", answer.stderr);
    assert_eq!(answer.header("alt-svc"), None);
}

/// RFC 9114 §4.1.2: a body longer or shorter than its `Content-Length` is malformed: 400 (the
/// client's fault), and the backend never sees a request cut or overrun.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_not_matching_its_content_length_is_refused() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, true).await;
    p.publish(vec![site("a.test", be.addr, None)]).await;
    let client = H3Client::new(&pki.ca_pem());
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let authority = format!("a.test:{}", p.https.port());
    for (declared, sent) in [(10usize, 20usize), (30, 20), (20, 20)] {
        let req = Request::post(format!("https://{authority}/hash"))
            .header("content-length", declared.to_string())
            .body(())
            .unwrap();
        let mut stream = conn.send(req).await;
        let _ = stream.send_data(Bytes::from(vec![b'x'; sent])).await;
        let _ = stream.finish().await;
        let resp = stream.recv_response().await.unwrap();
        let want = if declared == sent {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(
            resp.status(),
            want,
            "Content-Length {declared}, {sent} sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enable_ipv6_gives_quic_its_twin() {
    if let Err(e) = std::net::UdpSocket::bind("[::1]:0") {
        panic!(
            "this test needs the IPv6 loopback (::1), which this machine lacks ({e}): enable IPv6 \
             (sysctl net.ipv6.conf.lo.disable_ipv6=0)"
        );
    }
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = Backend::start().await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.defaults.http3 = true;
        c.ipv6 = true;
    })
    .await;
    let port = p.https.port();
    let twin: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    assert_eq!(p.d.running.h3_addrs, vec![p.https, twin]);
    p.publish(vec![site("a.test", be.addr, None)]).await;
    let mut conn = H3Client::ipv6(&pki.ca_pem())
        .connect(twin, "a.test")
        .await
        .unwrap();
    let (resp, body) = conn
        .request(Method::GET, &format!("a.test:{port}"), "/", None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&body).ends_with("real-ip=::1"),
        "{body:?}"
    );
}

/// Shutdown on HTTP/3 as on TCP: GOAWAY, the request in flight finishes, then the endpoint
/// closes and a new connection is refused.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_a_request_in_flight_finish() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = Backend::start().await;
    let p = proxy(&pki, true).await;
    p.publish(vec![site("a.test", be.addr, None)]).await;
    let client = H3Client::new(&pki.ca_pem());
    let mut conn = client.connect(p.https, "a.test").await.unwrap();
    let authority = format!("a.test:{}", p.https.port());
    let mut stream = conn.start(Method::GET, &authority, "/stream").await;
    stream.finish().await.unwrap();
    let resp = stream.recv_response().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut first = stream.recv_data().await.unwrap().unwrap();
    assert_eq!(first.copy_to_bytes(first.remaining()), "first;");

    let https = p.https;
    let shutdown = tokio::spawn(p.d.running.shutdown());
    be.release.notify_one();
    let mut rest = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        rest.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    assert_eq!(rest, b"second", "the request in flight finishes");
    tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shutdown drains within WAIT")
        .unwrap();
    assert!(client.connect(https, "a.test").await.is_err());
}
