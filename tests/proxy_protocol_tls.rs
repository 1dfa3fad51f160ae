//! ENABLE_PROXY_PROTOCOL over HTTPS: the PROXY header written before the TLS ClientHello by a
//! rustls client (v1, v2 IPv4 and IPv6), a missing header, and curl's `--haproxy-protocol` on
//! both listeners. (Its own binary: the HTTPS harness installs its own log subscriber.)

mod common;

use std::time::Duration;

use common::https::HttpsProxy;
use common::proxy_protocol::{echo, header, raw_get, v2_ipv4, v2_ipv6};
use common::tls::{Pki, client::Client};
use common::{TestBackend, site};
use dockside::model::{HttpsMethod, Site};

#[tokio::test]
async fn https_after_the_header() {
    let pki = Pki::new();
    pki.install("tls.test", "tls.test", &["tls.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.proxy_protocol = true;
        c.limits.header_timeout = Duration::from_secs(1);
    })
    .await;
    p.publish(vec![site("tls.test", &[be.addr])]).await;
    let client = Client::new();
    for (name, preamble, want) in [
        (
            "v1",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9443\r\n".to_vec(),
            "1.2.3.4",
        ),
        (
            "v2 IPv4",
            v2_ipv4([5, 6, 7, 8], [8, 7, 6, 5], 1, 9443),
            "5.6.7.8",
        ),
        (
            "v2 IPv6",
            v2_ipv6("2001:db8::7", "2001:db8::8", 1, 9443),
            "2001:db8::7",
        ),
    ] {
        let seen = client
            .get_after(p.https, &preamble, "tls.test")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(seen.cn, "tls.test", "{name}");
        let json = echo(&seen.body);
        assert_eq!(header(&json, "x-forwarded-for"), want, "{name}");
        assert_eq!(header(&json, "x-forwarded-port"), "9443", "{name}");
        assert_eq!(header(&json, "x-forwarded-proto"), "https", "{name}");
    }
    // No header before the ClientHello: closed, no handshake.
    assert!(client.get(p.https, "tls.test").await.is_err());
    // Plain HTTP on the same instance needs the header too.
    assert_eq!(raw_get(p.d.addr, b"", "tls.test").await, "");
}

#[tokio::test]
async fn curl_haproxy_protocol_over_http_and_https() {
    let pki = Pki::new();
    pki.install("curl.test", "curl.test", &["curl.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| c.proxy_protocol = true).await;
    // noredirect: plain HTTP answers too.
    let s = Site {
        https_method: Some(HttpsMethod::NoRedirect),
        ..site("curl.test", &[be.addr])
    };
    p.publish(vec![s]).await;
    for scheme in ["http", "https"] {
        let with = p
            .curl(scheme, "curl.test", "/", &["--haproxy-protocol"])
            .await;
        assert_eq!(with.status, 200, "{scheme}: {}", with.stderr);
        assert_eq!(with.json()["headers"]["x-forwarded-for"], "127.0.0.1");
        let without = p.curl(scheme, "curl.test", "/", &[]).await;
        assert_eq!(without.status, 0, "{scheme} without the header");
    }
}
