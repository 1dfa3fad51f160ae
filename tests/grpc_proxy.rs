//! `VIRTUAL_PROTO=grpc` / `grpcs` end to end: dockside in-process (h2c on its HTTP port, h2
//! over TLS on its HTTPS port) in front of a real grpcio server (`tests/apps/grpc_server.py`),
//! called by the real grpcio client (`tests/apps/grpc_client.py`), curl and a raw hyper h2c
//! client where the test needs to see exactly what dockside answered.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::grpc::{GrpcServer, calls, frame, grpc_site};
use common::tls::Pki;
use common::{Dockside, WAIT, curl, dead_addr};
use dockside::model::Proto;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

const HOST: &str = "app.test";

/// Dockside with HTTPS (a certificate for `HOST` signed by `pki`'s CA) routing `HOST` to
/// `backend` with `proto`.
async fn proxy(pki: &Pki, proto: Proto, backend: SocketAddr) -> Dockside {
    proxy_site(pki, grpc_site(HOST, proto, backend)).await
}

/// [`proxy`] with `site` (for `HOST`) as it is.
async fn proxy_site(pki: &Pki, site: dockside::model::Site) -> Dockside {
    pki.install(HOST, HOST, &[HOST]);
    let certs = pki.certs();
    let d = Dockside::start(|cfg| {
        cfg.https = Some("127.0.0.1:0".parse().unwrap());
        cfg.certs_dir = certs;
    })
    .await;
    // The combiner publishes its (empty) first state from a task: a publish before it runs is
    // overwritten (as in `common::uwsgi::proxy::start`).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    d.publish(vec![site]).await;
    d
}

/// The `grpc` site for `HOST` over `backend` with a `read` upstream timeout.
fn with_read_timeout(backend: SocketAddr, read: Duration) -> dockside::model::Site {
    let mut site = grpc_site(HOST, Proto::Grpc, backend);
    site.locations[0].policy.timeouts.read = Some(read);
    site
}

fn https_addr(d: &Dockside) -> SocketAddr {
    d.running.https_addr.expect("HTTPS listener")
}

/// The calls every transport must carry unchanged.
fn the_calls() -> serde_json::Value {
    json!([
        {"method": "Unary", "requests": ["hello"]},
        {"method": "Count", "kind": "server_stream", "requests": ["4"]},
        {"method": "Join", "kind": "client_stream", "requests": ["a", "bb", "ccc"]},
        {"method": "Fail"},
        {"method": "Meta"},
    ])
}

