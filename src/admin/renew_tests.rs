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
    let req = |method: Method| {
        Request::builder()
            .method(method)
            .uri("/acme/renew?host=a.test&force=true")
            .body(())
            .unwrap()
    };
    let peer = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 40000);
    for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
        let resp = answer(&req(Method::POST), peer(ip), None).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{ip}");
    }
    for ip in ["10.0.0.7", "192.0.2.1", "::ffff:10.0.0.7", "2001:db8::1"] {
        let resp = answer(&req(Method::POST), peer(ip), None).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{ip}");
    }
    let resp = answer(&req(Method::GET), peer("127.0.0.1"), None).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}
