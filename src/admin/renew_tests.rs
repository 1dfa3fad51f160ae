//! The renew endpoint's query, both directions.

use super::*;

#[test]
fn query_round_trips() {
    let q = RenewQuery {
        hosts: vec!["a.test".into(), "*.b.test".into()],
        force: true,
    };
    assert_eq!(q.to_query(), "host=a.test&host=*.b.test&force=true");
    assert_eq!(RenewQuery::parse(Some(&q.to_query())).unwrap(), q);
    assert_eq!(RenewQuery::parse(None).unwrap(), RenewQuery::default());
    assert_eq!(RenewQuery::parse(Some("")).unwrap(), RenewQuery::default());
}

#[test]
fn bad_queries_name_the_parameter() {
    for (query, needle) in [
        ("host=a%20b", "host=\"a%20b\""),
        ("host=", "host=\"\""),
        ("force=maybe", "force"),
        ("hosts=a.test", "unknown parameter \"hosts\""),
    ] {
        let err = RenewQuery::parse(Some(query)).unwrap_err();
        assert!(err.contains(needle), "{query}: {err}");
    }
}

/// An order costs CA rate limits: only a loopback peer (IPv4, IPv6 or v4-mapped) gets past
/// the gate (here to "ACME is off", 503), only with POST; anyone else gets 403.
#[tokio::test]
async fn only_loopback_posts_are_served() {
    let req = |method: Method| cli_like(method).body(()).unwrap();
    let peer = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 40000);
    for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
        let resp = answer(&req(Method::POST), peer(ip), local(), None).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{ip}");
    }
    for ip in ["10.0.0.7", "192.0.2.1", "::ffff:10.0.0.7", "2001:db8::1"] {
        let resp = answer(&req(Method::POST), peer(ip), local(), None).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{ip}");
    }
    let resp = answer(&req(Method::GET), peer("127.0.0.1"), local(), None).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// The admin listener's address in these tests.
fn local() -> SocketAddr {
    "0.0.0.0:9080".parse().unwrap()
}

/// A request as `dockside renew` sends it.
fn cli_like(method: Method) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri("/acme/renew?host=a.test&force=true")
        .header(http::header::HOST, "localhost")
        .header(RENEW_HEADER, "1")
}

async fn status_and_body(req: Request<()>, local: SocketAddr) -> (StatusCode, String) {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let resp = answer(&req, peer, local, None).await;
    let status = resp.status();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A web page on the same machine reaches loopback too: without the custom header (a
/// browser's no-cors POST), with an Origin, or under a rebound name, a loopback peer is
/// refused with a body saying what to use.
#[tokio::test]
async fn browser_shaped_requests_are_refused() {
    let no_header = Request::builder()
        .method(Method::POST)
        .uri("/acme/renew?force=true")
        .header(http::header::HOST, "localhost")
        .body(())
        .unwrap();
    let mut wrong_value = cli_like(Method::POST).body(()).unwrap();
    wrong_value
        .headers_mut()
        .insert(RENEW_HEADER, "yes".parse().unwrap());
    let with_origin = cli_like(Method::POST)
        .header(http::header::ORIGIN, "http://evil.example")
        .body(())
        .unwrap();
    let rebound = |host: &str| {
        let mut r = cli_like(Method::POST).body(()).unwrap();
        r.headers_mut()
            .insert(http::header::HOST, host.parse().unwrap());
        r
    };
    let mut no_host = cli_like(Method::POST).body(()).unwrap();
    no_host.headers_mut().remove(http::header::HOST);
    let cases = [
        (no_header, "X-Dockside-Renew: 1"),
        (wrong_value, "X-Dockside-Renew: 1"),
        (with_origin, "Origin"),
        (rebound("evil.example:9080"), "Host"),
        (rebound("192.0.2.1:9080"), "Host"),
        (no_host, "Host"),
    ];
    for (req, needle) in cases {
        let (status, body) = status_and_body(req, local()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{needle}: {body}");
        assert!(body.contains(needle), "{needle} missing from {body}");
        assert!(body.contains("dockside renew"), "{body}");
    }
}

/// The hosts the CLI or an operator's curl uses get past the gate (to "ACME is off").
#[tokio::test]
async fn local_hosts_are_accepted() {
    let admin: SocketAddr = "192.0.2.5:9080".parse().unwrap();
    for host in [
        "localhost",
        "LOCALHOST:9080",
        "localhost.",
        "127.0.0.1:9080",
        "[::1]:9080",
        "192.0.2.5:9080",
    ] {
        let mut req = cli_like(Method::POST).body(()).unwrap();
        req.headers_mut()
            .insert(http::header::HOST, host.parse().unwrap());
        let (status, body) = status_and_body(req, admin).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{host}: {body}");
    }
}
