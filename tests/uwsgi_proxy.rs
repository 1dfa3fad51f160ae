//! `VIRTUAL_PROTO=uwsgi` end to end: dockside in-process (HTTP, HTTPS, h2, h2c) in front of a
//! real uWSGI 2.0 running `tests/apps/uwsgi_app.py`, driven by curl and a hyper client.

mod common;

use std::time::{Duration, Instant};

use common::uwsgi::Uwsgi;
use common::uwsgi::bodies::Pattern;
use common::uwsgi::proxy::{HOST, Via, curl, curl_json, start, uwsgi_location, uwsgi_site};
use common::{Dockside, WAIT, empty_body, full_body, peak_rss_kib};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

/// Dockside routing `HOST` to `server`: `/prefix/` → `/inner/` (VIRTUAL_PATH + VIRTUAL_DEST) and `/`.
async fn proxied(server: &Uwsgi, trust: bool) -> Dockside {
    let d = start(trust).await;
    d.publish(vec![uwsgi_site(
        HOST,
        vec![
            uwsgi_location("/", "", &server.addr),
            uwsgi_location("/prefix/", "/inner/", &server.addr),
        ],
    )])
    .await;
    d
}

/// A hyper request to `HOST` through dockside's plain HTTP listener.
fn request(d: &Dockside, method: Method, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(d.url(path))
        .header("host", format!("{HOST}:{}", d.addr.port()))
}

