use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::policy::{ErrorPage, HeaderOp, IpNet};

fn net(addr: &str, prefix: u8) -> IpNet {
    IpNet {
        addr: addr.parse().unwrap(),
        prefix,
        all: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn an_empty_policy_compiles_to_nothing() {
    assert!(SitePolicy::compile(&Policy::default()).unwrap().is_none());
}

#[tokio::test]
async fn first_matching_rule_decides_and_no_match_allows() {
    let spec = Policy {
        access: vec![
            AccessRule {
                allow: false,
                net: net("10.1.0.0", 16),
            },
            AccessRule {
                allow: true,
                net: net("10.0.0.0", 8),
            },
        ],
        ..Policy::default()
    };
    let p = Arc::new(SitePolicy::compile(&spec).unwrap().unwrap());
    assert!(matches!(
        p.admit(ip("10.1.2.3"), None).await,
        Err(Refusal::Forbidden)
    ));
    assert!(p.admit(ip("10.2.2.3"), None).await.is_ok());
    // IPv4-mapped IPv6 (a dual-stack listener) is the IPv4 client.
    assert!(matches!(
        p.admit(ip("::ffff:10.1.2.3"), None).await,
        Err(Refusal::Forbidden)
    ));
    assert!(p.admit(ip("192.0.2.1"), None).await.is_ok());
}

#[test]
fn add_header_applies_to_success_unless_always_and_set_replaces() {
    let spec = Policy {
        response_headers: vec![
            ResponseHeaderOp::Remove {
                name: "server".into(),
            },
            ResponseHeaderOp::Add {
                name: "x-a".into(),
                value: "1".into(),
                always: false,
            },
            ResponseHeaderOp::Add {
                name: "x-b".into(),
                value: "2".into(),
                always: true,
            },
            ResponseHeaderOp::Set {
                name: "x-c".into(),
                value: "3".into(),
            },
        ],
        ..Policy::default()
    };
    let p = SitePolicy::compile(&spec).unwrap().unwrap();
    let fresh = || {
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("backend"));
        h.insert("x-c", HeaderValue::from_static("old"));
        h
    };
    let mut ok = fresh();
    p.rewrite_response(StatusCode::OK, &mut ok);
    assert!(ok.get("server").is_none());
    assert_eq!(ok["x-a"], "1");
    assert_eq!(ok["x-b"], "2");
    assert_eq!(ok.get_all("x-c").iter().count(), 1);
    assert_eq!(ok["x-c"], "3");
    let mut err = fresh();
    p.rewrite_response(StatusCode::BAD_GATEWAY, &mut err);
    assert!(err.get("x-a").is_none());
    assert_eq!(err["x-b"], "2");
}

#[test]
fn request_headers_set_and_remove_in_order() {
    let spec = Policy {
        request_headers: vec![
            HeaderOp {
                name: "X-Tenant".into(),
                value: Some("blue".into()),
            },
            HeaderOp {
                name: "Cookie".into(),
                value: None,
            },
        ],
        ..Policy::default()
    };
    let p = SitePolicy::compile(&spec).unwrap().unwrap();
    let mut h = HeaderMap::new();
    h.insert("x-tenant", HeaderValue::from_static("red"));
    h.insert("cookie", HeaderValue::from_static("a=b"));
    p.rewrite_request(&mut h);
    assert_eq!(h["x-tenant"], "blue");
    assert!(h.get("cookie").is_none());
}

#[test]
fn invalid_header_names_and_values_are_named() {
    let spec = Policy {
        request_headers: vec![HeaderOp {
            name: "Bad Name".into(),
            value: Some("v".into()),
        }],
        ..Policy::default()
    };
    let err = SitePolicy::compile(&spec).unwrap_err();
    assert!(err.contains("Bad Name"), "{err}");
    let spec = Policy {
        error_pages: BTreeMap::from([(
            502,
            ErrorPage {
                content_type: "text/html\n".into(),
                body: String::new(),
            },
        )]),
        ..Policy::default()
    };
    assert!(SitePolicy::compile(&spec).is_err());
}

#[tokio::test]
async fn access_then_auth_then_rate_limit() {
    // `{SHA}` of "pw": `printf pw | openssl sha1 -binary | base64`.
    let spec = Policy {
        access: vec![AccessRule {
            allow: false,
            net: net("192.0.2.0", 24),
        }],
        auth: Some(crate::policy::BasicAuth {
            realm: "Restricted a.test".into(),
            users: vec![("u".into(), "{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=".into())],
        }),
        rate_limit: Some(crate::policy::RateLimit {
            millirequests_per_second: 1000,
            burst: 1,
        }),
        ..Policy::default()
    };
    let p = Arc::new(SitePolicy::compile(&spec).unwrap().unwrap());
    let good = HeaderValue::from_static("Basic dTpwdw==");
    let bad = HeaderValue::from_static("Basic dTp4");
    // Access first: a denied client is not asked for credentials.
    assert!(matches!(
        p.admit(ip("192.0.2.9"), Some(&good)).await,
        Err(Refusal::Forbidden)
    ));
    match p.admit(ip("10.0.0.1"), Some(&bad)).await {
        Err(Refusal::Unauthorized(challenge)) => {
            assert_eq!(challenge, "Basic realm=\"Restricted a.test\"")
        }
        other => panic!("{other:?}"),
    }
    // Then the rate limit, for authenticated requests: the burst, then 429.
    assert!(p.admit(ip("10.0.0.2"), Some(&good)).await.is_ok());
    assert!(p.admit(ip("10.0.0.2"), Some(&good)).await.is_ok());
    assert!(matches!(
        p.admit(ip("10.0.0.2"), Some(&good)).await,
        Err(Refusal::TooManyRequests(_))
    ));
}

#[test]
fn error_pages_by_status() {
    let spec = Policy {
        error_pages: BTreeMap::from([(
            503,
            ErrorPage {
                content_type: "text/html".into(),
                body: "<h1>down</h1>".into(),
            },
        )]),
        ..Policy::default()
    };
    let p = SitePolicy::compile(&spec).unwrap().unwrap();
    let (ct, body) = p.error_page(StatusCode::SERVICE_UNAVAILABLE).unwrap();
    assert_eq!(ct, "text/html");
    assert_eq!(&body[..], b"<h1>down</h1>");
    assert!(p.error_page(StatusCode::BAD_GATEWAY).is_none());
}
