//! Protocol negotiation over real handshakes: ALPN h2 per site (`ENABLE_HTTP2` / label),
//! SSL_POLICY versions, and the ACME TLS-ALPN-01 path.

mod common;

use std::sync::Arc;

use common::tls::client::{Client, alert};
use common::tls::{Pki, Server, curl, s_client, site};
use dockside::model::Site;
use rustls::AlertDescription;
use rustls::version::{TLS12, TLS13};

#[tokio::test]
async fn h2_is_offered_only_where_enabled() {
    let pki = Pki::new();
    pki.install("on.test", "on", &["on.test"]);
    pki.install("off.test", "off", &["off.test"]);
    let sites = vec![
        site("on.test"),
        Site {
            http2: Some(false),
            ..site("off.test")
        },
    ];
    let server = Server::start(&pki.certs(), sites).await;
    for (host, want) in [("on.test", "2"), ("off.test", "1.1")] {
        let out = curl(
            &pki,
            &server,
            host,
            "/",
            &["--http2", "-w", "%{http_version}"],
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.ends_with(want), "{host}: {stdout}");
        assert!(
            stdout.contains(&format!("host={host} covered=true")),
            "{stdout}"
        );
    }
    let client = Client::with(&[b"h2", b"http/1.1"], &[&TLS13, &TLS12]);
    let alpn = |s: common::tls::client::Seen| s.alpn.unwrap();
    assert_eq!(
        alpn(client.get(server.addr, "on.test").await.unwrap()),
        b"h2"
    );
    assert_eq!(
        alpn(client.get(server.addr, "off.test").await.unwrap()),
        b"http/1.1"
    );
}

#[tokio::test]
async fn ssl_policy_versions() {
    let pki = Pki::new();
    for name in ["modern.test", "inter.test", "old.test"] {
        pki.install(name, name, &[name]);
    }
    let policy = |host: &str, p: &str| Site {
        ssl_policy: Some(p.into()),
        ..site(host)
    };
    let sites = vec![
        policy("modern.test", "Mozilla-Modern"),
        site("inter.test"),
        // Needs TLS 1.0 and CBC: served as Mozilla-Intermediate (with a warning).
        policy("old.test", "Mozilla-Old"),
    ];
    let server = Server::start(&pki.certs(), sites).await;

    let (ok, out) = s_client(server.addr, &["-servername", "modern.test", "-tls1_2"]).await;
    assert!(
        !ok && out.contains("alert protocol version"),
        "Mozilla-Modern must refuse TLS 1.2:\n{out}"
    );
    let (ok, out) = s_client(server.addr, &["-servername", "modern.test", "-tls1_3"]).await;
    assert!(ok && out.contains("TLSv1.3"), "{out}");
    for host in ["inter.test", "old.test"] {
        let (ok, out) = s_client(server.addr, &["-servername", host, "-tls1_2"]).await;
        assert!(ok && out.contains("Protocol  : TLSv1.2"), "{host}: {out}");
        assert!(out.contains("Cipher    : ECDHE-"), "{host}: {out}");
        let (ok, out) = s_client(server.addr, &["-servername", host, "-tls1_1"]).await;
        assert!(!ok, "{host} must refuse TLS 1.1:\n{out}");
    }
    let tls12 = Client::with(&[b"http/1.1"], &[&TLS12]);
    assert!(tls12.get(server.addr, "modern.test").await.is_err());
    let seen = tls12.get(server.addr, "inter.test").await.unwrap();
    assert_eq!(seen.version, rustls::ProtocolVersion::TLSv1_2);
    let seen = Client::new().get(server.addr, "modern.test").await.unwrap();
    assert_eq!(seen.version, rustls::ProtocolVersion::TLSv1_3);
}

/// A TLS-ALPN-01 validation certificate as the ACME reconciler makes it (RFC 8737).
fn validation_cert(host: &str) -> Arc<rustls::sign::CertifiedKey> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "acme-validation");
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(&[7; 32])];
    let cert = params.self_signed(&key).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&der).unwrap();
    Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    ))
}

#[tokio::test]
async fn acme_tls_alpn_01() {
    let pki = Pki::new();
    pki.install("site.test", "site", &["site.test"]);
    let server = Server::start(&pki.certs(), vec![site("site.test")]).await;
    let acme = Client::with(&[b"acme-tls/1"], &[&TLS13, &TLS12]);
    // Nothing pending: refused like any unknown name, even for a served site.
    for sni in ["new.test", "site.test"] {
        let err = acme.get(server.addr, sni).await.unwrap_err();
        assert_eq!(
            alert(&err),
            Some(AlertDescription::UnrecognisedName),
            "{sni}"
        );
    }
    server
        .challenges
        .set_tls_alpn01("new.test", validation_cert("new.test"));
    let seen = acme.get(server.addr, "new.test").await.unwrap();
    assert_eq!(
        (seen.cn.as_str(), seen.alpn.as_deref()),
        ("acme-validation", Some(&b"acme-tls/1"[..]))
    );
    let (ok, out) = s_client(
        server.addr,
        &["-servername", "new.test", "-alpn", "acme-tls/1"],
    )
    .await;
    assert!(ok && out.contains("ALPN protocol: acme-tls/1"), "{out}");
    assert!(out.contains("CN = acme-validation"), "{out}");
    // A normal client for that name is not given the validation certificate.
    let err = Client::new()
        .get(server.addr, "new.test")
        .await
        .unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::UnrecognisedName));
    // Offering acme-tls/1 next to other protocols is a normal connection.
    let mixed = Client::with(&[b"acme-tls/1", b"http/1.1"], &[&TLS13]);
    let seen = mixed.get(server.addr, "site.test").await.unwrap();
    assert_eq!(
        (seen.cn.as_str(), seen.alpn.as_deref()),
        ("site", Some(&b"http/1.1"[..]))
    );
}