/// Like `common::send` for a long upload: the caller bounds the whole exchange.
async fn send_long(builder: http::request::Builder, body: common::TestBody) -> common::Reply {
    let resp = common::client()
        .request(builder.body(body).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    common::Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn every_var_for_http_https_h2_and_h2c_clients() {
    let server = Uwsgi::tcp();
    for trust in [true, false] {
        let d = proxied(&server, trust).await;
        let https_port = d.running.https_addr.unwrap().port();
        for via in [Via::Http1, Via::H2Tls, Via::H2c] {
            let out = curl(
                &d,
                via,
                "/prefix/a%20b?x=1&y=2",
                &[
                    "--data-binary",
                    "hello",
                    "-H",
                    "content-type: text/plain",
                    "-H",
                    "x-forwarded-for: 1.2.3.4",
                    "-H",
                    "x-forwarded-proto: https",
                    "-H",
                    "x-forwarded-port: 444",
                    "-H",
                    "x-forwarded-host: outer.test",
                    "-H",
                    "x_spoofed: 1",
                    "-H",
                    "proxy: http://evil.test",
                ],
            )
            .await;
            let env = curl_json(&out);
            let (scheme, port, protocol) = match via {
                Via::Http1 => ("http", d.addr.port(), "HTTP/1.1"),
                Via::H2Tls => ("https", https_port, "HTTP/2.0"),
                Via::H2c => ("http", d.addr.port(), "HTTP/2.0"),
            };
            let port = port.to_string();
            let host = format!("{HOST}:{port}");
            let mut want = vec![
                ("QUERY_STRING", "x=1&y=2"),
                ("REQUEST_METHOD", "POST"),
                ("CONTENT_TYPE", "text/plain"),
                ("CONTENT_LENGTH", "5"),
                ("REQUEST_URI", "/prefix/a%20b?x=1&y=2"),
                ("PATH_INFO", "/inner/a b"),
                ("DOCUMENT_ROOT", "/etc/nginx/html"),
                ("SERVER_PROTOCOL", protocol),
                ("REQUEST_SCHEME", scheme),
                ("UWSGI_SCHEME", scheme),
                ("REMOTE_ADDR", "127.0.0.1"),
                ("SERVER_PORT", &port),
                ("SERVER_NAME", HOST),
                ("HTTP_HOST", &host),
                ("HTTP_X_REAL_IP", "127.0.0.1"),
                ("HTTP_X_ORIGINAL_URI", "/prefix/a%20b?x=1&y=2"),
            ];
            // uWSGI lets HTTP_X_FORWARDED_PROTO (sent after UWSGI_SCHEME) set wsgi.url_scheme.
            if trust {
                want.extend([
                    ("wsgi.url_scheme", "https"),
                    ("HTTP_X_FORWARDED_FOR", "1.2.3.4, 127.0.0.1"),
                    ("HTTP_X_FORWARDED_PROTO", "https"),
                    ("HTTP_X_FORWARDED_PORT", "444"),
                    ("HTTP_X_FORWARDED_HOST", "outer.test"),
                    ("HTTP_X_FORWARDED_SSL", "on"),
                ]);
            } else {
                let ssl = if scheme == "https" { "on" } else { "off" };
                want.extend([
                    ("wsgi.url_scheme", scheme),
                    ("HTTP_X_FORWARDED_FOR", "127.0.0.1"),
                    ("HTTP_X_FORWARDED_PROTO", scheme),
                    ("HTTP_X_FORWARDED_PORT", &port),
                    ("HTTP_X_FORWARDED_HOST", HOST),
                    ("HTTP_X_FORWARDED_SSL", ssl),
                ]);
            }
            for (k, v) in want {
                assert_eq!(env[k], v, "{k} via {via:?} trust={trust}: {env:#}");
            }
            assert_eq!(env["HTTPS"].as_str(), (scheme == "https").then_some("on"));
            let remote: u16 = env["REMOTE_PORT"].as_str().unwrap().parse().unwrap();
            assert!(remote > 0 && remote.to_string() != port, "{env:#}");
            for absent in ["HTTP_X_SPOOFED", "HTTP_PROXY", "HTTP_CONNECTION", "HTTP_TE"] {
                assert!(env.get(absent).is_none(), "{absent} via {via:?}: {env:#}");
            }
        }
        // The hyper client, plain GET without a body: empty CONTENT_LENGTH like nginx.
        let reply = common::send(&d, request(&d, Method::GET, "/env?q=%41"), empty_body()).await;
        let env = reply.json();
        assert_eq!(env["CONTENT_LENGTH"], "");
        assert_eq!(env["QUERY_STRING"], "q=%41");
        assert_eq!(env["PATH_INFO"], "/env");
        assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    }
}

#[tokio::test]
async fn gigabyte_upload_with_length_and_a_chunked_upload_are_hashed_by_the_app() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let size = 1u64 << 30;
    let before = peak_rss_kib();
    let started = Instant::now();
    let reply = tokio::time::timeout(
        Duration::from_secs(60),
        send_long(
            request(&d, Method::POST, "/upload").header("content-length", size.to_string()),
            Pattern::new(size, true).boxed(),
        ),
    )
    .await
    .expect("1 GiB upload within 60 s");
    let elapsed = started.elapsed();
    let got = reply.json();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(got["length"], size);
    assert_eq!(got["content_length"], size.to_string());
    assert_eq!(got["sha256"], Pattern::new(size, true).sha256_hex());
    let after = peak_rss_kib();
    eprintln!("1 GiB through dockside in {elapsed:?}; VmHWM {before} → {after} KiB");
    assert!(
        after < 256 * 1024,
        "VmHWM {after} KiB: the upload was buffered"
    );

    // Chunked (unknown length): spooled by dockside, sent with its CONTENT_LENGTH. Past the
    // 1 MiB default spool cap, so the site raises it with CLIENT_MAX_BODY_SIZE.
    let mut site = uwsgi_site(HOST, vec![uwsgi_location("/", "", &server.addr)]);
    site.client_max_body_size = Some(4 << 20);
    d.publish(vec![site]).await;
    let size = 3 * 1024 * 1024 + 5;
    let reply = common::send(
        &d,
        request(&d, Method::POST, "/upload").header("transfer-encoding", "chunked"),
        Pattern::new(size, false).boxed(),
    )
    .await;
    let got = reply.json();
    assert_eq!(got["length"], size);
    assert_eq!(got["content_length"], size.to_string());
    assert_eq!(got["sha256"], Pattern::new(size, false).sha256_hex());
}

#[tokio::test]
async fn streamed_generator_reaches_the_client_before_the_app_finishes() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let started = Instant::now();
    let req = request(&d, Method::GET, "/stream?n=3&delay_ms=1500")
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, common::client().request(req))
        .await
        .unwrap()
        .unwrap();
    let mut body = resp.into_body();
    let first = tokio::time::timeout(WAIT, body.frame()).await.unwrap();
    let first = first.unwrap().unwrap().into_data().unwrap();
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"line 0\n");
    assert!(
        first_at < Duration::from_millis(1500),
        "first bytes after {first_at:?}"
    );
    let rest = tokio::time::timeout(WAIT, body.collect()).await.unwrap();
    assert_eq!(&rest.unwrap().to_bytes()[..], b"line 1\nline 2\n");
    assert!(started.elapsed() >= Duration::from_millis(3000));
}

#[tokio::test]
async fn headers_up_to_the_uwsgi_buffer_pass_and_beyond_it_are_a_clean_502() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let fits = "a".repeat(30_000);
    let out = curl(&d, Via::Http1, "/env", &["-H", &format!("x-big: {fits}")]).await;
    assert_eq!(curl_json(&out)["HTTP_X_BIG"], fits.as_str());
    let over = "b".repeat(40_000);
    for via in [Via::Http1, Via::H2Tls] {
        let out = curl(
            &d,
            via,
            "/env",
            &[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                &format!("x-big: {over}"),
            ],
        )
        .await;
        assert_eq!(String::from_utf8_lossy(&out.stdout), "502", "{via:?}");
    }
    // Still healthy: the backend was not marked down and the next request answers.
    let out = curl(&d, Via::Http1, "/env", &[]).await;
    assert_eq!(curl_json(&out)["REQUEST_METHOD"], "GET");
}

