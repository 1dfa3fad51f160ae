//! `upstream::uwsgi::forward` against a real uWSGI 2.0 running `tests/apps/uwsgi_app.py`: vars,
//! streamed and spooled uploads, streamed responses, limits, broken backends, unix sockets.

mod common;

use std::time::{Duration, Instant};

use common::peak_rss_kib;
use common::uwsgi::Uwsgi;
use common::uwsgi::bodies::{self, Pattern, collect, json};
use dockside::exchange::{ConnInfo, ProxyBody, ProxyError, RequestMeta, Scheme, empty, full};
use dockside::model::BackendAddr;
use dockside::upstream::uwsgi::{UwsgiBodyError, UwsgiOptions, forward};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;

fn meta(target: &str, scheme: Scheme) -> RequestMeta {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    RequestMeta {
        conn: std::sync::Arc::new(ConnInfo::new(
            "127.0.0.9:41234".parse().unwrap(),
            "127.0.0.1:8443".parse().unwrap(),
            scheme,
            None,
            None,
        )),
        host: "app.example.test".into(),
        request_uri: format!("/prefix{target}"),
        path: path.into(),
        query: query.into(),
        body_limit: None,
        timeouts: Default::default(),
    }
}

fn opts(server: &Uwsgi) -> UwsgiOptions {
    UwsgiOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(30),
        spool_memory: 1024 * 1024,
        spool_dir: server.scratch_dir(),
        spool_max: None,
        spool_budget: std::sync::Arc::new(tokio::sync::Semaphore::new(64 << 20)),
    }
}

fn request(method: Method, target: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(format!("/prefix{target}"))
        .header("host", "app.example.test:8443")
}

/// Forwards `req` to `server` with the default test options.
async fn send(
    server: &Uwsgi,
    req: Request<ProxyBody>,
    m: RequestMeta,
) -> Result<Response<ProxyBody>, ProxyError> {
    forward(req, &m, &server.addr, &opts(server)).await
}

async fn get(server: &Uwsgi, target: &str) -> Result<Response<ProxyBody>, ProxyError> {
    let req = request(Method::GET, target).body(empty()).unwrap();
    let m = meta(target, Scheme::Http);
    forward(req, &m, &server.addr, &opts(server)).await
}

#[tokio::test]
async fn every_var_reaches_the_app() {
    let server = Uwsgi::tcp();
    let target = "/a%20b?x=1&y=2";
    let req = request(Method::POST, target)
        .version(Version::HTTP_2)
        .header("content-type", "text/plain")
        .header("content-length", "5")
        .header("x-forwarded-for", "1.2.3.4, 127.0.0.9")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .header("accept", "text/html")
        .header("accept", "*/*")
        .header("x_spoofed", "1")
        .header("proxy", "http://evil.test")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .body(full("hello"))
        .unwrap();
    let m = meta(target, Scheme::Https);
    let resp = forward(req, &m, &server.addr, &opts(&server))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let env = json(resp).await;
    let want = [
        ("QUERY_STRING", "x=1&y=2"),
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "text/plain"),
        ("CONTENT_LENGTH", "5"),
        ("REQUEST_URI", "/prefix/a%20b?x=1&y=2"),
        ("PATH_INFO", "/a b"),
        ("DOCUMENT_ROOT", "/etc/nginx/html"),
        ("SERVER_PROTOCOL", "HTTP/2.0"),
        ("REQUEST_SCHEME", "https"),
        ("HTTPS", "on"),
        ("REMOTE_ADDR", "127.0.0.9"),
        ("REMOTE_PORT", "41234"),
        ("SERVER_PORT", "8443"),
        ("SERVER_NAME", "app.example.test"),
        ("UWSGI_SCHEME", "https"),
        ("wsgi.url_scheme", "https"),
        ("HTTP_HOST", "app.example.test:8443"),
        ("HTTP_X_FORWARDED_FOR", "1.2.3.4, 127.0.0.9"),
        ("HTTP_COOKIE", "a=1; b=2"),
        ("HTTP_ACCEPT", "text/html, */*"),
    ];
    for (k, v) in want {
        assert_eq!(env[k], v, "{k} in {env:#}");
    }
    for absent in [
        "HTTP_X_SPOOFED",
        "HTTP_PROXY",
        "HTTP_CONNECTION",
        "HTTP_X_HOP",
    ] {
        assert!(env.get(absent).is_none(), "{absent} in {env:#}");
    }
    assert!(env.get("HTTP_CONTENT_LENGTH").is_none());
}

