//! Certificates are data: files replaced, corrupted, added or removed on disk reach new
//! handshakes within 2 s without disturbing running connections or session resumption.

mod common;

use std::time::Duration;

use common::tls::client::{Client, alert};
use common::tls::{Pki, SLOW_BYTES, Server, curl, s_client, site, within};
use rustls::AlertDescription;
use rustls::version::{TLS12, TLS13};

const LIMIT: Duration = Duration::from_secs(2);

/// Waits until a fresh full handshake for `sni` presents `cn`.
async fn serves(server: &Server, sni: &str, cn: &str) -> Option<Duration> {
    Client::new()
        .serves_within(server.addr, sni, cn, LIMIT)
        .await
}

#[tokio::test]
async fn replace_during_long_download() {
    let pki = Pki::new();
    pki.install("a.test", "v1", &["a.test"]);
    let server = Server::start(&pki.certs(), vec![site("a.test")]).await;
    common::require_tool("curl", "curl");
    let out = pki.tmp.path().join("download");
    let mut download = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-w",
            "%{http_code} %{size_download}",
        ])
        .arg("--resolve")
        .arg(format!("a.test:{}:127.0.0.1", server.port()))
        .arg("--cacert")
        .arg(pki.ca_pem())
        .arg("-o")
        .arg(&out)
        .arg(format!("https://a.test:{}/slow", server.port()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    pki.install("a.test", "v2", &["a.test"]);
    let took = serves(&server, "a.test", "v2").await;
    assert!(
        took.is_some(),
        "new certificate not served within {LIMIT:?}"
    );
    assert!(
        download.try_wait().unwrap().is_none(),
        "the download must still be running when the new certificate is served"
    );
    let done = download.wait_with_output().await.unwrap();
    let summary = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{summary}");
    assert_eq!(summary, format!("200 {SLOW_BYTES}"));
    assert_eq!(std::fs::metadata(&out).unwrap().len() as usize, SLOW_BYTES);
    // And curl, verifying against the CA, is happy with the new pair.
    let fresh = curl(&pki, &server, "a.test", "/", &[]).await;
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
}

#[tokio::test]
async fn corrupt_or_mismatched_files_keep_the_last_good_certificate() {
    let pki = Pki::new();
    pki.install("a.test", "good-1", &["a.test"]);
    let server = Server::start(&pki.certs(), vec![site("a.test"), site("new.test")]).await;
    let client = Client::new();
    let crt = pki.certs().join("a.test.crt");

    // Garbage in place of the certificate.
    std::fs::write(&crt, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        client.get(server.addr, "a.test").await.unwrap().cn,
        "good-1"
    );
    // A valid certificate next to a key that is not its own.
    let other = pki.leaf("mismatch", &["a.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    std::fs::write(&crt, &other.chain).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        client.get(server.addr, "a.test").await.unwrap().cn,
        "good-1"
    );
    let out = curl(&pki, &server, "a.test", "/", &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The watcher is alive: a good pair replaces it, a new pair appears, a removed one goes.
    pki.install("a.test", "good-2", &["a.test"]);
    assert!(serves(&server, "a.test", "good-2").await.is_some());
    let err = client.get(server.addr, "new.test").await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::UnrecognisedName));
    pki.install("new.test", "new", &["new.test"]);
    assert!(serves(&server, "new.test", "new").await.is_some());
    std::fs::remove_file(pki.certs().join("new.test.key")).unwrap();
    let refused = within(LIMIT, || async {
        client
            .get(server.addr, "new.test")
            .await
            .is_err_and(|e| alert(&e) == Some(AlertDescription::UnrecognisedName))
    })
    .await;
    assert!(
        refused.is_some(),
        "a .crt without .key must stop being served"
    );
}

#[tokio::test]
async fn resumption_survives_certificate_change() {
    let pki = Pki::new();
    pki.install("a.test", "v1", &["a.test"]);
    let server = Server::start(&pki.certs(), vec![site("a.test")]).await;
    let tls13 = Client::resuming(&[&TLS13]);
    let tls12 = Client::resuming(&[&TLS12]);
    for client in [&tls13, &tls12] {
        assert!(!client.get(server.addr, "a.test").await.unwrap().resumed);
        assert!(client.get(server.addr, "a.test").await.unwrap().resumed);
    }
    let sess = pki.tmp.path().join("openssl.sess");
    let sess = sess.to_str().unwrap();
    let tls12_args = ["-servername", "a.test", "-tls1_2"];
    let (ok, out) = s_client(
        server.addr,
        &[&tls12_args[..], &["-sess_out", sess]].concat(),
    )
    .await;
    assert!(ok && out.contains("New, TLSv1.2"), "{out}");

    pki.install("a.test", "v2", &["a.test"]);
    assert!(serves(&server, "a.test", "v2").await.is_some());
    for (client, version) in [(&tls13, "1.3"), (&tls12, "1.2")] {
        let seen = client.get(server.addr, "a.test").await.unwrap();
        assert!(
            seen.resumed,
            "TLS {version} session not resumed after the certificate changed"
        );
    }
    let (ok, out) = s_client(
        server.addr,
        &[&tls12_args[..], &["-sess_in", sess]].concat(),
    )
    .await;
    assert!(ok && out.contains("Reused, TLSv1.2"), "{out}");
}
