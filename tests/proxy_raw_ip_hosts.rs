//! Raw-IP virtual hosts (issue 15, nginx-proxy `server_name 172.20.0.1` / `[fd00::1]`):
//! `VIRTUAL_HOST` set to an IPv4 address or a bracketed IPv6 literal matches requests whose
//! Host is that address, with or without a port — sent by real curl, connecting to dockside
//! while the URL names the address (`--connect-to`).

mod common;

use common::policy::{Files, entry, start_with};
use common::{TestBackend, curl};

/// curl `url` through dockside (whatever host the URL names): (HTTP status, body).
fn through(port: u16, url: &str) -> (String, String) {
    let to = format!("::127.0.0.1:{port}");
    let out = curl(&["-g", "--connect-to", &to, "-w", "\n%{http_code}", url]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_owned(), body.to_owned())
}

fn backend(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    json["backend"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_hosts_match_with_and_without_a_port() {
    let v4 = TestBackend::start("v4").await;
    let v6 = TestBackend::start("v6").await;
    let files = Files::new();
    let d = start_with(
        &files,
        &[entry("172.20.0.1", v4.addr), entry("[fd00::1]", v6.addr)],
        |_| {},
    )
    .await;
    let port = d.addr.port();
    for (url, want) in [
        ("http://172.20.0.1/", "v4"),
        ("http://172.20.0.1:8080/", "v4"),
        ("http://[fd00::1]/", "v6"),
        ("http://[fd00::1]:8080/", "v6"),
        ("http://[FD00::1]:8080/", "v6"),
    ] {
        let (status, body) = through(port, url);
        assert_eq!(status, "200", "{url}: {body}");
        assert_eq!(backend(&body), want, "{url}");
    }
    // Another address is another host: nginx-proxy's fallback (503).
    let (status, _) = through(port, "http://172.20.0.2/");
    assert_eq!(status, "503");
    let (status, _) = through(port, "http://[fd00::2]:8080/");
    assert_eq!(status, "503");
}
