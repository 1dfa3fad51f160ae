//! ENABLE_IPV6 (nginx-proxy §1.2, §1.6.10) with real curl over `[::1]`: off (the default), an
//! IPv6 connection is refused, as nginx-proxy's own test asserts; on, each IPv4 listener gets
//! its `[::]` / `[::1]` twin on the same port, for HTTP and HTTPS, and the IPv4 side keeps
//! serving. These tests need the IPv6 loopback and fail (never skip) without it.

mod common;

use std::net::SocketAddr;

use common::https::HttpsProxy;
use common::tls::Pki;
use common::{Dockside, TestBackend, curl, site};
use dockside::model::{HttpsMethod, Site};

/// Fails with a clear message when this machine cannot bind the IPv6 loopback.
fn require_ipv6_loopback() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        panic!(
            "this test needs the IPv6 loopback (::1), which this machine lacks ({e}): \
             enable IPv6 (sysctl net.ipv6.conf.lo.disable_ipv6=0; for a container, dockerd's \
             \"ipv6\": true or `--sysctl net.ipv6.conf.all.disable_ipv6=0`)"
        );
    }
}

/// `curl -g` to `http://[::1]:port/` with `Host: host`: (exit code, body).
fn curl_v6(port: u16, host: &str) -> (i32, String) {
    let url = format!("http://[::1]:{port}/");
    let out = curl(&["-g", "-H", &format!("Host: {host}"), &url]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn header(body: &str, name: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    json["headers"][name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_is_refused_by_default() {
    require_ipv6_loopback();
    let be = TestBackend::start("be").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("v6.test", &[be.addr])]).await;
    assert_eq!(d.running.http_addrs, vec![d.addr]);
    let (code, body) = curl_v6(d.addr.port(), "v6.test");
    // curl's exit code 7: "Failed to connect to host".
    assert_eq!(code, 7, "IPv6 must be refused without ENABLE_IPV6: {body}");
    let ok = curl(&["-H", "Host: v6.test", &d.url("/")]);
    assert!(ok.status.success(), "IPv4 still served");
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_gets_an_ipv6_loopback_twin_on_the_same_port() {
    require_ipv6_loopback();
    let be = TestBackend::start("be").await;
    let d = Dockside::start(|c| c.ipv6 = true).await;
    d.publish(vec![site("v6.test", &[be.addr])]).await;
    let twin: SocketAddr = format!("[::1]:{}", d.addr.port()).parse().unwrap();
    assert_eq!(d.running.http_addrs, vec![d.addr, twin]);
    let (code, body) = curl_v6(d.addr.port(), "v6.test");
    assert_eq!(code, 0, "curl over [::1]: {body}");
    assert_eq!(header(&body, "x-real-ip"), "::1");
    assert_eq!(header(&body, "x-forwarded-for"), "::1");
    let v4 = curl(&["-H", "Host: v6.test", &d.url("/")]);
    let v4 = String::from_utf8_lossy(&v4.stdout).into_owned();
    assert_eq!(header(&v4, "x-real-ip"), "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ipv4_wildcard_gets_an_ipv6_only_wildcard_twin() {
    require_ipv6_loopback();
    let be = TestBackend::start("be").await;
    // Both wildcards on one port: only possible when the `[::]` socket is IPv6-only.
    let d = Dockside::start(|c| {
        c.http = SocketAddr::from(([0, 0, 0, 0], 0));
        c.ipv6 = true;
    })
    .await;
    d.publish(vec![site("v6.test", &[be.addr])]).await;
    let port = d.addr.port();
    let twin: SocketAddr = format!("[::]:{port}").parse().unwrap();
    assert_eq!(d.running.http_addrs[1], twin);
    let (code, body) = curl_v6(port, "v6.test");
    assert_eq!(code, 0, "curl over [::1]: {body}");
    assert_eq!(header(&body, "x-real-ip"), "::1");
    let v4 = curl(&["-H", "Host: v6.test", &format!("http://127.0.0.1:{port}/")]);
    let v4 = String::from_utf8_lossy(&v4.stdout).into_owned();
    assert_eq!(
        header(&v4, "x-real-ip"),
        "127.0.0.1",
        "IPv4 clients stay IPv4"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_has_its_twin_too() {
    require_ipv6_loopback();
    let pki = Pki::new();
    pki.install("v6tls.test", "v6tls.test", &["v6tls.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| c.ipv6 = true).await;
    p.publish(vec![Site {
        https_method: Some(HttpsMethod::NoRedirect),
        ..site("v6tls.test", &[be.addr])
    }])
    .await;
    let port = p.https.port();
    let twin: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    assert_eq!(p.d.running.https_addrs, vec![p.https, twin]);
    let out = curl(&[
        "-g",
        "--cacert",
        p.ca.to_str().unwrap(),
        "--resolve",
        &format!("v6tls.test:{port}:[::1]"),
        &format!("https://v6tls.test:{port}/"),
    ]);
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl https over [::1]: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(header(&body, "x-real-ip"), "::1");
    assert_eq!(header(&body, "x-forwarded-proto"), "https");
}

/// `dockside check` names every address a run would listen on, twins included, and whether a
/// PROXY protocol header is expected.
#[test]
fn check_prints_the_listeners() {
    let check = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
            .args(["check", "--docker-host", "off", "--http", "127.0.0.1:8080"])
            .args(extra)
            .output()
            .expect("run dockside check");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let on = check(&["--enable-ipv6", "true", "--enable-proxy-protocol", "true"]);
    assert!(
        on.contains("listeners: HTTP 127.0.0.1:8080, [::1]:8080; HTTPS 0.0.0.0:443, [::]:443; PROXY protocol header expected before every connection (ENABLE_PROXY_PROTOCOL)"),
        "{on}"
    );
    let off = check(&[]);
    assert!(
        off.contains("listeners: HTTP 127.0.0.1:8080; HTTPS 0.0.0.0:443; no PROXY protocol"),
        "{off}"
    );
    let h3 = check(&["--enable-ipv6", "true", "--enable-http3", "true"]);
    assert!(
        h3.contains("HTTPS 0.0.0.0:443, [::]:443; HTTP/3 (QUIC, UDP) 0.0.0.0:443, [::]:443; no PROXY protocol"),
        "{h3}"
    );
}