#[tokio::test]
async fn an_app_crash_mid_response_aborts_the_client_connection() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    for via in [Via::Http1, Via::H2Tls, Via::H2c] {
        let out = curl(
            &d,
            via,
            "/crash",
            &["-o", "/dev/null", "-w", "%{http_code} %{size_download}"],
        )
        .await;
        let seen = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success(),
            "{via:?}: curl saw a clean response ({seen}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(seen.starts_with("200 "), "{via:?}: {seen}");
    }
    // uWSGI's master respawns the worker; the site keeps answering.
    let out = curl(&d, Via::Http1, "/env", &[]).await;
    assert_eq!(curl_json(&out)["REQUEST_METHOD"], "GET");
}

#[tokio::test]
async fn head_204_304_and_repeated_set_cookie() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let head = common::send(&d, request(&d, Method::HEAD, "/env"), empty_body()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.body, "");
    for code in [204u16, 304] {
        let reply = common::send(
            &d,
            request(&d, Method::GET, &format!("/status/{code}")),
            empty_body(),
        )
        .await;
        assert_eq!(reply.status.as_u16(), code);
        assert_eq!(reply.body, "", "{code} must have no body");
    }
    let out = curl(&d, Via::H2Tls, "/status/204", &["-i"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/2 204"));

    let cookies = common::send(&d, request(&d, Method::GET, "/cookies"), empty_body()).await;
    let set: Vec<_> = cookies.headers.get_all("set-cookie").iter().collect();
    assert_eq!(set, ["a=1; Path=/", "b=2"]);
    assert_eq!(cookies.body, "ok");
}

#[tokio::test]
async fn keep_alive_client_reuses_its_connection_across_uwsgi_requests() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let tcp = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut ports = Vec::new();
    for i in 0..5 {
        // Mix bodies: a GET, a POST with a length, a streamed response read to its end.
        let (method, path, body) = match i % 3 {
            0 => (Method::GET, "/env".to_owned(), empty_body()),
            1 => (Method::POST, "/env".to_owned(), full_body("12345")),
            _ => (
                Method::GET,
                "/stream?n=2&delay_ms=10".to_owned(),
                empty_body(),
            ),
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", HOST)
            .body(body)
            .unwrap();
        sender.ready().await.unwrap();
        let resp = tokio::time::timeout(WAIT, sender.send_request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        if i % 3 != 2 {
            let env: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            ports.push(env["REMOTE_PORT"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(&bytes[..], b"line 0\nline 1\n");
        }
    }
    assert!(ports.windows(2).all(|w| w[0] == w[1]), "{ports:?}");
}

#[tokio::test]
async fn client_max_body_size_is_413_for_declared_and_chunked_bodies() {
    let server = Uwsgi::tcp();
    let d = start(true).await;
    let mut site = uwsgi_site(HOST, vec![uwsgi_location("/", "", &server.addr)]);
    site.client_max_body_size = Some(1000);
    d.publish(vec![site]).await;
    let fits = common::send(
        &d,
        request(&d, Method::POST, "/upload"),
        full_body(vec![1u8; 1000]),
    )
    .await;
    assert_eq!(fits.json()["length"], 1000);
    let declared = common::send(
        &d,
        request(&d, Method::POST, "/upload"),
        full_body(vec![1u8; 1001]),
    )
    .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    let chunked = common::send(
        &d,
        request(&d, Method::POST, "/upload").header("transfer-encoding", "chunked"),
        Pattern::new(5000, false).boxed(),
    )
    .await;
    assert_eq!(chunked.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_chunked_upload_past_the_default_spool_cap_is_413() {
    let server = Uwsgi::tcp();
    let d = proxied(&server, true).await;
    let cap = 1 << 20; // DOCKSIDE_UWSGI_SPOOL_MAX's default, nginx's client_max_body_size
    let chunked = |size: u64| {
        common::send(
            &d,
            request(&d, Method::POST, "/upload").header("transfer-encoding", "chunked"),
            Pattern::new(size, false).boxed(),
        )
    };
    let over = chunked(cap + 1).await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    let fits = chunked(cap).await;
    assert_eq!(fits.status, StatusCode::OK);
    assert_eq!(fits.json()["length"], cap);
}

#[tokio::test]
async fn a_backend_that_is_down_is_502_and_other_sites_are_unaffected() {
    let server = Uwsgi::tcp();
    let d = start(true).await;
    let dead = dockside::model::BackendAddr::Tcp(common::dead_addr());
    d.publish(vec![
        uwsgi_site(HOST, vec![uwsgi_location("/", "", &server.addr)]),
        uwsgi_site("down.test", vec![uwsgi_location("/", "", &dead)]),
    ])
    .await;
    for _ in 0..2 {
        let down = common::get(&d, "down.test", "/env").await;
        assert_eq!(down.status, StatusCode::BAD_GATEWAY);
        let up = common::get(&d, HOST, "/env").await;
        assert_eq!(up.json()["SERVER_NAME"], HOST);
    }
    // A unix-socket uWSGI works the same way.
    let unix = Uwsgi::unix();
    d.publish(vec![uwsgi_site(
        "unix.test",
        vec![uwsgi_location("/", "", &unix.addr)],
    )])
    .await;
    let reply = common::get(&d, "unix.test", "/env").await;
    assert_eq!(reply.json()["SERVER_NAME"], "unix.test");
}
