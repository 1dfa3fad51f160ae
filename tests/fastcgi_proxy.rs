//! `VIRTUAL_PROTO=fastcgi` end to end: dockside in-process, configured by a routes file, in
//! front of a real PHP-FPM (Debian `php-fpm`) running the scripts in `tests/apps/php/`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fastcgi::PhpFpm;
use common::policy::{Entry, Files, entry, start_with};
use common::uwsgi::bodies::Pattern;
use common::uwsgi::proxy::{HOST, Via, curl, curl_json};
use common::{Dockside, WAIT, empty_body};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

/// The FastCGI entry for `host` over `addr`, scripts from `tests/apps/php`.
fn php_entry(host: &str, addr: std::net::SocketAddr) -> Entry {
    let root = PhpFpm::root();
    entry(host, addr)
        .set("VIRTUAL_PROTO", "fastcgi")
        .set("VIRTUAL_ROOT", root.to_str().unwrap())
        .set("HTTPS_METHOD", "noredirect")
}

/// Dockside on HTTP and HTTPS (a self-signed certificate for [`HOST`]) serving `entries` from a
/// routes file; the files must outlive it.
async fn start(entries: &[Entry]) -> (Files, Dockside) {
    common::logs::capture();
    let files = Files::new();
    let d = start_with(&files, entries, |cfg| {
        cfg.https = Some("127.0.0.1:0".parse().unwrap());
        let cert = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        dockside::certs::write_pair(
            &cfg.certs_dir,
            HOST,
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
    })
    .await;
    (files, d)
}

/// A hyper request to `host` through dockside's plain HTTP listener.
fn request(d: &Dockside, host: &str, method: Method, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(d.url(path))
        .header("host", host)
}

/// Sends and reads the whole answer as bytes (bounded by `limit`); a failed exchange prints
/// dockside's log.
async fn exchange(
    builder: http::request::Builder,
    body: common::TestBody,
    limit: Duration,
) -> (http::response::Parts, Bytes) {
    let req = builder.body(body).unwrap();
    let resp = tokio::time::timeout(limit, common::client().request(req))
        .await
        .expect("response in time");
    let resp = resp.unwrap_or_else(|e| panic!("{e:?}\n{}", common::logs::text()));
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(limit, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (parts, body)
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn php_sees_the_fastcgi_conf_params_over_http_and_https() {
    let fpm = PhpFpm::start(2);
    let (_files, d) = start(&[php_entry(HOST, fpm.addr)]).await;
    let root = PhpFpm::root();
    let root = root.to_str().unwrap();
    for via in [Via::Http1, Via::H2Tls] {
        let out = curl(
            &d,
            via,
            "/env.php?x=1&y=%41",
            &["-H", "x-custom: yes", "-H", "proxy: http://evil.test"],
        )
        .await;
        let env = curl_json(&out);
        let (scheme, port) = match via {
            Via::H2Tls => ("https", d.running.https_addr.unwrap().port()),
            _ => ("http", d.addr.port()),
        };
        let script = format!("{root}/env.php");
        let host = format!("{HOST}:{port}");
        let port = port.to_string();
        for (k, v) in [
            ("SCRIPT_FILENAME", script.as_str()),
            ("SCRIPT_NAME", "/env.php"),
            ("DOCUMENT_ROOT", root),
            ("REQUEST_URI", "/env.php?x=1&y=%41"),
            ("QUERY_STRING", "x=1&y=%41"),
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_SCHEME", scheme),
            ("HTTP_HOST", &host),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("SERVER_PORT", &port),
            ("SERVER_NAME", HOST),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("REDIRECT_STATUS", "200"),
            ("HTTP_X_CUSTOM", "yes"),
        ] {
            assert_eq!(env[k], v, "{k} via {via:?}: {env:#}");
        }
        assert_eq!(
            env["HTTPS"].as_str(),
            (scheme == "https").then_some("on"),
            "HTTPS via {via:?}"
        );
        assert!(env.get("HTTP_PROXY").is_none(), "httpoxy header dropped");
    }
    // A directory runs its index.php.
    let reply = common::get(&d, HOST, "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, "index of /index.php\n");
}

#[tokio::test]
async fn large_post_bodies_reach_php_intact_and_the_limit_holds() {
    let fpm = PhpFpm::start(2);
    let e = php_entry(HOST, fpm.addr).set("CLIENT_MAX_BODY_SIZE", "8m");
    let (_files, d) = start(&[e]).await;
    let size = 5 * 1024 * 1024 + 3;
    for exact in [true, false] {
        let mut req = request(&d, HOST, Method::POST, "/echo.php");
        req = if exact {
            req.header("content-length", size.to_string())
        } else {
            req.header("transfer-encoding", "chunked")
        };
        let (head, body) = exchange(
            req,
            Pattern::new(size, exact).boxed(),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(head.status, StatusCode::OK, "exact={exact}");
        let sha = Pattern::new(size, exact).sha256_hex();
        assert_eq!(head.headers["x-sha256"], sha.as_str(), "PHP got it intact");
        assert_eq!(head.headers["x-content-length"], size.to_string().as_str());
        assert_eq!(body.len() as u64, size, "exact={exact}");
        assert_eq!(sha256_hex(&body), sha, "echoed back intact");
    }
    // Over CLIENT_MAX_BODY_SIZE: refused from the declared length, before any body byte.
    let mut s = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let head = format!(
        "POST /echo.php HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {}\r\n\r\n",
        9u64 << 20
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(WAIT, common::read_head(&mut s))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_flushed_piece_reaches_the_client_before_the_script_ends() {
    let fpm = PhpFpm::start(2);
    let (_files, d) = start(&[php_entry(HOST, fpm.addr)]).await;
    let go = fpm.scratch().join("go");
    let path = format!("/stream.php?go={}", go.display());
    let req = request(&d, HOST, Method::GET, &path)
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, common::client().request(req))
        .await
        .expect("head in time")
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut seen = Vec::new();
    while !seen.ends_with(b"first\n") {
        let frame = tokio::time::timeout(WAIT, body.frame())
            .await
            .expect("the first piece arrives while the script still waits")
            .expect("a frame")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            seen.extend_from_slice(&data);
        }
    }
    assert_eq!(seen, b"first\n", "nothing after the first piece yet");
    std::fs::write(&go, "").unwrap();
    let rest = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("the rest in time")
        .expect("body")
        .to_bytes();
    assert_eq!(&rest[..], b"last\n");
}

#[tokio::test]
async fn a_fatal_error_is_php_fpms_500_and_its_stderr_is_logged() {
    let fpm = PhpFpm::start(2);
    let host = "fatal.test";
    let (_files, d) = start(&[php_entry(host, fpm.addr)]).await;
    let reply = common::get(&d, host, "/fatal.php").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
    let line = common::logs::wait_line(
        &[
            "FastCGI sent in stderr",
            "undefined_function_for_dockside_test",
            host,
            &fpm.addr.to_string(),
        ],
        WAIT,
    )
    .await;
    assert!(line.contains("WARN"), "{line}");
    // A missing script is php-fpm's own 404.
    let reply = common::get(&d, host, "/missing.php").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
}

#[tokio::test]
async fn a_script_slower_than_proxy_read_timeout_is_504_and_a_dead_backend_502() {
    let fpm = PhpFpm::start(2);
    let slow = php_entry("slow.test", fpm.addr).set("PROXY_READ_TIMEOUT", "500ms");
    let down = php_entry("down.test", common::dead_addr());
    let (_files, d) = start(&[slow, down]).await;
    let reply = common::get(&d, "slow.test", "/slow.php?ms=0").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = common::get(&d, "slow.test", "/slow.php?ms=3000").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{reply:?}");
    let reply = common::get(&d, "down.test", "/env.php").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_disabled_opens_one_per_request() {
    let fpm = PhpFpm::start(3);
    let kept = php_entry("kept.test", fpm.addr);
    let closed = php_entry("closed.test", fpm.addr).set(
        "\"com.github.nginx-proxy.nginx-proxy.keepalive\"",
        "disabled",
    );
    let (_files, d) = start(&[kept, closed]).await;
    for (host, reuse) in [("kept.test", true), ("closed.test", false)] {
        let before = fpm.connection_ports();
        // One client connection, so every request meets the same dockside worker (each worker
        // keeps its own FastCGI connections).
        let client = common::client();
        for _ in 0..10 {
            let req = request(&d, host, Method::GET, "/env.php")
                .body(empty_body())
                .unwrap();
            let resp = tokio::time::timeout(WAIT, client.request(req))
                .await
                .expect("response in time")
                .expect("response");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.into_body().collect().await.expect("body");
        }
        let opened = fpm.connection_ports().difference(&before).count();
        if reuse {
            assert!(opened <= 1, "{host}: {opened} connections for 10 requests");
        } else {
            assert!(opened >= 10, "{host}: {opened} connections for 10 requests");
        }
    }
}

#[tokio::test]
async fn a_post_whose_php_child_dies_on_a_reused_connection_runs_once() {
    // One child, one client connection (one dockside worker): the POST goes out on the
    // connection the GET left in the pool, and its child dies (SIGKILL) before answering.
    let fpm = PhpFpm::start(1);
    let (_files, d) = start(&[php_entry(HOST, fpm.addr)]).await;
    let client = common::client();
    let req = request(&d, HOST, Method::GET, "/env.php")
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("response in time")
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().collect().await.expect("body");
    let runs = fpm.scratch().join("runs");
    let path = format!("/die.php?runs={}", runs.display());
    let req = request(&d, HOST, Method::POST, &path)
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("response in time")
        .expect("response");
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    // Sent once: not again on a new connection (nginx sends no POST twice either).
    let ran = std::fs::read_to_string(&runs).unwrap_or_default();
    assert_eq!(ran.lines().count(), 1, "{ran:?}\n{}", common::logs::text());
}

#[test]
fn check_shows_the_protocol_and_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        r#"
[[site]]
VIRTUAL_HOST = "php.example.com"
VIRTUAL_PROTO = "fastcgi"
VIRTUAL_ROOT = "/srv/app/public"
backends = ["127.0.0.1:9000"]

[[site]]
VIRTUAL_HOST = "default-root.example.com"
VIRTUAL_PROTO = "fastcgi"
backends = ["127.0.0.1:9001"]

[[site]]
VIRTUAL_HOST = "bad-root.example.com"
VIRTUAL_PROTO = "fastcgi"
VIRTUAL_ROOT = "relative/dir"
backends = ["127.0.0.1:9002"]
"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args(["check", "--docker-host", "off", "--routes"])
        .arg(&routes)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "/  fastcgi  VIRTUAL_ROOT=/srv/app/public",
        "/  fastcgi  VIRTUAL_ROOT=/var/www/public",
        "VIRTUAL_ROOT=\"relative/dir\" is not an absolute path",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}