#[tokio::test]
async fn plain_http_get_has_no_https_and_an_empty_length() {
    let server = Uwsgi::tcp();
    let env = json(get(&server, "/env").await.unwrap()).await;
    assert_eq!(env["REQUEST_SCHEME"], "http");
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(env["CONTENT_LENGTH"], "");
    assert_eq!(env["QUERY_STRING"], "");
    assert!(env.get("HTTPS").is_none(), "{env:#}");
}

#[tokio::test]
async fn gigabyte_upload_streams_with_bounded_memory() {
    let server = Uwsgi::tcp();
    let size = 1u64 << 30;
    let req = request(Method::POST, "/upload")
        .header("content-length", size.to_string())
        .body(Pattern::new(size, true).boxed())
        .unwrap();
    let started = Instant::now();
    let resp = send(&server, req, meta("/upload", Scheme::Http));
    let got = json(resp.await.unwrap()).await;
    let elapsed = started.elapsed();
    assert_eq!(got["length"], size);
    assert_eq!(got["content_length"], size.to_string());
    assert_eq!(got["sha256"], Pattern::new(size, true).sha256_hex());
    let hwm = peak_rss_kib();
    eprintln!("1 GiB upload in {elapsed:?}; test process VmHWM {hwm} KiB");
    assert!(hwm < 256 * 1024, "VmHWM {hwm} KiB: the upload was buffered");
}

#[tokio::test]
async fn bodies_of_unknown_length_are_spooled_with_their_length() {
    let server = Uwsgi::tcp();
    // Under the memory bound, then over it (spilled to a temp file).
    for size in [300_000u64, 5 * 1024 * 1024 + 17] {
        let req = request(Method::POST, "/upload")
            .header("transfer-encoding", "chunked")
            .body(Pattern::new(size, false).boxed())
            .unwrap();
        let m = meta("/upload", Scheme::Http);
        let got = json(
            forward(req, &m, &server.addr, &opts(&server))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got["length"], size);
        assert_eq!(got["content_length"], size.to_string());
        assert_eq!(got["sha256"], Pattern::new(size, false).sha256_hex());
    }
    // A chunked body that turns out empty is sent as no body, as nginx does.
    let req = request(Method::POST, "/upload")
        .body(Pattern::new(0, false).boxed())
        .unwrap();
    let got = json(
        send(&server, req, meta("/upload", Scheme::Http))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (got["length"].as_u64(), got["content_length"].as_str()),
        (Some(0), Some(""))
    );
    let leftovers = std::fs::read_dir(server.scratch_dir()).unwrap().count();
    assert_eq!(
        leftovers, 1,
        "only uwsgi.log may remain: spool files are unlinked"
    );
}

#[tokio::test]
async fn body_limit_gives_413_for_declared_and_spooled_bodies() {
    let server = Uwsgi::tcp();
    for declared in [true, false] {
        let mut req = request(Method::POST, "/upload");
        if declared {
            req = req.header("content-length", "2000000");
        }
        let req = req.body(Pattern::new(2_000_000, declared).boxed()).unwrap();
        let mut m = meta("/upload", Scheme::Http);
        m.body_limit = Some(1_000_000);
        let err = forward(req, &m, &server.addr, &opts(&server))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProxyError::BodyTooLarge { limit: 1_000_000 }),
            "{err}"
        );
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn streamed_response_reaches_the_client_before_the_app_finishes() {
    let server = Uwsgi::tcp();
    let started = Instant::now();
    let resp = get(&server, "/stream?n=4&delay_ms=400").await.unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first_at = started.elapsed();
    assert!(first.starts_with(b"line 0"), "{first:?}");
    let rest = body.collect().await.unwrap().to_bytes();
    let done_at = started.elapsed();
    eprintln!("stream: first bytes after {first_at:?}, end after {done_at:?}");
    assert!(rest.ends_with(b"line 3\n"), "{rest:?}");
    assert!(
        first_at < Duration::from_millis(600),
        "first bytes after {first_at:?}"
    );
    assert!(
        done_at >= Duration::from_millis(1200),
        "ended after {done_at:?}"
    );
}

