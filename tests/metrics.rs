//! `/metrics` on the admin listener after known traffic from real clients (curl over HTTP,
//! HTTPS h1 and h2, an HTTP/3 client, a real uWSGI, a dead and a slow backend, an unknown SNI): exact counts, and
//! the text parses with the official Python client's OpenMetrics parser. A site removed from
//! the routes file stops being exported.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::h3::H3Client;
use common::https::HttpsProxy;
use common::tls::Pki;
use common::uwsgi::Uwsgi;
use common::uwsgi::proxy::{uwsgi_location, uwsgi_site};
use common::*;
use http::{Method, Request};
use http_body_util::BodyExt;

/// The admin listener on an ephemeral loopback port.
fn admin_on(cfg: &mut dockside::config::Config) {
    cfg.admin = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
}

/// GET `/metrics` from the admin listener: (content type, body).
async fn scrape(admin: SocketAddr) -> (String, String) {
    let req = Request::get(format!("http://{admin}/metrics"))
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client().request(req))
        .await
        .expect("scrape within WAIT")
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (ctype, String::from_utf8(body.to_vec()).unwrap())
}

/// Scrapes until `done` holds for the text (counts land when a response's body has ended,
/// which may be a moment after the client has read it), or fails with the last scrape.
async fn scrape_until(admin: SocketAddr, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, text) = scrape(admin).await;
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}; last scrape:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every line of `want` is a line of `text`.
fn has_all(text: &str, want: &[String]) -> bool {
    want.iter().all(|w| text.lines().any(|l| l == w))
}

/// Fails unless `text` parses with `prometheus_client.openmetrics.parser` (Python).
fn parses_as_openmetrics(text: &str) {
    use std::io::Write;
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\nprint(sum(1 for _ in parse(sys.stdin.read())))";
    let child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = child.expect("python3 is required: apt-get install -y python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "the OpenMetrics parser is required: apt-get install -y python3-prometheus-client\n{stderr}"
    );
    assert!(
        out.status.success(),
        "not valid OpenMetrics: {stderr}\n{text}"
    );
}

fn requests(site: &str, method: &str, status: &str, down: &str, up: &str, n: u64) -> String {
    format!(
        r#"dockside_http_requests_total{{site="{site}",method="{method}",status="{status}",downstream="{down}",upstream="{up}"}} {n}"#
    )
}

