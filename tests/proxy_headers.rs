//! Headers the backend receives (nginx-proxy §1.6.9), trusted and untrusted downstream, with
//! a hyper client and with curl; WebSocket upgrade passthrough; h2c from the client.

mod common;

use common::*;
use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn echo_headers(trust: bool, extra: &[(&str, &str)]) -> (serde_json::Value, u16) {
    let d = Dockside::start(|c| c.trust_downstream_proxy = trust).await;
    let b = TestBackend::start("h").await;
    d.publish(vec![site("web.tld", &[b.addr])]).await;
    let mut req = Request::get(d.url("/p?q=1")).header("host", "web.tld");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let reply = send(&d, req, empty_body()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    (reply.json()["headers"].clone(), d.addr.port())
}

const CLIENT: &[(&str, &str)] = &[
    ("x-forwarded-for", "1.2.3.4"),
    ("x-forwarded-proto", "f00"),
    ("x-forwarded-host", "outer.tld"),
    ("x-forwarded-port", "4443"),
    ("proxy", "http://evil.example"),
    ("connection", "keep-alive, x-hop"),
    ("x-hop", "1"),
    ("foo", "Bar"),
];

#[tokio::test]
async fn header_matrix_trusted() {
    let (h, port) = echo_headers(true, CLIENT).await;
    let host = format!("web.tld:{port}");
    let want = [
        ("host", Some(host.as_str())),
        ("x-real-ip", Some("127.0.0.1")),
        ("x-forwarded-for", Some("1.2.3.4, 127.0.0.1")),
        ("x-forwarded-proto", Some("f00")),
        ("x-forwarded-host", Some("outer.tld")),
        ("x-forwarded-port", Some("4443")),
        ("x-forwarded-ssl", Some("off")),
        ("x-original-uri", Some("/p?q=1")),
        ("foo", Some("Bar")),
        ("proxy", None),
        ("x-hop", None),
        ("connection", None),
    ];
    for (name, value) in want {
        assert_eq!(h[name].as_str(), value, "{name} in {h}");
    }
}

#[tokio::test]
async fn header_matrix_untrusted() {
    let (h, port) = echo_headers(false, CLIENT).await;
    let host = format!("web.tld:{port}");
    let port = port.to_string();
    let want = [
        ("host", Some(host.as_str())),
        ("x-real-ip", Some("127.0.0.1")),
        ("x-forwarded-for", Some("127.0.0.1")),
        ("x-forwarded-proto", Some("http")),
        ("x-forwarded-host", Some("web.tld")),
        ("x-forwarded-port", Some(port.as_str())),
        ("x-forwarded-ssl", Some("off")),
        ("foo", Some("Bar")),
        ("proxy", None),
    ];
    for (name, value) in want {
        assert_eq!(h[name].as_str(), value, "{name} in {h}");
    }
}

#[tokio::test]
async fn curl_sees_the_same_headers() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("curl").await;
    d.publish(vec![site("web.tld", &[b.addr])]).await;
    let url = d.url("/c");
    let out = tokio::task::spawn_blocking(move || {
        curl(&[
            "-H",
            "Host: web.tld",
            "-H",
            "X-Forwarded-Proto: https",
            "-H",
            "Proxy: x",
            &url,
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(echo["headers"]["x-forwarded-ssl"], "on");
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert!(echo["headers"].get("proxy").is_none());
    assert_eq!(echo["version"], "HTTP/1.1");
}

#[tokio::test]
async fn keepalive_off_sends_connection_close() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("close").await;
    let mut s = site("web.tld", &[b.addr]);
    s.locations[0].keepalive = false;
    d.publish(vec![s]).await;
    let h = get(&d, "web.tld", "/").await.json()["headers"].clone();
    assert_eq!(h["connection"], "close");
}

#[tokio::test]
async fn websocket_upgrade_echoes_both_ways() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("ws").await;
    d.publish(vec![site("ws.tld", &[b.addr])]).await;
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: ws.tld\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    for msg in [&b"hello"[..], b"second message", &[0u8, 255, 10, 13]] {
        s.write_all(msg).await.unwrap();
        let mut buf = vec![0u8; msg.len()];
        tokio::time::timeout(WAIT, s.read_exact(&mut buf))
            .await
            .expect("echo within WAIT")
            .unwrap();
        assert_eq!(buf, msg);
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_works() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("h2").await;
    d.publish(vec![site("h2.tld", &[b.addr])]).await;
    let url = format!("http://h2.tld:{}/x", d.addr.port());
    let resolve = format!("h2.tld:{}:127.0.0.1", d.addr.port());
    let out = tokio::task::spawn_blocking(move || {
        curl(&[
            "--http2-prior-knowledge",
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_version}",
            &url,
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, version) = text.rsplit_once('\n').unwrap();
    assert_eq!(version, "2");
    let echo: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(echo["backend"], "h2");
    // Upstream is always HTTP/1.1 with a Host header, like nginx's proxy_http_version 1.1.
    assert_eq!(echo["version"], "HTTP/1.1");
    assert_eq!(echo["headers"]["host"], format!("h2.tld:{}", d.addr.port()));
}
