//! The acme-companion settings that shape one order (`ACME_CERT_PROFILE`, ARI `replaces`,
//! `ACME_PREFERRED_CHAIN`, `ACME_OCSP`, `ACME_KEYSIZE=ec-521|8192`, `ZEROSSL_API_KEY`), each
//! against real Pebble. Where Pebble 2.4 has no such feature (profiles, ARI) a small double in
//! front of it adds only that (`common::acme_double`); ZeroSSL's API is a double of its one
//! endpoint.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::acme::{Harness, harness};
use common::acme_double::{DirectoryDouble, zerossl_api};
use common::pebble::{EAB_HMAC, EAB_KID, Options};
use common::{logs, responders};
use dockside::acme::{KeyType, Step, ZeroSslEab, ZeroSslKey};
use x509_parser::prelude::{FromDer, X509Certificate};

fn leaf_der(h: &Harness, base: &str) -> Vec<u8> {
    let pem = std::fs::read(h.certs.path().join(base).join("cert.pem")).unwrap();
    rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|c: rustls_pki_types::CertificateDer<'_>| c.to_vec())
        .unwrap()
}

fn cn_of(pem: &str) -> String {
    let der: rustls_pki_types::CertificateDer<'_> =
        rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_owned()
}

/// The issuer CN of the last certificate in `<base>/fullchain.pem`.
fn top_issuer(h: &Harness, base: &str) -> String {
    let pem = std::fs::read(h.certs.path().join(base).join("fullchain.pem")).unwrap();
    let last: rustls_pki_types::CertificateDer<'_> =
        rustls_pki_types::pem::PemObject::pem_slice_iter(&pem)
            .map(Result::unwrap)
            .last()
            .unwrap();
    let (_, cert) = X509Certificate::from_der(&last).unwrap();
    let cn = cert.issuer().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_is_sent_when_the_ca_lists_it_else_dropped_with_a_warning() {
    logs::capture();
    let h = harness(Options::default()).await;
    let double = DirectoryDouble::start(
        &h.pebble,
        &[("shortlived", "6 days"), ("tlsserver", "45 days")],
    )
    .await;
    let mut spec = h.spec(&["profile.example.test"]);
    spec.ca_url = double.url.clone();
    spec.profile = Some("shortlived".into());
    h.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut other = h.spec(&["noprofile.example.test"]);
    other.ca_url = double.url.clone();
    other.profile = Some("longlived".into());
    h.issuer()
        .issue(&other)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let orders = double.orders();
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!(orders[0]["profile"], "shortlived", "{orders:?}");
    assert!(orders[1].get("profile").is_none(), "{orders:?}");
    logs::wait_line(
        &[
            "container-noprofile.example.test",
            "ACME_CERT_PROFILE",
            "longlived",
            "not offered",
        ],
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_carry_replaces_and_survive_a_refusal() {
    logs::capture();
    let h = harness(Options::default()).await;
    let double = DirectoryDouble::start(&h.pebble, &[]).await;
    let mut spec = h.spec(&["renew.example.test"]);
    spec.ca_url = double.url.clone();
    let first = h
        .issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first_id = first
        .info
        .ari_id
        .clone()
        .expect("Pebble's certificate has an AKI");
    let second = h
        .issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    double.refuse_next_replaces();
    h.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let orders = double.orders();
    let replaces: Vec<Option<&str>> = orders.iter().map(|o| o["replaces"].as_str()).collect();
    let second_id = second.info.ari_id.clone().unwrap();
    // A first order replaces nothing; a renewal names the certificate on disk; a refused
    // `replaces` is retried once without it.
    assert_eq!(
        replaces,
        [
            None,
            Some(first_id.as_str()),
            Some(second_id.as_str()),
            None
        ],
        "{orders:?}"
    );
    logs::wait_line(
        &[
            "container-renew.example.test",
            "alreadyReplaced",
            "without it",
        ],
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_chain_picks_the_alternate_root_or_warns_and_keeps_the_default() {
    logs::capture();
    let h = harness(Options {
        alternate_roots: 2,
        ..Options::default()
    })
    .await;
    let (default_root, alternate_root) = (h.pebble.root(0).await, h.pebble.root(1).await);
    let (default_cn, alternate_cn) = (cn_of(&default_root), cn_of(&alternate_root));
    assert_ne!(default_cn, alternate_cn);
    let mut spec = h.spec(&["chain.example.test"]);
    spec.preferred_chain = Some(alternate_cn.to_lowercase());
    h.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(top_issuer(&h, "chain.example.test"), alternate_cn);
    responders::verify_served(h.certs.path(), "chain.example.test", &alternate_root).await;

    let mut unknown = h.spec(&["nochain.example.test"]);
    unknown.preferred_chain = Some("No Such Root".into());
    h.issuer()
        .issue(&unknown)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(top_issuer(&h, "nochain.example.test"), default_cn);
    let line = logs::wait_line(
        &[
            "container-nochain.example.test",
            "ACME_PREFERRED_CHAIN",
            "No Such Root",
        ],
        Duration::from_secs(5),
    )
    .await;
    assert!(
        line.contains(&alternate_cn) && line.contains(&default_cn),
        "names what was offered: {line}"
    );
    let warnings = logs::text()
        .lines()
        .filter(|l| l.contains("container-nochain.example.test") && l.contains("WARN"))
        .count();
    assert_eq!(warnings, 1, "{}", logs::text());
}

/// The extension `oid` of a CSR's extension request, if asked for.
fn csr_extension(der: &[u8], oid: &str) -> Option<Vec<u8>> {
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::cri_attributes::ParsedCriAttribute;
    let (_, csr) = X509CertificationRequest::from_der(der).unwrap();
    let attributes = csr.certification_request_info.iter_attributes();
    attributes
        .filter_map(|a| match a.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(req) => Some(req.extensions.clone()),
            _ => None,
        })
        .flatten()
        .find(|e| e.oid.to_id_string() == oid)
        .map(|e| e.value.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_must_staple_is_asked_for_with_one_warning() {
    const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
    logs::capture();
    let h = harness(Options::default()).await;
    // Pebble 2.4 issues without the TLS Feature extension even when the CSR asks for it, so
    // the CSR is what is checked: the double records every finalize request's CSR.
    let double = DirectoryDouble::start(&h.pebble, &[]).await;
    let mut spec = h.spec(&["staple.example.test"]);
    spec.ca_url = double.url.clone();
    spec.ocsp_must_staple = true;
    h.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut plain = h.spec(&["nostaple.example.test"]);
    plain.ca_url = double.url.clone();
    h.issuer()
        .issue(&plain)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let csrs = double.csrs();
    assert_eq!(csrs.len(), 2);
    assert_eq!(
        csr_extension(&csrs[0], TLS_FEATURE).as_deref(),
        Some(&[0x30, 0x03, 0x02, 0x01, 0x05][..]),
        "SEQUENCE {{ INTEGER 5 }} (status_request)"
    );
    assert_eq!(csr_extension(&csrs[1], TLS_FEATURE), None);
    // Pebble here runs no OCSP responder (ocspResponderURL ""), like Let's Encrypt since 2025.
    logs::wait_line(
        &[
            "container-staple.example.test",
            "ACME_OCSP",
            "no OCSP responder",
        ],
        Duration::from_secs(5),
    )
    .await;
    let warnings = logs::text()
        .lines()
        .filter(|l| l.contains("ACME_OCSP") && l.contains("example.test"))
        .count();
    assert_eq!(warnings, 1, "{}", logs::text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec521_and_rsa8192_certificates_are_issued_and_serve_a_verified_handshake() {
    let h = harness(Options::default()).await;
    let root = h.pebble.issuer_root().await;
    for (host, key_type, algorithm) in [
        ("p521.example.test", KeyType::EcP521, "1.2.840.10045.2.1"),
        (
            "rsa8192.example.test",
            KeyType::Rsa8192,
            "1.2.840.113549.1.1.1",
        ),
    ] {
        let mut spec = h.spec(&[host]);
        spec.key_type = key_type;
        let issued = h
            .issuer()
            .issue(&spec)
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        // Not asserted (no timings in tests): how much the key generation adds to an order.
        eprintln!("{host}: order took {:?}", issued.elapsed);
        let der = leaf_der(&h, host);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let spki = cert.public_key();
        assert_eq!(spki.algorithm.algorithm.to_id_string(), algorithm, "{host}");
        let size = match spki.parsed().unwrap() {
            x509_parser::public_key::PublicKey::RSA(rsa) => format!("{} bits", rsa.key_size()),
            // The named curve is the algorithm's parameter.
            x509_parser::public_key::PublicKey::EC(_) => {
                let params = spki.algorithm.parameters.as_ref().unwrap();
                params.as_oid().unwrap().to_id_string()
            }
            other => panic!("{host}: {other:?}"),
        };
        let want = match key_type {
            KeyType::EcP521 => "1.3.132.0.35",
            _ => "8192 bits",
        };
        assert_eq!(size, want, "{host}");
        responders::verify_served(h.certs.path(), host, &root).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zerossl_api_key_fetches_eab_for_a_new_account() {
    let h = harness(Options {
        eab: true,
        ..Options::default()
    })
    .await;
    let (api, calls, _api_task) = zerossl_api("the-api-key", (EAB_KID, EAB_HMAC)).await;
    let mut wrong = h.spec(&["zerosslwrong.example.test"]);
    wrong.zerossl = Some(ZeroSslEab {
        api: api.clone(),
        key: ZeroSslKey("not-the-key".into()),
    });
    let err = h.issuer().issue(&wrong).await.unwrap_err();
    assert_eq!(err.step, Step::Account, "{err}");
    let line = err.to_string();
    assert!(
        line.contains("ZEROSSL_API_KEY") && line.contains("invalid_access_key"),
        "{line}"
    );
    assert!(
        !line.contains("not-the-key"),
        "the key is never shown: {line}"
    );

    let mut spec = h.spec(&["zerossl.example.test"]);
    spec.zerossl = Some(ZeroSslEab {
        api,
        key: ZeroSslKey("the-api-key".into()),
    });
    h.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The account is stored: the next order does not ask ZeroSSL again.
    h.issuer()
        .issue(&h.spec(&["zerossl2.example.test"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let root = h.pebble.issuer_root().await;
    responders::verify_served(h.certs.path(), "zerossl.example.test", &root).await;
}
