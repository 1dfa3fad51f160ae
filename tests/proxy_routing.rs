//! Routing through real sockets: host matching matrix, DEFAULT_HOST, DEFAULT_ROOT, paths with
//! VIRTUAL_DEST, round-robin, dead backends, retry, and route changes under load.

mod common;

use std::time::{Duration, Instant};

use common::load::{Counts, Load};
use common::*;
use dockside::model::DesiredState;
use dockside::routing::DefaultRoot;
use http::{Request, StatusCode};

#[tokio::test]
async fn host_matching_matrix() {
    let d = Dockside::start(|_| {}).await;
    let [a, b, c, r, l] = [
        TestBackend::start("exact").await,
        TestBackend::start("leading").await,
        TestBackend::start("trailing").await,
        TestBackend::start("regex").await,
        TestBackend::start("list").await,
    ];
    d.publish(vec![
        site("exact.tld", &[a.addr]),
        site("*.wild.tld", &[b.addr]),
        site("trail.*", &[c.addr]),
        site("~^re-[0-9]+\\.tld$", &[r.addr]),
        // A VIRTUAL_HOST list becomes one site per item.
        site("one.tld", &[l.addr]),
        site("two.tld", &[l.addr]),
    ])
    .await;
    let cases = [
        ("exact.tld", Some("exact")),
        ("EXACT.tld:8080", Some("exact")),
        ("x.wild.tld", Some("leading")),
        ("a.b.wild.tld", Some("leading")),
        ("trail.org", Some("trailing")),
        ("re-42.tld", Some("regex")),
        ("one.tld", Some("list")),
        ("two.tld", Some("list")),
        ("wild.tld", None),
        ("unknown.tld", None),
        ("re-x.tld", None),
    ];
    for (host, want) in cases {
        let reply = get(&d, host, "/").await;
        match want {
            Some(name) => assert_eq!(
                (reply.status, reply.backend()),
                (StatusCode::OK, name.to_owned()),
                "{host}"
            ),
            None => assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{host}"),
        }
    }
}

#[tokio::test]
async fn default_host_serves_unknown_hosts() {
    let d = Dockside::start(|c| c.defaults.default_host = Some("web1.tld".into())).await;
    let w1 = TestBackend::start("web1").await;
    let w2 = TestBackend::start("web2").await;
    d.publish(vec![
        site("web1.tld", &[w1.addr]),
        site("web2.tld", &[w2.addr]),
    ])
    .await;
    assert_eq!(get(&d, "nowhere.tld", "/").await.backend(), "web1");
    assert_eq!(get(&d, "web2.tld", "/").await.backend(), "web2");
}

#[tokio::test]
async fn default_root_answers_paths_without_location() {
    let d = Dockside::start(|_| {}).await;
    let api = TestBackend::start("api").await;
    d.publish(vec![site_paths("a.tld", &[("/api/", "", &[api.addr])])])
        .await;
    assert_eq!(
        get(&d, "a.tld", "/other").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&d, "a.tld", "/api/x").await.backend(), "api");

    let redirect = DefaultRoot::parse("301 https://example.com/").unwrap();
    let d = Dockside::start(|c| c.defaults.default_root = redirect).await;
    d.publish(vec![site_paths("a.tld", &[("/api/", "", &[api.addr])])])
        .await;
    let reply = get(&d, "a.tld", "/").await;
    assert_eq!(reply.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(reply.headers["location"], "https://example.com/");
}

#[tokio::test]
async fn paths_and_virtual_dest() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("paths").await;
    let one: &[_] = &[b.addr];
    d.publish(vec![site_paths(
        "p.tld",
        &[
            ("/app1/", "/", one),
            ("/app2/", "", one),
            ("/app3/", "/v2/", one),
            ("~ ^/(web3|alt)/", "/", one),
        ],
    )])
    .await;
    let cases = [
        ("/app1/foo?x=1", "/foo?x=1"),
        ("/app2/foo", "/app2/foo"),
        ("/app3/a/b", "/v2/a/b"),
        ("/alt/x", "/alt/x"),
    ];
    for (path, want) in cases {
        let echo = get(&d, "p.tld", path).await.json();
        assert_eq!(echo["uri"], want, "{path}");
        assert_eq!(echo["headers"]["x-original-uri"], path, "{path}");
    }
    assert_eq!(get(&d, "p.tld", "/").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn round_robin_alternates() {
    let d = Dockside::start(|_| {}).await;
    let a = TestBackend::start("a").await;
    let b = TestBackend::start("b").await;
    d.publish(vec![site("rr.tld", &[a.addr, b.addr])]).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(get(&d, "rr.tld", "/").await.backend());
    }
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "{seen:?}");
    }
    assert_eq!((a.hits(), b.hits()), (3, 3));
}

