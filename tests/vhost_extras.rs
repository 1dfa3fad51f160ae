//! nginx-proxy's per-vhost extras through the whole proxy, with real clients: a site on its own
//! `EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT` (served there, unknown on the default ports,
//! redirected to, and the port released when the site goes while the default listeners keep
//! their connections), `/nginx-proxy-debug` (`DEBUG_ENDPOINT` and its label) and `SERVER_TOKENS`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use common::https::HttpsProxy;
use common::pebble::free_port;
use common::tls::Pki;
use common::{Dockside, TestBackend, WAIT, dead_addr, get, site};
use dockside::model::{ServerTokens, Site};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// Writes the routes file (write-then-rename, as editors do).
fn write_routes(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Polls until `port` accepts (`open`) or refuses connections; panics after `WAIT`.
async fn wait_port(port: u16, open: bool) {
    let deadline = Instant::now() + WAIT;
    while accepts(port).await != open {
        assert!(
            Instant::now() < deadline,
            "port {port} still {}",
            if open { "closed" } else { "open" }
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// GET `http://127.0.0.1:port/` with `Host: host`, on a fresh connection.
/// The status is 0 when no HTTP answer came.
async fn get_on(port: u16, host: &str) -> (u16, String) {
    let out = common::curl(&[
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-H",
        &format!("Host: {host}"),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// One HTTP/1.1 keep-alive connection to `addr`: every request goes over the same socket.
async fn keep_alive(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn send_on(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: &str,
) -> StatusCode {
    let req = Request::get("/")
        .header("host", host)
        .body(Empty::new())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("answer within WAIT")
        .expect("the same connection still answers");
    let status = resp.status();
    resp.into_body().collect().await.unwrap();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_http_port_serves_the_site_there_only_and_is_released_with_it() {
    // One capturing subscriber for the binary, whichever test starts first.
    common::logs::capture();
    let ext = TestBackend::start("ext").await;
    let other = TestBackend::start("other").await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let both = format!(
        "[[site]]\nVIRTUAL_HOST = \"ext.test\"\nEXTERNAL_HTTP_PORT = \"{port}\"\nbackends = [\"{}\"]\n\n\
         [[site]]\nVIRTUAL_HOST = \"other.test\"\nbackends = [\"{}\"]\n",
        ext.addr, other.addr
    );
    write_routes(&routes, &both);
    let path = routes.clone();
    let d = Dockside::start(move |c| c.routes = Some(path)).await;
    wait_port(port, true).await;

    let (status, body) = get_on(port, "ext.test").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ext\""), "{body}");
    // nginx-proxy: the vhost listens on its port *instead of* HTTP_PORT.
    assert_eq!(get(&d, "ext.test", "/").await.status, 503);
    // The extra port serves only the sites that asked for it.
    assert_eq!(get_on(port, "other.test").await.0, 503);
    assert_eq!(get(&d, "other.test", "/").await.status, 200);

    // A keep-alive connection on the default listener, open while the site goes away.
    let mut conn = keep_alive(d.addr).await;
    assert_eq!(send_on(&mut conn, "other.test").await, 200);
    write_routes(
        &routes,
        &format!(
            "[[site]]\nVIRTUAL_HOST = \"other.test\"\nbackends = [\"{}\"]\n",
            other.addr
        ),
    );
    wait_port(port, false).await;
    assert_eq!(send_on(&mut conn, "other.test").await, 200);
    assert_eq!(get(&d, "other.test", "/").await.status, 200);

    // And back: the port is bound again when a site asks for it.
    write_routes(&routes, &both);
    wait_port(port, true).await;
    assert_eq!(get_on(port, "ext.test").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_external_port_is_logged_and_everything_else_serves() {
    // One capturing subscriber for the binary, whichever test starts first.
    common::logs::capture();
    let be = TestBackend::start("be").await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![
        Site {
            external_http_port: Some(port),
            ..site("busy.test", &[be.addr])
        },
        site("fine.test", &[be.addr]),
    ])
    .await;
    let line = common::logs::wait_line(
        &[
            &format!("EXTERNAL_HTTP_PORT={port} of busy.test"),
            "address already in use",
        ],
        WAIT,
    )
    .await;
    assert!(line.contains("cannot bind"), "{line}");
    assert_eq!(get(&d, "fine.test", "/").await.status, 200);
    // Once the other server lets go, dockside takes the port without another change, and the
    // failure was said once, not once per try.
    drop(taken);
    wait_port(port, true).await;
    assert_eq!(get_on(port, "busy.test").await.0, 200);
    let needle = format!("cannot bind 127.0.0.1:{port} for EXTERNAL_HTTP_PORT={port}");
    let said = common::logs::text().matches(needle.as_str()).count();
    assert_eq!(said, 1, "{}", common::logs::text());
}

#[tokio::test]
async fn external_https_port_is_where_http_redirects_and_tls_is_served() {
    // One capturing subscriber for the binary, whichever test starts first.
    common::logs::capture();
    let pki = Pki::new();
    pki.install("sec.test", "sec.test", &["sec.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    let port = free_port();
    p.publish(vec![Site {
        external_https_port: Some(port),
        ..site("sec.test", &[be.addr])
    }])
    .await;
    wait_port(port, true).await;

    let r = p.curl("http", "sec.test", "/a?b", &[]).await;
    assert_eq!(r.status, 301, "{r:?}");
    assert_eq!(
        r.header("location"),
        Some(format!("https://sec.test:{port}/a?b").as_str())
    );
    let r = p
        .curl_to("https", "sec.test", port, "sec.test", "/", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["backend"], "be");
    assert!(r.header("strict-transport-security").is_some(), "{r:?}");
    // Unknown on the default HTTPS listener: no default.crt, so the handshake is refused.
    let r = p.curl("https", "sec.test", "/", &[]).await;
    assert_eq!(r.status, 0, "TLS refused on the default port: {r:?}");
}

#[tokio::test]
async fn debug_endpoint_answers_json_globally_unless_the_label_says_no() {
    // One capturing subscriber for the binary, whichever test starts first.
    common::logs::capture();
    let pki = Pki::new();
    pki.install("dbg.test", "dbg.test", &["dbg.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.defaults.debug_endpoint = true;
    })
    .await;
    p.publish(vec![
        site("dbg.test", &[be.addr]),
        Site {
            debug_endpoint: Some(false),
            ..site("quiet.test", &[be.addr])
        },
    ])
    .await;
    // Over HTTP the site redirects, but nginx-proxy's redirect server has the debug location.
    for scheme in ["http", "https"] {
        let r = p.curl(scheme, "dbg.test", "/nginx-proxy-debug", &[]).await;
        assert_eq!(r.status, 200, "{scheme}: {r:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
        assert_eq!(v["vhost"]["hostname"], "dbg.test");
        assert_eq!(v["vhost"]["cert"], "dbg.test");
        assert_eq!(v["vhost"]["cert_ok"], true);
        assert_eq!(v["global"]["enable_debug_endpoint"], "true");
        assert_eq!(
            v["request"]["https"],
            if scheme == "https" { "on" } else { "" }
        );
        let port = be.addr.port().to_string();
        assert_eq!(
            v["vhost"]["paths"]["/"]["ports"][port.as_str()][0]["Name"],
            format!("backend-{port}")
        );
    }
    // The label turns it off: the path goes to the backend like any other.
    let r = p
        .curl("http", "quiet.test", "/nginx-proxy-debug", &[])
        .await;
    assert_eq!(r.json()["backend"], "be", "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_tokens_set_the_server_header_on_every_answer_of_the_site() {
    // One capturing subscriber for the binary, whichever test starts first.
    common::logs::capture();
    let be = TestBackend::start("be").await;
    let d = Dockside::start(|_| {}).await;
    let tokens = |t, s: Site| Site {
        server_tokens: Some(t),
        ..s
    };
    d.publish(vec![
        tokens(ServerTokens::Off, site("off.test", &[be.addr])),
        tokens(ServerTokens::On, site("on.test", &[be.addr])),
        tokens(ServerTokens::Off, site("down.test", &[dead_addr()])),
        site("unset.test", &[be.addr]),
    ])
    .await;
    let server = |r: &common::Reply| {
        r.headers
            .get("server")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let versioned = format!("dockside/{}", env!("CARGO_PKG_VERSION"));
    let cases = [
        ("off.test", 200, Some("dockside")),
        ("on.test", 200, Some(versioned.as_str())),
        // dockside's own error answer carries it too.
        ("down.test", 502, Some("dockside")),
        // Unset: today's behaviour (the backend sends none, dockside adds none).
        ("unset.test", 200, None),
        // The unknown-host answer belongs to no site.
        ("nowhere.test", 503, None),
    ];
    for (host, status, want) in cases {
        let r = get(&d, host, "/").await;
        assert_eq!(r.status.as_u16(), status, "{host}: {}", r.body);
        assert_eq!(server(&r).as_deref(), want, "{host}");
    }
}