#[tokio::test]
async fn known_traffic_gives_exact_counts_in_valid_openmetrics() {
    let pki = Pki::new();
    pki.install("a.test", "a.test", &["a.test"]);
    let be = TestBackend::start("be").await;
    let slow = TestBackend::start("slow").await;
    let dead = dead_addr();
    let uwsgi = Uwsgi::tcp();
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |cfg| {
        admin_on(cfg);
        cfg.limits.upstream_timeout = Duration::from_secs(1);
        cfg.defaults.http3 = true;
    })
    .await;
    let admin = p.d.running.admin_addr.expect("admin listener");
    p.publish(vec![
        site("a.test", &[be.addr]),
        site("dead.test", &[dead]),
        site("slow.test", &[slow.addr]),
        uwsgi_site("uwsgi.test", vec![uwsgi_location("/", "", &uwsgi.addr)]),
    ])
    .await;

    // a.test: one redirect over HTTP, 2 GETs over HTTPS h1, 3 over h2, one POST with a body.
    let mut sent = 0;
    let x = p.curl("http", "a.test", "/", &[]).await;
    assert_eq!(x.status, 301, "{x:?}");
    sent += x.body.len();
    for (n, via) in [(2, "--http1.1"), (3, "--http2")] {
        for _ in 0..n {
            let x = p.curl("https", "a.test", "/", &[via]).await;
            assert_eq!(x.status, 200, "{x:?}");
            sent += x.body.len();
        }
    }
    let x = p
        .curl("https", "a.test", "/", &["--http1.1", "-d", "hello world"])
        .await;
    assert_eq!(x.status, 200, "{x:?}");
    sent += x.body.len();
    // One GET over HTTP/3 (the QUIC handshake counts as a TLS handshake).
    let h3 = H3Client::new(&p.ca);
    let mut conn = h3.connect(p.https, "a.test").await.unwrap();
    let authority = format!("a.test:{}", p.https.port());
    let (resp, body) = conn.request(Method::GET, &authority, "/", None).await;
    assert_eq!(resp.status(), 200);
    sent += body.len();
    drop(conn);
    // No certificate for these: served over HTTP.
    let x = p.curl("http", "dead.test", "/", &[]).await;
    assert_eq!(x.status, 502, "{x:?}");
    let x = p.curl("http", "slow.test", "/sleep/3000", &[]).await;
    assert_eq!(x.status, 504, "{x:?}");
    let x = p.curl("http", "uwsgi.test", "/", &[]).await;
    assert_eq!(x.status, 200, "{x:?}");
    let x = p.curl("http", "nowhere.test", "/", &[]).await;
    assert_eq!(x.status, 503, "{x:?}");
    // A name no certificate has, and no default certificate: the handshake is refused.
    let x = p.curl("https", "unknown.test", "/", &[]).await;
    assert_eq!(x.status, 0, "{x:?}");

    let want = [
        requests("a.test", "GET", "3xx", "h1", "none", 1),
        requests("a.test", "GET", "2xx", "h1", "http", 2),
        requests("a.test", "GET", "2xx", "h2", "http", 3),
        requests("a.test", "POST", "2xx", "h1", "http", 1),
        requests("a.test", "GET", "2xx", "h3", "http", 1),
        requests("dead.test", "GET", "5xx", "h1", "http", 1),
        requests("slow.test", "GET", "5xx", "h1", "http", 1),
        requests("uwsgi.test", "GET", "2xx", "h1", "uwsgi", 1),
        requests("(none)", "GET", "5xx", "h1", "none", 1),
        format!(r#"dockside_http_sent_bytes_total{{site="a.test"}} {sent}"#),
        r#"dockside_http_received_bytes_total{site="a.test"} 11"#.to_owned(),
        r#"dockside_http_request_duration_seconds_count{site="a.test"} 8"#.to_owned(),
        r#"dockside_upstream_response_seconds_count{site="a.test"} 7"#.to_owned(),
        r#"dockside_upstream_response_seconds_count{site="slow.test"} 1"#.to_owned(),
        "dockside_tls_handshakes_total 7".to_owned(),
        r#"dockside_tls_handshake_failures_total{reason="unknown_sni"} 1"#.to_owned(),
        format!(r#"dockside_upstream_connect_failures_total{{backend="{dead}"}} 1"#),
        format!(r#"dockside_upstream_ejections_total{{backend="{dead}"}} 1"#),
        format!(
            r#"dockside_upstream_timeouts_total{{backend="{}"}} 1"#,
            slow.addr
        ),
        r#"dockside_client_connections{listener="http"} 0"#.to_owned(),
        r#"dockside_client_connections{listener="https"} 0"#.to_owned(),
        r#"dockside_client_connections{listener="quic"} 0"#.to_owned(),
    ];
    let text = scrape_until(admin, "expected counts", |t| has_all(t, &want)).await;
    // Exact: no other series of these sites' requests.
    let series = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(series("dockside_http_requests_total{"), 9, "{text}");
    // The upstream time is bounded by the 1 s timeout, the request's by the slow answer.
    assert!(
        text.contains(r#"dockside_upstream_response_seconds_bucket{le="0.5",site="slow.test"} 0"#),
        "{text}"
    );
    // Kept-alive connections to a.test's backend wait in the workers' pools.
    let idle = format!(
        r#"dockside_upstream_idle_connections{{backend="{}"}} "#,
        be.addr
    );
    let idle = text.lines().find_map(|l| l.strip_prefix(idle.as_str()));
    assert!(idle.is_some_and(|n| n != "0"), "{text}");
    let (ctype, text) = scrape(admin).await;
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    parses_as_openmetrics(&text);
}

fn write_routes(path: &Path, sites: &[(&str, SocketAddr)]) {
    let mut text = String::new();
    for (host, addr) in sites {
        text.push_str(&format!(
            "[[site]]\nVIRTUAL_HOST = \"{host}\"\nbackends = [\"{addr}\"]\n\n"
        ));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn a_site_removed_from_the_routes_file_is_no_longer_exported() {
    let be = TestBackend::start("be").await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    write_routes(&routes, &[("keep.test", be.addr), ("gone.test", be.addr)]);
    let path = routes.clone();
    let d = Dockside::start(|c| {
        admin_on(c);
        c.routes = Some(path);
    })
    .await;
    let admin = d.running.admin_addr.expect("admin listener");
    let deadline = Instant::now() + WAIT;
    while d.running.routes().sites().count() < 2 {
        assert!(Instant::now() < deadline, "routes file not loaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for host in ["keep.test", "gone.test"] {
        assert_eq!(get(&d, host, "/").await.status, 200);
    }
    scrape_until(admin, "both sites counted", |t| {
        t.contains(r#"site="gone.test""#) && t.contains(r#"site="keep.test""#)
    })
    .await;

    write_routes(&routes, &[("keep.test", be.addr)]);
    let text = scrape_until(admin, "gone.test no longer exported", |t| {
        !t.contains("gone.test")
    })
    .await;
    assert!(
        text.contains(&requests("keep.test", "GET", "2xx", "h1", "http", 1)),
        "{text}"
    );
    parses_as_openmetrics(&text);
}

#[tokio::test]
async fn metrics_off_counts_nothing_and_says_so() {
    let d = Dockside::start(|c| {
        admin_on(c);
        c.metrics = false;
    })
    .await;
    let admin = d.running.admin_addr.expect("admin listener");
    let req = Request::get(format!("http://{admin}/metrics"))
        .body(empty_body())
        .unwrap();
    let resp = client().request(req).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("DOCKSIDE_METRICS=off"),
        "{body:?}"
    );
}
