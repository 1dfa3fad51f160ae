//! nginx-proxy's own files, unchanged, through the whole proxy (issue 14): `vhost.d/` with
//! nginx-proxy's precedence, `htpasswd/` per host and per path, proxy-wide `conf.d/*.conf`,
//! `html/errors/` pages, edits while traffic runs, and what `dockside check` says about them.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::load::{Counts, Load};
use common::policy::*;
use common::{TestBackend, dead_addr, empty_body, full_body, get, send};
use http::{Request, StatusCode};

/// The hyper reply's values of `name`, in order.
fn values(r: &common::Reply, name: &str) -> Vec<String> {
    r.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("<bin>").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_files_per_host_and_per_path() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    // As `htpasswd -nbB hostuser host-pw` / `htpasswd -nbm pathuser path-pw` would write them.
    files.write(
        "htpasswd/hp.test",
        &format!("hostuser:{}\n", hash(HashKind::Bcrypt2y, "host-pw")),
    );
    files.write(
        &format!("htpasswd/hp.test_{}", sha1_hex("/admin/")),
        &format!(
            "# a comment line\npathuser:{}\n\nother:{}\n",
            hash(HashKind::Apr1, "path-pw"),
            hash(HashKind::Sha512Crypt, "other-pw")
        ),
    );
    files.write(
        "html/errors/hp.test/401.html",
        "<p>hp.test: who are you?</p>\n",
    );
    files.write(
        &format!("htpasswd/only.test_{}", sha1_hex("/private/")),
        &format!("u:{}\n", hash(HashKind::Sha1, "pw")),
    );
    let d = start(
        &files,
        &[
            entry("hp.test", b.addr),
            entry("hp.test", b.addr).set("VIRTUAL_PATH", "/admin/"),
            entry("only.test", b.addr),
            entry("only.test", b.addr).set("VIRTUAL_PATH", "/private/"),
        ],
    )
    .await;
    let auth = |u: &str, p: &str| basic(u, p);

    // Host file on `/`, with the site's 401 page.
    let r = get(&d, "hp.test", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, "<p>hp.test: who are you?</p>\n");
    assert_eq!(
        values(&r, "www-authenticate"),
        [r#"Basic realm="Restricted hp.test""#]
    );
    let ok = get_with(
        &d,
        "hp.test",
        "/",
        &[("authorization", &auth("hostuser", "host-pw"))],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    // The path file wins on its path: its realm, its users only.
    let r = get(&d, "hp.test", "/admin/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        values(&r, "www-authenticate"),
        [r#"Basic realm="Restricted hp.test/admin/""#]
    );
    for (u, p, want) in [
        ("pathuser", "path-pw", 200),
        ("other", "other-pw", 200),
        ("hostuser", "host-pw", 401),
        ("pathuser", "host-pw", 401),
    ] {
        let r = get_with(&d, "hp.test", "/admin/", &[("authorization", &auth(u, p))]).await;
        assert_eq!(r.status.as_u16(), want, "{u}:{p} on /admin/");
    }
    // curl -u against the file, as users test their setup.
    let r = curl_get(&d, "hp.test", "/admin/x", &["-u", "pathuser:path-pw"]);
    assert_eq!(r.status, 200);
    // A path file alone protects that path only.
    assert_eq!(get(&d, "only.test", "/").await.status, StatusCode::OK);
    let r = get(&d, "only.test", "/private/").await;
    assert_eq!(
        values(&r, "www-authenticate"),
        [r#"Basic realm="Restricted only.test/private/""#]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhost_d_client_max_body_size_answers_413_with_the_site_page() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write("vhost.d/up.test", "client_max_body_size 1k;\n");
    files.write(
        "html/errors/up.test/413.html",
        "<p>too big for up.test</p>\n",
    );
    let d = start(
        &files,
        &[entry("up.test", b.addr), entry("free.test", b.addr)],
    )
    .await;
    let post = |host: &'static str, n: usize| {
        send(
            &d,
            Request::post(d.url("/upload")).header("host", host),
            full_body(vec![b'x'; n]),
        )
    };
    let r = post("up.test", 2000).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body, "<p>too big for up.test</p>\n");
    assert!(
        values(&r, "content-type")
            .first()
            .is_some_and(|t| t.starts_with("text/html")),
        "{r:?}"
    );
    let r = post("up.test", 1000).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["received"], 1000);
    // curl's upload of 2 KB, chunked (no length known in advance).
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'y'; 2048]).unwrap();
    let data = format!("@{}", big.display());
    let r = curl_get(
        &d,
        "up.test",
        "/upload",
        &["-H", "Transfer-Encoding: chunked", "--data-binary", &data],
    );
    assert_eq!(r.status, 413);
    // Other sites keep the default limit.
    assert_eq!(post("free.test", 100_000).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhost_d_headers_always_or_on_success_and_request_headers() {
    let content = ContentBackend::start().await;
    let echo = TestBackend::start("echo").await;
    let files = Files::new();
    let headers = "# response headers\n\
                   add_header X-Always yes always;\n\
                   add_header X-Success \"yes, on success\";\n\
                   more_set_headers \"X-More: set\";\n\
                   proxy_hide_header X-Powered-By;\n";
    files.write("vhost.d/hd.test", headers);
    files.write("vhost.d/dead.test", headers);
    files.write(
        "vhost.d/hq.test",
        "proxy_set_header X-From-File file-value;\nproxy_set_header User-Agent \"\";\n",
    );
    let d = start(
        &files,
        &[
            entry("hd.test", content.addr),
            entry("dead.test", dead_addr()),
            entry("hq.test", echo.addr),
        ],
    )
    .await;
    let r = curl_get(&d, "hd.test", "/headers", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-always"), Some("yes"));
    assert_eq!(r.header("x-success"), Some("yes, on success"));
    assert_eq!(r.header("x-more"), Some("set"));
    assert_eq!(r.header("x-powered-by"), None, "proxy_hide_header");
    // The backend's 404: only `always` and more_set_headers.
    let r = curl_get(&d, "hd.test", "/missing", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-always"), Some("yes"));
    assert_eq!(
        r.header("x-success"),
        None,
        "add_header without always on a 404"
    );
    assert_eq!(r.header("x-more"), Some("set"));
    // dockside's own 502.
    let r = curl_get(&d, "dead.test", "/", &[]);
    assert_eq!(r.status, 502);
    assert_eq!(r.header("x-always"), Some("yes"));
    assert_eq!(r.header("x-success"), None);
    // proxy_set_header on the request to the backend.
    let r = get_with(&d, "hq.test", "/", &[("user-agent", "agent/1")]).await;
    let seen = &r.json()["headers"];
    assert_eq!(seen["x-from-file"], "file-value", "{seen}");
    assert!(
        seen.get("user-agent").is_none(),
        "proxy_set_header X \"\" removes: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_418_from_files_and_settings_override_files() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write("vhost.d/ret.test", "return 418;\n");
    files.write(
        "vhost.d/loc.test_location",
        "return 418 \"short and stout\";\n",
    );
    files.write("vhost.d/ovr.test", "return 418;\n");
    let d = start(
        &files,
        &[
            entry("ret.test", b.addr),
            entry("loc.test", b.addr),
            entry("ovr.test", b.addr).set("RETURN", "410 gone for good"),
        ],
    )
    .await;
    assert_eq!(get(&d, "ret.test", "/any").await.status.as_u16(), 418);
    let r = curl_get(&d, "loc.test", "/", &[]);
    assert_eq!(r.status, 418);
    assert_eq!(String::from_utf8_lossy(&r.body), "short and stout");
    let r = get(&d, "ovr.test", "/").await;
    assert_eq!(r.status, StatusCode::GONE, "the setting overrides the file");
    assert!(r.body.contains("gone for good"), "{r:?}");
    assert_eq!(b.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_files_path_over_host_over_default() {
    assert_eq!(sha1_hex("/"), "42099b4af021e53fd8fd4e056c2568d7c2e3ffa8");
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write(
        "vhost.d/default_location",
        "add_header X-Loc default always;\n",
    );
    files.write(
        "vhost.d/pr.test_location",
        "add_header X-Loc host always;\n",
    );
    files.write(
        &format!("vhost.d/pr.test_{}_location", sha1_hex("/api/")),
        "add_header X-Loc path always;\n",
    );
    // Server level: the host's file, else `default`.
    files.write(
        "vhost.d/default",
        "more_set_headers \"X-Server: default\";\n",
    );
    files.write("vhost.d/pr.test", "more_set_headers \"X-Server: pr\";\n");
    let d = start(
        &files,
        &[
            entry("pr.test", b.addr),
            entry("pr.test", b.addr).set("VIRTUAL_PATH", "/api/"),
            entry("other.test", b.addr),
        ],
    )
    .await;
    for (host, path, loc, server) in [
        ("pr.test", "/api/v1", "path", "pr"),
        ("pr.test", "/", "host", "pr"),
        ("other.test", "/", "default", "default"),
    ] {
        let r = get(&d, host, path).await;
        assert_eq!(r.status, StatusCode::OK, "{host}{path}");
        assert_eq!(
            values(&r, "x-loc"),
            [loc],
            "{host}{path}: only the first match applies"
        );
        assert_eq!(values(&r, "x-server"), [server], "{host}{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_override_replaces_the_location_and_its_htpasswd() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write(
        "htpasswd/lo.test",
        &format!("u:{}\n", hash(HashKind::Sha1, "pw")),
    );
    files.write(
        "vhost.d/lo.test_location",
        "add_header X-Loc host always;\n",
    );
    // nginx-proxy: `<host>_location_override` replaces the `/` location only.
    files.write(
        "vhost.d/lo.test_location_override",
        "add_header X-Loc override always;\n",
    );
    files.write(
        &format!("vhost.d/lo.test_{}_location_override", sha1_hex("/exact/")),
        "return 418;\n",
    );
    let d = start(
        &files,
        &[
            entry("lo.test", b.addr),
            entry("lo.test", b.addr).set("VIRTUAL_PATH", "/api/"),
            entry("lo.test", b.addr).set("VIRTUAL_PATH", "/exact/"),
        ],
    )
    .await;
    let r = get(&d, "lo.test", "/").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the override drops the htpasswd: {r:?}"
    );
    assert_eq!(values(&r, "x-loc"), ["override"]);
    let r = get(&d, "lo.test", "/api/").await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "other paths keep the host's htpasswd"
    );
    let r = get_with(
        &d,
        "lo.test",
        "/api/",
        &[("authorization", &basic("u", "pw"))],
    )
    .await;
    assert_eq!(values(&r, "x-loc"), ["host"]);
    assert_eq!(get(&d, "lo.test", "/exact/").await.status.as_u16(), 418);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conf_d_header_on_every_site_but_not_on_the_unknown_host() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write(
        "conf.d/edge.conf",
        "# proxy-wide\nadd_header X-Edge yes always;\n",
    );
    // nginx-proxy generates default.conf itself: never read as the user's.
    files.write(
        "conf.d/default.conf",
        "add_header X-Generated yes always;\n",
    );
    files.write("conf.d/notes.txt", "add_header X-Not-Conf yes always;\n");
    let d = start(
        &files,
        &[entry("e1.test", b.addr), entry("e2.test", dead_addr())],
    )
    .await;
    for (host, status) in [("e1.test", 200), ("e2.test", 502)] {
        let r = get(&d, host, "/").await;
        assert_eq!(r.status.as_u16(), status, "{host}");
        assert_eq!(values(&r, "x-edge"), ["yes"], "{host}");
        assert!(
            values(&r, "x-generated").is_empty(),
            "{host}: default.conf read"
        );
        assert!(
            values(&r, "x-not-conf").is_empty(),
            "{host}: a non-.conf file read"
        );
    }
    let r = get(&d, "unknown.test", "/").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        values(&r, "x-edge").is_empty(),
        "conf.d header on the unknown-host 503"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_50x_for_unknown_hosts_and_per_site_pages() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let page = "<!DOCTYPE html>\n<h1>We'll be right back</h1>\n";
    files.write("html/errors/50x.html", page);
    files.write("html/errors/ep.test/403.html", "<p>ep.test says no</p>\n");
    files.write(
        "html/errors/dead.test/502.html",
        "<p>dead.test backend down</p>\n",
    );
    files.write("vhost.d/ep.test", "deny all;\n");
    let d = start(
        &files,
        &[
            entry("ep.test", b.addr),
            entry("dead.test", dead_addr()),
            entry("plain-dead.test", dead_addr()),
        ],
    )
    .await;
    let r = curl_get(&d, "nobody.test", "/", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(String::from_utf8_lossy(&r.body), page);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{r:?}"
    );
    let r = get(&d, "ep.test", "/").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, "<p>ep.test says no</p>\n");
    let r = get(&d, "dead.test", "/").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.body, "<p>dead.test backend down</p>\n");
    // 50x.html belongs to the fallback server only (nginx-proxy): a known site's 502 keeps
    // dockside's own answer.
    let r = get(&d, "plain-dead.test", "/").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_ne!(r.body, page);
    assert_eq!(b.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhost_d_allow_deny_first_match_wins() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write("vhost.d/al1.test", "allow 127.0.0.1;\ndeny all;\n");
    files.write("vhost.d/al2.test", "deny 127.0.0.1;\nallow all;\n");
    files.write(
        "vhost.d/al3.test",
        "allow 10.0.0.0/8;\nallow fc00::/7;\ndeny all;\n",
    );
    let d = start(
        &files,
        &[
            entry("al1.test", b.addr),
            entry("al2.test", b.addr),
            entry("al3.test", b.addr),
        ],
    )
    .await;
    let one: IpAddr = [127, 0, 0, 1].into();
    let two: IpAddr = [127, 0, 0, 2].into();
    for (host, from, want) in [
        ("al1.test", one, 200),
        ("al1.test", two, 403),
        ("al2.test", one, 403),
        ("al2.test", two, 200),
        ("al3.test", one, 403),
    ] {
        let r = get_from(&d, from, host, "/", &[]).await;
        assert_eq!(r.status.as_u16(), want, "{host} from {from}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhost_d_gzip_on_with_types_and_min_length() {
    common::require_tool("curl", "curl");
    let content = ContentBackend::start().await;
    let files = Files::new();
    files.write(
        "vhost.d/gz.test",
        "gzip on;\ngzip_types application/json;\ngzip_min_length 1000;\n",
    );
    let d = start(
        &files,
        &[
            entry("gz.test", content.addr),
            entry("nogz.test", content.addr),
        ],
    )
    .await;
    let n = 50_000;
    let gz = ["--compressed", "-H", "Accept-Encoding: gzip"];
    let r = curl_get(&d, "gz.test", &format!("/body/json/{n}"), &gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"), "{r:?}");
    assert!(
        r.body == compressible(n),
        "gzip body does not decode to the original"
    );
    assert!((r.wire_bytes as usize) < n / 4);
    // text/html is always in gzip_types (nginx).
    let r = curl_get(&d, "gz.test", &format!("/body/html/{n}"), &gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = curl_get(&d, "gz.test", "/body/json/500", &gz);
    assert_eq!(r.header("content-encoding"), None, "below gzip_min_length");
    let r = curl_get(&d, "gz.test", &format!("/body/png/{n}"), &gz);
    assert_eq!(
        r.header("content-encoding"),
        None,
        "image/png is not in gzip_types"
    );
    // gzip on means gzip: a client that only takes br gets the body as it is.
    let r = curl_get(
        &d,
        "gz.test",
        &format!("/body/json/{n}"),
        &["--compressed", "-H", "Accept-Encoding: br"],
    );
    assert_eq!(r.header("content-encoding"), None);
    // Without the file: off, as nginx-proxy.
    let r = curl_get(&d, "nogz.test", &format!("/body/json/{n}"), &gz);
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conf_d_limit_req_zone_with_vhost_d_limit_req() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write(
        "conf.d/zones.conf",
        "limit_req_zone $binary_remote_addr zone=perip:10m rate=5r/s;\n",
    );
    files.write("vhost.d/lr.test", "limit_req zone=perip burst=2 nodelay;\n");
    files.write(
        "html/errors/lr.test/429.html",
        "<p>lr.test: slow down</p>\n",
    );
    let d = start(&files, &[entry("lr.test", b.addr)]).await;
    for i in 0..3 {
        assert_eq!(
            get(&d, "lr.test", "/").await.status,
            StatusCode::OK,
            "request {i}"
        );
    }
    let mut codes = Vec::new();
    for _ in 0..30 {
        let r = get(&d, "lr.test", "/").await;
        codes.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.body, "<p>lr.test: slow down</p>\n");
            assert!(!values(&r, "retry-after").is_empty(), "{r:?}");
            break;
        }
    }
    assert_eq!(
        codes.last(),
        Some(&429),
        "no 429 over the zone's rate: {codes:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(&d, "lr.test", "/").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "still limited after 3 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhost_d_read_timeout_answers_504_with_the_site_page() {
    let b = TestBackend::start("slow").await;
    let files = Files::new();
    files.write("vhost.d/to.test_location", "proxy_read_timeout 500ms;\n");
    files.write("html/errors/to.test/504.html", "<p>to.test timed out</p>\n");
    let d = start(
        &files,
        &[entry("to.test", b.addr), entry("patient.test", b.addr)],
    )
    .await;
    let r = get(&d, "to.test", "/sleep/3000").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.body, "<p>to.test timed out</p>\n");
    assert_eq!(
        get(&d, "patient.test", "/sleep/1000").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_directive_is_skipped_and_the_rest_applies() {
    common::logs::capture();
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write(
        "vhost.d/mix.test",
        "sub_filter 'http://old' 'https://new';\n\
         add_header X-Still applied always;\n\
         ssl_stapling on;\n\
         client_max_body_size 10;\n",
    );
    let d = start(&files, &[entry("mix.test", b.addr)]).await;
    let r = get(&d, "mix.test", "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(values(&r, "x-still"), ["applied"]);
    let r = send(
        &d,
        Request::post(d.url("/upload")).header("host", "mix.test"),
        full_body(vec![0u8; 100]),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the line after the unknown ones applies"
    );
    // Reported in the log with the file and the directive.
    common::logs::wait_line(&["mix.test", "sub_filter"], Duration::from_secs(2)).await;
    common::logs::wait_line(&["mix.test", "ssl_stapling"], Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_host_files_use_the_name_literally() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write("vhost.d/*.wild.test", "add_header X-Wild server always;\n");
    files.write(
        "vhost.d/*.wild.test_location",
        "add_header X-Wild-Loc location always;\n",
    );
    files.write(
        "htpasswd/*.wild.test",
        &format!("w:{}\n", hash(HashKind::Sha1, "pw")),
    );
    let d = start(&files, &[entry("*.wild.test", b.addr)]).await;
    let r = get(&d, "a.wild.test", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        values(&r, "www-authenticate"),
        [r#"Basic realm="Restricted *.wild.test""#]
    );
    let r = get_with(
        &d,
        "b.wild.test",
        "/",
        &[("authorization", &basic("w", "pw"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(values(&r, "x-wild"), ["server"]);
    assert_eq!(values(&r, "x-wild-loc"), ["location"]);
}

/// Waits (≤ `within`) until `host`'s answer carries `name: want`; returns how long it took.
async fn wait_header(
    d: &common::Dockside,
    host: &str,
    name: &str,
    want: &str,
    within: Duration,
) -> Duration {
    let since = Instant::now();
    loop {
        let r = get(d, host, "/").await;
        if values(&r, name) == [want] {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < within,
            "{host}: {name}: {want} not live within {within:?}; last {:?}",
            values(&r, name)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vhost_d_edit_under_load_is_live_within_2s_and_drops_nothing() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    files.write("vhost.d/ld.test", "add_header X-Rev one always;\n");
    let d = start(
        &files,
        &[entry("ld.test", b.addr), entry("probe.test", b.addr)],
    )
    .await;
    assert_eq!(values(&get(&d, "ld.test", "/").await, "x-rev"), ["one"]);

    let load = Load::start(8, d.url("/"), "ld.test");
    // The load is running before the edits.
    let warm = Instant::now();
    while b.hits() < 50 {
        assert!(
            warm.elapsed() < Duration::from_secs(5),
            "load did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for rev in ["two", "three", "four"] {
        files.write(
            "vhost.d/ld.test",
            &format!("add_header X-Rev {rev} always;\n"),
        );
        let took = wait_header(&d, "ld.test", "x-rev", rev, Duration::from_secs(2)).await;
        eprintln!("X-Rev: {rev} live after {took:?}");
    }
    // A file that does not parse keeps the last good version. A later edit to another file
    // shows the watcher has read the directory since.
    files.write("vhost.d/ld.test", "add_header \"X-Rev five always;\n");
    files.write("vhost.d/probe.test", "add_header X-Probe seen always;\n");
    wait_header(&d, "probe.test", "x-probe", "seen", Duration::from_secs(2)).await;
    assert_eq!(
        values(&get(&d, "ld.test", "/").await, "x-rev"),
        ["four"],
        "a broken file must keep the last good version"
    );
    // Removing the file removes its policy.
    std::fs::remove_file(files.path().join("vhost.d/ld.test")).unwrap();
    let since = Instant::now();
    while !values(&get(&d, "ld.test", "/").await, "x-rev").is_empty() {
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "removed file still applies"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let Counts { ok, failed } = load.stop().await;
    eprintln!("{ok} requests ok, {failed} failed during the edits");
    assert!(ok > 100, "the load actually ran ({ok} requests)");
    assert_eq!(failed, 0, "requests failed while vhost.d changed");
}

#[test]
fn check_names_policy_parts_their_origins_and_ignored_directives() {
    let files = Files::new();
    files.write(
        "vhost.d/a.test",
        "# server level\nclient_max_body_size 1k;\nadd_header X-Frame-Options DENY always;\nsub_filter 'a' 'b';\n",
    );
    files.write(
        "htpasswd/a.test",
        &format!("u:{}\n", hash(HashKind::Apr1, "pw")),
    );
    files.write(
        "routes.toml",
        &routes_toml(&[
            entry("a.test", "127.0.0.1:9".parse().unwrap())
                .set("IP_ALLOW", "10.0.0.0/8")
                .set("RATE_LIMIT", "10r/s burst=5"),
            // Refused as a whole (a plain-text password): named, never shown.
            entry("b.test", "127.0.0.1:9".parse().unwrap()).set(
                "BASIC_AUTH",
                "alice:$apr1$abc$0123456789abcdefghijkl, bob:plain-pass-word",
            ),
        ]),
    );
    let dirs = files.dirs();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .arg("check")
        .arg("--docker-host")
        .arg("off")
        .arg("--routes")
        .arg(files.routes_file())
        .arg("--vhost-dir")
        .arg(&dirs.vhost_d)
        .arg("--htpasswd-dir")
        .arg(&dirs.htpasswd)
        .arg("--conf-dir")
        .arg(&dirs.conf_d)
        .arg("--html-dir")
        .arg(&dirs.html)
        .output()
        .expect("run dockside check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n{stderr}");
    // Each part on a `policy:` line with its origin; each note with file:line.
    for needles in [
        &["policy:", "allow 10.0.0.0/8", "IP_ALLOW", "routes.toml"][..],
        &["policy:", "rate limit", "RATE_LIMIT", "routes.toml"],
        &[
            "policy:",
            "basic auth",
            "Restricted a.test",
            "htpasswd/a.test",
        ],
        &["policy:", "client_max_body_size", "vhost.d/a.test:2"],
        &["policy:", "X-Frame-Options", "vhost.d/a.test:3"],
        &["vhost.d/a.test:4", "sub_filter", "ignored"],
        &["b.test", "BASIC_AUTH", "bob"],
    ] {
        assert!(
            all.lines().any(|l| needles.iter().all(|n| l.contains(n))),
            "no line of check's output has all of {needles:?}:\n{all}"
        );
    }
    assert!(
        all.lines()
            .filter(|l| l.contains("policy:"))
            .all(|l| l.contains('←')),
        "a policy line without its origin:\n{all}"
    );
    assert!(
        !all.contains("plain-pass-word"),
        "check printed a password:\n{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_override_files_for_the_same_part() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let file = "client_max_body_size 1k;\ndeny all;\n";
    files.write("vhost.d/ov.test", file);
    files.write("vhost.d/file-only.test", file);
    let d = start(
        &files,
        &[
            entry("ov.test", b.addr)
                .set("CLIENT_MAX_BODY_SIZE", "10k")
                .set("IP_ALLOW", "127.0.0.1"),
            entry("file-only.test", b.addr),
        ],
    )
    .await;
    // The file alone: denied (access is checked before the body limit).
    let r = send(
        &d,
        Request::get(d.url("/")).header("host", "file-only.test"),
        empty_body(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the file applies without settings"
    );
    let r = send(
        &d,
        Request::post(d.url("/upload")).header("host", "ov.test"),
        full_body(vec![0u8; 5000]),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "CLIENT_MAX_BODY_SIZE overrides the file's 1k"
    );
    let r = send(
        &d,
        Request::get(d.url("/")).header("host", "ov.test"),
        empty_body(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "IP_ALLOW overrides the file's deny all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conf_d_gzip_on_for_every_site_and_a_vhost_d_gzip_off() {
    common::require_tool("curl", "curl");
    let content = ContentBackend::start().await;
    let files = Files::new();
    files.write("conf.d/gzip.conf", "gzip on;\n");
    files.write("vhost.d/quiet.test", "gzip off;\n");
    let d = start(
        &files,
        &[
            entry("loud.test", content.addr),
            entry("quiet.test", content.addr),
        ],
    )
    .await;
    let n = 30_000;
    let gz = ["--compressed", "-H", "Accept-Encoding: gzip"];
    // nginx-proxy's http-level gzip_types include application/json.
    let r = curl_get(&d, "loud.test", &format!("/body/json/{n}"), &gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"), "{r:?}");
    assert!(r.body == compressible(n));
    let r = curl_get(&d, "quiet.test", &format!("/body/json/{n}"), &gz);
    assert_eq!(
        r.header("content-encoding"),
        None,
        "gzip off in vhost.d: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_stay_readable_with_compression_on() {
    common::require_tool("curl", "curl");
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let page = format!("<p>{}</p>\n", "zipped.test is down ".repeat(100));
    files.write("html/errors/zipped.test/502.html", &page);
    files.write("html/errors/zipped.test/403.html", &page);
    let d = start(
        &files,
        &[
            entry("zipped.test", dead_addr()).set("COMPRESSION", "on"),
            entry("zipped.test", b.addr)
                .set("VIRTUAL_PATH", "/private/")
                .set("COMPRESSION", "on")
                .set("IP_DENY", "127.0.0.1"),
        ],
    )
    .await;
    for (path, status) in [("/", 502), ("/private/", 403)] {
        for coding in ["gzip", "br", "zstd"] {
            let accept = format!("Accept-Encoding: {coding}");
            let r = curl_get(&d, "zipped.test", path, &["--compressed", "-H", &accept]);
            assert_eq!(r.status, status, "{path} {coding}");
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                page,
                "{path} {coding}: {r:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_host_files_are_named_by_the_sha1_of_the_regex() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let host = r"~^rx[0-9]+\.test$";
    // nginx-proxy's template: `sha1 $host`, the leading `~` included.
    let vh = sha1_hex(host);
    files.write(
        &format!("htpasswd/{vh}"),
        &format!("r:{}\n", hash(HashKind::Sha256Crypt, "rx-pw")),
    );
    files.write(&format!("vhost.d/{vh}"), "add_header X-Regex yes always;\n");
    let d = start(&files, &[entry(host, b.addr)]).await;
    let deadline = Instant::now() + common::WAIT;
    let r = loop {
        let r = get(&d, "rx7.test", "/").await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(
        values(&r, "www-authenticate"),
        [r#"Basic realm="Restricted access""#]
    );
    assert_eq!(values(&r, "x-regex"), ["yes"]);
    let r = get_with(
        &d,
        "rx42.test",
        "/",
        &[("authorization", &basic("r", "rx-pw"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Polls `host` with `auth` until it answers `want` (≤ 2 s, the promise for file edits).
async fn wait_status(d: &common::Dockside, host: &str, auth: &str, want: u16) {
    let since = Instant::now();
    loop {
        let r = get_with(d, host, "/", &[("authorization", auth)]).await;
        if r.status.as_u16() == want {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "{host}: not {want} within 2 s of the edit: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_and_error_page_edits_are_live() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let line = |u: &str, p: &str| format!("{u}:{}\n", hash(HashKind::Apr1, p));
    files.write("htpasswd/hx.test", &line("ann", "ann-pw"));
    let d = start(&files, &[entry("hx.test", b.addr)]).await;
    let (ann, ben) = (basic("ann", "ann-pw"), basic("ben", "ben-pw"));
    assert_eq!(
        get_with(&d, "hx.test", "/", &[("authorization", &ann)])
            .await
            .status,
        StatusCode::OK
    );
    // A user added, then a page for the 401, then the file removed: the site opens.
    files.write(
        "htpasswd/hx.test",
        &format!("{}{}", line("ann", "ann-pw"), line("ben", "ben-pw")),
    );
    wait_status(&d, "hx.test", &ben, 200).await;
    files.write("html/errors/hx.test/401.html", "<p>hx.test: log in</p>\n");
    let since = Instant::now();
    while get(&d, "hx.test", "/").await.body != "<p>hx.test: log in</p>\n" {
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "401 page not live"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::remove_file(files.path().join("htpasswd/hx.test")).unwrap();
    wait_status(&d, "hx.test", "", 200).await;
}
