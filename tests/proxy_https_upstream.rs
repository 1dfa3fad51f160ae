//! `VIRTUAL_PROTO=https` backends: a self-signed backend works by default (like nginx's
//! `proxy_ssl_verify off`) and is refused with `DOCKSIDE_VERIFY_UPSTREAM_TLS=true`.

mod common;

use common::*;
use dockside::model::{BackendAddr, Proto};
use http::StatusCode;

fn https_site(host: &str, backend: &TestBackend) -> dockside::model::Site {
    let mut s = site(host, &[backend.addr]);
    s.locations[0].proto = Proto::Https;
    s
}

#[tokio::test]
async fn self_signed_https_backend_is_accepted_by_default() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start_tls("tls").await;
    d.publish(vec![https_site("secure.tld", &b)]).await;
    for _ in 0..3 {
        let reply = get(&d, "secure.tld", "/x").await;
        assert_eq!(
            (reply.status, reply.backend()),
            (StatusCode::OK, "tls".into())
        );
    }
    let echo = get(&d, "secure.tld", "/x").await.json();
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
}

#[tokio::test]
async fn verification_refuses_a_self_signed_backend() {
    let b = TestBackend::start_tls("tls").await;
    let mut s = https_site("secure.tld", &b);
    // By name, so the only difference between the two runs is verification.
    s.locations[0].backends[0].addr = BackendAddr::Name {
        host: "localhost".into(),
        port: b.addr.port(),
    };
    let lenient = Dockside::start(|_| {}).await;
    lenient.publish(vec![s.clone()]).await;
    assert_eq!(
        get(&lenient, "secure.tld", "/").await.status,
        StatusCode::OK
    );
    let hits = b.hits();

    let strict = Dockside::start(|c| c.verify_upstream_tls = true).await;
    strict.publish(vec![s]).await;
    assert_eq!(
        get(&strict, "secure.tld", "/").await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        b.hits(),
        hits,
        "an unverified backend must not get the request"
    );
}