#[tokio::test]
async fn dead_backend_is_502_and_other_hosts_unaffected() {
    let d = Dockside::start(|_| {}).await;
    let ok = TestBackend::start("ok").await;
    d.publish(vec![
        site("dead.tld", &[dead_addr()]),
        site("ok.tld", &[ok.addr]),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            get(&d, "dead.tld", "/").await.status,
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(get(&d, "ok.tld", "/").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn refused_connect_is_retried_on_the_next_backend() {
    let d = Dockside::start(|_| {}).await;
    let live = TestBackend::start("live").await;
    let dead = dead_addr();
    d.publish(vec![site("retry.tld", &[dead, live.addr])]).await;
    // The first turn is the dead backend; a GET that sent nothing is retried on `live`.
    for _ in 0..4 {
        let reply = get(&d, "retry.tld", "/").await;
        assert_eq!(
            (reply.status, reply.backend()),
            (StatusCode::OK, "live".into())
        );
    }

    // A POST with a body is not retried: on a fresh proxy its first turn fails with 502.
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("retry.tld", &[dead, live.addr])]).await;
    let post = Request::post(d.url("/")).header("host", "retry.tld");
    let reply = send(&d, post, full_body("payload")).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    // …and the refused backend is now marked down, so the next POST goes to `live` first.
    let post = Request::post(d.url("/")).header("host", "retry.tld");
    assert_eq!(
        send(&d, post, full_body("payload")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn route_change_under_load_drops_nothing() {
    let d = Dockside::start(|c| c.access_log = dockside::config::AccessLog::Off).await;
    let stable = TestBackend::start("stable").await;
    let fresh = TestBackend::start("fresh").await;
    let base = vec![
        site("stable.tld", &[stable.addr]),
        site("other.tld", &[stable.addr]),
    ];
    d.publish(base.clone()).await;

    let load = Load::start(8, d.url("/"), "stable.tld");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Churn: many snapshots, each touching other hosts, then the new route.
    for i in 0..20 {
        let mut sites = base.clone();
        sites.push(site(&format!("churn{i}.tld"), &[fresh.addr]));
        d.running.publish(DesiredState {
            sites: sites.into_iter().map(std::sync::Arc::new).collect(),
            ..Default::default()
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut sites = base.clone();
    sites.push(site("new.tld", &[fresh.addr]));
    let published = Instant::now();
    d.running.publish(DesiredState {
        sites: sites.into_iter().map(std::sync::Arc::new).collect(),
        ..Default::default()
    });
    loop {
        let reply = get(&d, "new.tld", "/").await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.backend(), "fresh");
            break;
        }
        assert!(
            published.elapsed() < Duration::from_secs(1),
            "new route not live within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Counts { ok, failed } = load.stop().await;
    assert_eq!(failed, 0, "{failed} failed of {}", ok + failed);
    assert!(ok > 100, "load too small to mean anything: {ok}");
}

/// Answers without a body (HEAD, 204, 304) end where the backend's framing says, keep the
/// backend's `Content-Length` for HEAD, and leave both connections usable for the next request.
#[tokio::test]
async fn bodiless_answers_keep_their_framing_and_connections() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("plain").await;
    d.publish(vec![site("head.tld", &[b.addr])]).await;
    assert_eq!(get(&d, "head.tld", "/same").await.status, StatusCode::OK);
    let head = send(
        &d,
        Request::head(d.url("/same")).header("host", "head.tld"),
        empty_body(),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    // The echo the backend would have sent (it names the method, so GET's length differs).
    let declared: usize = head.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 100, "{declared}");
    assert_eq!(head.body, "");
    for code in [204, 304] {
        let r = get(&d, "head.tld", &format!("/status/{code}")).await;
        assert_eq!(r.status.as_u16(), code);
        assert_eq!(r.body, "");
    }
    let again = get(&d, "head.tld", "/same").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.backend(), "plain");
    assert_eq!(b.hits(), 5);
}
