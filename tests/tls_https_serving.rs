//! TLS serving through the whole proxy with real clients: certificate selection (exact, parent,
//! CERT_NAME, default) reaching the backend, h2 by ALPN per `ENABLE_HTTP2` / site label,
//! Mozilla-Modern refusing TLS 1.2, and a certificate replaced during a long download.

mod common;

use std::time::Duration;

use common::https::HttpsProxy;
use common::require_tool;
use common::tls::client::Client;
use common::tls::{Pki, within};
use common::{TestBackend, site};
use dockside::model::Site;

#[tokio::test]
async fn selection_reaches_the_backend() {
    let pki = Pki::new();
    pki.install("a.test", "exact-a", &["a.test"]);
    pki.install("b.test", "parent-b", &["b.test", "*.b.test"]);
    pki.install("shared", "shared", &["c.test"]);
    pki.install("default", "default", &["d.test"]);
    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("a.test", &b),
        site("*.b.test", &b),
        Site {
            cert_name: Some("shared".into()),
            ..site("c.test", &b)
        },
        site("d.test", &b),
    ])
    .await;
    let client = Client::new();
    for (sni, cn) in [
        ("a.test", "exact-a"),
        ("x.b.test", "parent-b"),
        ("c.test", "shared"),
        ("d.test", "default"),
    ] {
        let seen = client.get(p.https, sni).await.unwrap();
        assert_eq!(seen.cn, cn, "{sni}");
        assert!(
            seen.body.contains("\"backend\":\"be\""),
            "{sni}: {}",
            seen.body
        );
        // curl verifies the chain and the name against the test CA.
        let x = p.curl("https", sni, "/", &[]).await;
        assert_eq!(x.status, 200, "{sni}: {x:?}");
    }
}

#[tokio::test]
async fn h2_by_alpn_per_site_and_globally() {
    let pki = Pki::new();
    pki.install("on.test", "on", &["on.test"]);
    pki.install("off.test", "off", &["off.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("on.test", &[be.addr]),
        Site {
            http2: Some(false),
            ..site("off.test", &[be.addr])
        },
    ])
    .await;
    let x = p.curl("https", "on.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "2"), "{x:?}");
    let x = p.curl("https", "off.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "1.1"), "{x:?}");

    // ENABLE_HTTP2=false: no site offers h2 unless its label says so.
    let global = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |cfg| {
        cfg.defaults.http2 = false;
    })
    .await;
    global
        .publish(vec![
            site("off.test", &[be.addr]),
            Site {
                http2: Some(true),
                ..site("on.test", &[be.addr])
            },
        ])
        .await;
    let x = global.curl("https", "off.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "1.1"), "{x:?}");
    let x = global.curl("https", "on.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "2"), "{x:?}");
}

#[tokio::test]
async fn modern_policy_refuses_tls12() {
    let pki = Pki::new();
    pki.install("modern.test", "modern", &["modern.test"]);
    pki.install("inter.test", "inter", &["inter.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        Site {
            ssl_policy: Some("Mozilla-Modern".into()),
            ..site("modern.test", &[be.addr])
        },
        site("inter.test", &[be.addr]),
    ])
    .await;
    let tls12 = ["--tlsv1.2", "--tls-max", "1.2"];
    let x = p.curl("https", "modern.test", "/", &tls12).await;
    assert_eq!(x.status, 0, "TLS 1.2 accepted by Mozilla-Modern: {x:?}");
    let x = p.curl("https", "modern.test", "/", &["--tlsv1.3"]).await;
    assert_eq!(x.status, 200, "{x:?}");
    let x = p.curl("https", "inter.test", "/", &tls12).await;
    assert_eq!(x.status, 200, "{x:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_replaced_during_a_download() {
    require_tool("curl", "curl");
    let pki = Pki::new();
    pki.install("a.test", "old", &["a.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![site("a.test", &[be.addr])]).await;
    // 4 MiB at 1 MiB/s: the download outlives the certificate swap by seconds.
    let size = 4 * 1024 * 1024;
    let port = p.https.port();
    let download = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--limit-rate",
            "1M",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code} %{size_download}", "--resolve"])
        .arg(format!("a.test:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(&p.ca)
        .arg(format!("https://a.test:{port}/bytes/{size}"))
        .output();
    let download = tokio::spawn(download);
    tokio::time::sleep(Duration::from_millis(500)).await;
    pki.install("a.test", "new", &["a.test"]);
    let client = Client::new();
    let took = within(Duration::from_secs(2), || async {
        client
            .get(p.https, "a.test")
            .await
            .is_ok_and(|s| s.cn == "new")
    })
    .await;
    assert!(took.is_some(), "new certificate not served within 2 s");
    assert!(
        !download.is_finished(),
        "the download should still be running"
    );
    let out = download.await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("200 {size}"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_connection_limit_covers_https_too() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.limits.max_connections = 1
    })
    .await;
    p.publish(vec![site("a.test", &[be.addr])]).await;
    // A plain-HTTP keep-alive connection (answered with the HTTPS redirect) holds the only
    // permit.
    let mut held = tokio::net::TcpStream::connect(p.d.addr).await.unwrap();
    held.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    assert!(
        common::read_head(&mut held)
            .await
            .starts_with("HTTP/1.1 301")
    );
    // An HTTPS client past the limit is closed at once, like nginx (not queued behind it).
    let client = Client::new();
    let refused = tokio::time::timeout(Duration::from_secs(5), client.get(p.https, "a.test"))
        .await
        .expect("closed promptly, not left waiting");
    assert!(refused.is_err(), "served beyond the limit");
    drop(held);
    // The permit comes back when the plain connection ends.
    let served = within(Duration::from_secs(5), || async {
        client.get(p.https, "a.test").await.is_ok()
    })
    .await;
    assert!(
        served.is_some(),
        "the HTTPS client never got the freed permit"
    );
}