fn check_the_calls(results: &[serde_json::Value], via: &str) {
    let ok = |i: usize, responses: serde_json::Value| {
        assert_eq!(results[i]["code"], "OK", "{via} call {i}: {}", results[i]);
        assert_eq!(results[i]["responses"], responses, "{via} call {i}");
    };
    ok(0, json!(["echo:hello"]));
    ok(1, json!(["0", "1", "2", "3"]));
    ok(2, json!(["a,bb,ccc"]));
    // The backend's status, message and binary details trailer arrive intact.
    let fail = &results[3];
    assert_eq!(fail["code"], "INVALID_ARGUMENT", "{via}: {fail}");
    assert_eq!(fail["details"], "bad argument: \u{fc}", "{via}: {fail}");
    assert_eq!(
        fail["trailing"]["grpc-status-details-bin"], "08031203626164",
        "{via}: {fail}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(results[4]["responses"][0].as_str().unwrap()).unwrap();
    assert_eq!(meta["x-real-ip"], "127.0.0.1", "{via}: {meta}");
}

#[tokio::test]
async fn unary_streaming_and_error_calls_pass_over_h2c_and_tls() {
    let server = GrpcServer::start(None);
    let pki = Pki::new();
    let d = proxy(&pki, Proto::Grpc, server.addr).await;
    let h2c = calls(d.addr, HOST, None, the_calls()).await;
    check_the_calls(&h2c, "h2c");
    let tls = calls(https_addr(&d), HOST, Some(&pki.ca_pem()), the_calls()).await;
    check_the_calls(&tls, "h2 over TLS");
}

#[tokio::test]
async fn grpcs_reaches_a_tls_backend_over_h2() {
    let pki = Pki::new();
    let leaf = pki.leaf("backend", &["127.0.0.1"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("b.crt"), dir.path().join("b.key"));
    std::fs::write(&cert, &leaf.chain).unwrap();
    std::fs::write(&key, &leaf.key).unwrap();
    let server = GrpcServer::start(Some((&cert, &key)));
    let d = proxy(&pki, Proto::Grpcs, server.addr).await;
    let results = calls(d.addr, HOST, None, the_calls()).await;
    check_the_calls(&results, "grpcs backend");
    // The same backend as `grpc` (h2c) cannot work: that proves the TLS hop was used.
    d.publish(vec![grpc_site(HOST, Proto::Grpc, server.addr)])
        .await;
    let plain = calls(d.addr, HOST, None, json!([{"method": "Unary"}])).await;
    assert_eq!(plain[0]["code"], "UNAVAILABLE", "{}", plain[0]);
}

#[tokio::test]
async fn a_backend_that_is_down_is_unavailable_not_an_html_502() {
    let pki = Pki::new();
    let d = proxy(&pki, Proto::Grpc, dead_addr()).await;
    for (target, ca) in [(d.addr, None), (https_addr(&d), Some(pki.ca_pem()))] {
        let results = calls(target, HOST, ca.as_deref(), json!([{"method": "Unary"}])).await;
        assert_eq!(results[0]["code"], "UNAVAILABLE", "{}", results[0]);
        assert_eq!(
            results[0]["details"], "dockside: 502 Bad Gateway",
            "{}",
            results[0]
        );
    }
}

type H2c = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// A raw h2c connection to dockside (its calls all meet the same dockside worker).
async fn h2c(d: &Dockside) -> H2c {
    let tcp = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

/// A raw h2c call (no client-side deadline) to dockside, whose response head and trailers the
/// test reads itself.
async fn raw_call(d: &Dockside, path: &str, headers: &[(&str, &str)]) -> http::HeaderMap {
    raw_call_on(&mut h2c(d).await, path, headers, b"x").await
}

/// [`raw_call`] on `send`, with one request `message`.
async fn raw_call_on(
    send: &mut H2c,
    path: &str,
    headers: &[(&str, &str)],
    message: &[u8],
) -> http::HeaderMap {
    let mut req = Request::post(format!("http://{HOST}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(Bytes::from(frame(message)))).unwrap();
    let resp = tokio::time::timeout(WAIT, send.send_request(req))
        .await
        .expect("dockside answers within WAIT")
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (parts, body) = resp.into_parts();
    let collected = tokio::time::timeout(WAIT, body.collect())
        .await
        .unwrap()
        .unwrap();
    let mut all = parts.headers;
    all.extend(collected.trailers().cloned().unwrap_or_default());
    all
}

#[tokio::test]
async fn dockside_answers_deadline_exceeded_when_the_calls_grpc_timeout_passes() {
    // A backend that accepts the connection and never answers: only dockside's deadline ends
    // the call (the client sets none of its own).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let pki = Pki::new();
    let d = proxy(&pki, Proto::Grpc, addr).await;
    let got = raw_call(&d, "/test.Echo/Unary", &[("grpc-timeout", "200m")]).await;
    assert_eq!(got["content-type"], "application/grpc");
    assert_eq!(got["grpc-status"], "4", "{got:?}");
    assert_eq!(
        got["grpc-message"], "dockside: 504 Gateway Timeout",
        "{got:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn a_deadline_shorter_than_the_real_handler_ends_the_call_and_the_next_one_works() {
    // The grpcio server's `Slow` answers OK after 5 s; the raw client sets no deadline of its
    // own, so only the call's `grpc-timeout` ends it: dockside's deadline or the backend's
    // (it receives the header too, and the two race). That the status comes from dockside's
    // own deadline is `dockside_answers_deadline_exceeded_when_the_calls_grpc_timeout_passes`
    // (a silent backend, which enforces nothing).
    let server = GrpcServer::start(None);
    let pki = Pki::new();
    let d = proxy(&pki, Proto::Grpc, server.addr).await;
    let got = raw_call(&d, "/test.Echo/Slow", &[("grpc-timeout", "300m")]).await;
    assert_eq!(got["grpc-status"], "4", "{got:?}");
    // Dockside and the backend still carry the next call.
    let after = calls(
        d.addr,
        HOST,
        None,
        json!([{"method": "Unary", "requests": ["after"]}]),
    );
    assert_eq!(after.await[0]["responses"], json!(["echo:after"]));
}

#[tokio::test]
async fn a_call_that_times_out_leaves_its_connection_and_the_next_opens_another() {
    // A backend host that accepts and then stays silent (it vanished, or hangs).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    let pki = Pki::new();
    let d = proxy_site(&pki, with_read_timeout(addr, Duration::from_millis(300))).await;
    // One client connection: both calls meet the same dockside worker and its connections.
    let mut client = h2c(&d).await;
    for _ in 0..2 {
        let got = raw_call_on(&mut client, "/test.Echo/Unary", &[], b"x").await;
        assert_eq!(got["grpc-status"], "4", "{got:?}");
    }
    let two = async {
        while accepted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let waited = tokio::time::timeout(WAIT, two).await;
    let n = accepted.load(Ordering::SeqCst);
    assert!(
        waited.is_ok() && n == 2,
        "{n} connection(s) for two timed-out calls"
    );
    hold.abort();
}

#[tokio::test]
async fn a_backend_that_stops_taking_the_body_times_out_without_a_client_deadline() {
    // A silent host grants no HTTP/2 flow-control window beyond the first 64 KiB: the rest of
    // a 1 MiB message never goes out, so the read timer (which starts at the body's end) never
    // runs; the send timeout (here the read timeout, 300 ms) ends the call.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let pki = Pki::new();
    let d = proxy_site(&pki, with_read_timeout(addr, Duration::from_millis(300))).await;
    let big = vec![7u8; 1 << 20];
    let got = raw_call_on(&mut h2c(&d).await, "/test.Echo/Join", &[], &big).await;
    assert_eq!(got["grpc-status"], "4", "{got:?}");
    assert_eq!(
        got["grpc-message"], "dockside: 504 Gateway Timeout",
        "{got:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn a_client_stream_longer_than_the_read_timeout_completes() {
    // The read timeout counts from the end of the request body: five messages 500 ms apart are
    // not a slow backend under a 1 s read timeout.
    let server = GrpcServer::start(None);
    let pki = Pki::new();
    let d = proxy_site(&pki, with_read_timeout(server.addr, Duration::from_secs(1))).await;
    let join = json!([{"method": "Join", "kind": "client_stream",
                       "requests": ["a", "b", "c", "d", "e"], "delay": 0.5}]);
    let results = calls(d.addr, HOST, None, join).await;
    assert_eq!(results[0]["code"], "OK", "{}", results[0]);
    assert_eq!(results[0]["responses"], json!(["a,b,c,d,e"]));
}

#[tokio::test]
async fn an_http1_client_gets_a_clear_400() {
    let server = GrpcServer::start(None);
    let pki = Pki::new();
    let d = proxy(&pki, Proto::Grpc, server.addr).await;
    let url = format!("http://{HOST}:{}/test.Echo/Unary", d.addr.port());
    let resolve = format!("{HOST}:{}:127.0.0.1", d.addr.port());
    let out = tokio::task::spawn_blocking(move || {
        curl(&[
            "--http1.1",
            "--resolve",
            &resolve,
            "-H",
            "content-type: application/grpc",
            "--data-binary",
            "x",
            "-w",
            "\n%{http_code}",
            &url,
        ])
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n400"), "{text}");
    assert!(text.contains("gRPC") && text.contains("HTTP/2"), "{text}");
}
