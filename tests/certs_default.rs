//! `CREATE_DEFAULT_CERTIFICATE=true` through the whole proxy: with no `default.crt`, dockside
//! writes a self-signed one at startup, so a client asking for a name no site serves completes
//! the handshake (rustls client) and gets the 503 — without it, the handshake is refused. A
//! user's own `default.crt` is served and never overwritten.

mod common;

use common::https::HttpsProxy;
use common::tls::Pki;
use common::tls::client::{Client, alert};
use rustls::AlertDescription;

#[tokio::test]
async fn unknown_name_gets_the_generated_default_and_a_503() {
    let pki = Pki::new();
    let off = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    let err = Client::new()
        .get(off.https, "unknown.test")
        .await
        .unwrap_err();
    assert_eq!(
        alert(&err),
        Some(AlertDescription::UnrecognisedName),
        "{err}"
    );
    assert!(!pki.certs().join("default.crt").exists());
    drop(off);

    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.create_default_certificate = true;
    })
    .await;
    let seen = Client::new().get(p.https, "unknown.test").await.unwrap();
    assert_eq!(seen.cn, "acme-companion");
    assert!(seen.body.starts_with("HTTP/1.1 503"), "{}", seen.body);
    let key = std::fs::metadata(pki.certs().join("default.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_users_default_certificate_is_kept() {
    let pki = Pki::new();
    pki.install("default", "mine", &["default.invalid"]);
    let before = std::fs::read(pki.certs().join("default.crt")).unwrap();
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.create_default_certificate = true;
    })
    .await;
    let seen = Client::new().get(p.https, "unknown.test").await.unwrap();
    assert_eq!(seen.cn, "mine");
    assert!(seen.body.starts_with("HTTP/1.1 503"), "{}", seen.body);
    assert_eq!(
        std::fs::read(pki.certs().join("default.crt")).unwrap(),
        before
    );
}