#[tokio::test]
async fn large_responses_stream_with_and_without_length() {
    let server = Uwsgi::tcp();
    for target in ["/large?mib=64", "/large?mib=64&nolen=1"] {
        let resp = get(&server, target).await.unwrap();
        let has_len = resp.headers().contains_key("content-length");
        assert_eq!(has_len, !target.contains("nolen"), "{target}");
        let (frames, total) = bodies::count_frames(resp.into_body()).await.unwrap();
        assert_eq!(total, 64 << 20, "{target}");
        assert!(frames > 64, "{target}: {frames} frames means buffering");
    }
}

#[tokio::test]
async fn request_headers_up_to_uwsgi_buffer_size_then_clean_errors() {
    let server = Uwsgi::tcp();
    let with_header = |len: usize| {
        let req = request(Method::GET, "/env")
            .header("x-big", "b".repeat(len))
            .body(empty())
            .unwrap();
        send(&server, req, meta("/env", Scheme::Http))
    };
    let env = json(with_header(30_000).await.unwrap()).await;
    assert_eq!(env["HTTP_X_BIG"].as_str().unwrap().len(), 30_000);
    // Over uWSGI's --buffer-size 32768: uWSGI drops the connection → 502.
    let err = with_header(40_000).await.unwrap_err();
    assert!(matches!(err, ProxyError::Upstream { .. }), "{err}");
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
    // Over the protocol's 65535: refused before connecting, never truncated → 431.
    let err = with_header(70_000).await.unwrap_err();
    assert!(matches!(err, ProxyError::HeadersTooLarge(_)), "{err}");
    let env = json(get(&server, "/env").await.unwrap()).await;
    assert_eq!(env["REQUEST_METHOD"], "GET");
}

#[tokio::test]
async fn crash_mid_response_is_a_body_error_not_a_short_body() {
    let server = Uwsgi::tcp();
    let resp = get(&server, "/crash").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let err = resp.into_body().collect().await.unwrap_err();
    let err = err
        .downcast_ref::<UwsgiBodyError>()
        .expect("a uwsgi body error");
    assert!(
        matches!(err, UwsgiBodyError::Truncated { missing: 999_000 }),
        "{err}"
    );
    let env = json(get(&server, "/env").await.unwrap()).await;
    assert_eq!(env["PATH_INFO"], "/env", "the next request works");
}

#[tokio::test]
async fn head_204_and_304_have_no_body() {
    let server = Uwsgi::tcp();
    let req = request(Method::HEAD, "/env").body(empty()).unwrap();
    let resp = send(&server, req, meta("/env", Scheme::Http));
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(http_body::Body::is_end_stream(resp.body()));
    assert_eq!(collect(resp).await, "");
    for code in [204u16, 304] {
        let resp = get(&server, &format!("/status/{code}")).await.unwrap();
        assert_eq!(resp.status().as_u16(), code);
        assert_eq!(collect(resp).await, "", "{code}");
    }
    let resp = get(&server, "/status/404").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(collect(resp).await, "must not be forwarded");
}

#[tokio::test]
async fn repeated_set_cookie_is_preserved() {
    let server = Uwsgi::tcp();
    let resp = get(&server, "/cookies").await.unwrap();
    let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
    assert_eq!(collect(resp).await, "ok");
}

#[tokio::test]
async fn unix_socket_backend() {
    let server = Uwsgi::unix();
    assert!(matches!(server.addr, BackendAddr::Unix(_)));
    let env = json(get(&server, "/env?via=unix").await.unwrap()).await;
    assert_eq!(env["QUERY_STRING"], "via=unix");
}

#[tokio::test]
async fn refused_connect_is_502_and_a_slow_app_is_504() {
    let server = Uwsgi::tcp();
    let dead = BackendAddr::Tcp(common::dead_addr());
    let req = request(Method::GET, "/env").body(empty()).unwrap();
    let (m, o) = (meta("/env", Scheme::Http), opts(&server));
    let err = forward(req, &m, &dead, &o).await.unwrap_err();
    assert!(matches!(err, ProxyError::Connect { .. }), "{err}");
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY);

    let mut o = opts(&server);
    o.read_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let req = request(Method::GET, "/slow").body(empty()).unwrap();
    let m = meta("/slow?ms=3000", Scheme::Http);
    let err = forward(req, &m, &server.addr, &o).await.unwrap_err();
    assert!(matches!(err, ProxyError::Timeout { secs: 1, .. }), "{err}");
    assert_eq!(err.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(2500));
}
