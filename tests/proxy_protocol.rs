//! ENABLE_PROXY_PROTOCOL (nginx-proxy §1.2, §1.6.9): PROXY v1 and v2 headers written by the test
//! on raw sockets before HTTP and before the TLS ClientHello, the addresses they give to the
//! backend's X-Forwarded-For / X-Real-IP / X-Forwarded-Port, IP_ALLOW and the access log; a
//! connection without the header is closed without a byte; with the setting off a PROXY line
//! gets 400. Over HTTPS: `proxy_protocol_tls.rs`.

mod common;

use std::time::Duration;

use common::policy::{Files, entry, start_with};
use common::proxy_protocol::{echo, exchange, header, raw_get, read_all, v2, v2_ipv4, v2_ipv6};
use common::{Dockside, TestBackend, logs};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn start(
    files: &Files,
    be: &TestBackend,
    tweak: impl FnOnce(&mut dockside::config::Config),
) -> Dockside {
    start_with(
        files,
        &[
            entry("pp.test", be.addr),
            entry("allow.test", be.addr).set("IP_ALLOW", "1.2.3.4"),
        ],
        |c| {
            c.proxy_protocol = true;
            tweak(c);
        },
    )
    .await
}

#[tokio::test]
async fn v1_and_v2_headers_give_the_client_address_over_http() {
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start(&files, &be, |_| {}).await;
    let port = d.addr.port().to_string();
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "v1 TCP4 (nginx-proxy's test line)",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9090\r\n".to_vec(),
            "1.2.3.4",
            "9090",
        ),
        (
            "v1 TCP6",
            b"PROXY TCP6 2001:db8::5 2001:db8::6 5555 8443\r\n".to_vec(),
            "2001:db8::5",
            "8443",
        ),
        (
            "v2 IPv4",
            v2_ipv4([5, 6, 7, 8], [8, 7, 6, 5], 1111, 443),
            "5.6.7.8",
            "443",
        ),
        (
            "v2 IPv6",
            v2_ipv6("2001:db8::7", "2001:db8::8", 2222, 8080),
            "2001:db8::7",
            "8080",
        ),
        // A balancer's health check: the socket's own address, the listener's port.
        ("v2 LOCAL", v2(0, 0, &[]), "127.0.0.1", &port),
        (
            "v1 UNKNOWN",
            b"PROXY UNKNOWN\r\n".to_vec(),
            "127.0.0.1",
            &port,
        ),
    ];
    for (name, preamble, client, forwarded_port) in cases {
        let json = echo(&raw_get(d.addr, &preamble, "pp.test").await);
        assert_eq!(header(&json, "x-forwarded-for"), client, "{name}");
        assert_eq!(header(&json, "x-real-ip"), client, "{name}");
        assert_eq!(header(&json, "x-forwarded-port"), forwarded_port, "{name}");
    }
}

#[tokio::test]
async fn untrusted_downstream_keeps_the_listener_port() {
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start(&files, &be, |c| c.trust_downstream_proxy = false).await;
    let line = b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9090\r\n";
    let json = echo(&raw_get(d.addr, line, "pp.test").await);
    assert_eq!(header(&json, "x-forwarded-for"), "1.2.3.4");
    assert_eq!(header(&json, "x-forwarded-port"), d.addr.port().to_string());
}

#[tokio::test]
async fn the_header_source_is_the_client_for_ip_allow_and_the_access_log() {
    logs::capture();
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start(&files, &be, |c| {
        c.access_log = dockside::config::AccessLog::Vhost
    })
    .await;
    let allowed = raw_get(d.addr, b"PROXY TCP4 1.2.3.4 4.3.2.1 1 2\r\n", "allow.test").await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let denied = raw_get(d.addr, b"PROXY TCP4 5.5.5.5 4.3.2.1 1 2\r\n", "allow.test").await;
    assert!(denied.starts_with("HTTP/1.1 403"), "{denied}");
    logs::wait_line(&["allow.test 1.2.3.4 ", "200"], common::WAIT).await;
    logs::wait_line(&["allow.test 5.5.5.5 ", "403"], common::WAIT).await;
}

#[tokio::test]
async fn a_header_trickled_byte_by_byte_still_works() {
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start(&files, &be, |_| {}).await;
    for preamble in [
        b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9090\r\n".to_vec(),
        v2_ipv4([1, 2, 3, 4], [4, 3, 2, 1], 8080, 9090),
    ] {
        let mut s = TcpStream::connect(d.addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        for b in &preamble {
            s.write_all(&[*b]).await.unwrap();
            // Lets each byte leave as its own segment (the test passes either way).
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let req = "GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n";
        s.write_all(req.as_bytes()).await.unwrap();
        let json = echo(&read_all(&mut s).await);
        assert_eq!(header(&json, "x-forwarded-for"), "1.2.3.4");
        assert_eq!(header(&json, "x-forwarded-port"), "9090");
    }
}

#[tokio::test]
async fn a_connection_without_a_valid_header_is_closed_without_a_byte() {
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start(&files, &be, |c| {
        c.limits.header_timeout = Duration::from_secs(1)
    })
    .await;
    let cases: &[(&str, &[u8])] = &[
        (
            "a plain request",
            b"GET / HTTP/1.1\r\nHost: pp.test\r\n\r\n",
        ),
        (
            "a bad v1 line",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 80\r\nGET / HTTP/1.1\r\n\r\n",
        ),
        ("an unfinished header (timeout)", b"PROXY TCP4 1.2.3.4"),
    ];
    for (name, bytes) in cases {
        let answer = exchange(d.addr, bytes).await;
        assert_eq!(answer, "", "{name}");
    }
}

#[tokio::test]
async fn with_the_setting_off_a_proxy_line_gets_400() {
    let be = TestBackend::start("be").await;
    let files = Files::new();
    let d = start_with(&files, &[entry("pp.test", be.addr)], |_| {}).await;
    let answer = raw_get(
        d.addr,
        b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9090\r\n",
        "pp.test",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    // And without it, requests are as before.
    let json = echo(&raw_get(d.addr, b"", "pp.test").await);
    assert_eq!(header(&json, "x-forwarded-for"), "9.9.9.9, 127.0.0.1");
}
