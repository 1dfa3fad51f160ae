//! Tests for parsing a certificate/key pair and for name coverage.

use super::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn covers_follows_wildcard_rules() {
    let n = names(&["example.com", "*.example.org", "127.0.0.1", "::1"]);
    let cases = [
        ("example.com", true),
        ("EXAMPLE.com.", true),
        ("www.example.com", false),
        ("a.example.org", true),
        ("example.org", false),
        ("a.b.example.org", false),
        ("127.0.0.1", true),
        ("[::1]", true),
        ("other.net", false),
    ];
    for (host, want) in cases {
        assert_eq!(covers(&n, host), want, "{host}");
    }
}

fn pair(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let params = rcgen::CertificateParams::new(vec!["a.test".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn parse(crt: &str, key: &str) -> Result<CertEntry, CertError> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    parse_pair(
        "a.test",
        Path::new("/c/a.test.crt"),
        crt.as_bytes(),
        Path::new("/c/a.test.key"),
        key.as_bytes(),
        0,
        &provider,
    )
}

#[test]
fn parses_names_and_rejects_mismatched_key() {
    let (crt, key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let entry = parse(&crt, &key).unwrap();
    assert_eq!(*entry.names, names(&["a.test", "127.0.0.1"]));
    assert!(entry.covers("a.test") && !entry.covers("b.test"));
    let (_, other_key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let err = parse(&crt, &other_key).unwrap_err();
    assert!(matches!(err, CertError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("/c/a.test.key"), "{err}");
    assert!(err.to_string().contains("/c/a.test.crt"), "{err}");
}

#[test]
fn garbage_is_reported_with_the_file_and_without_contents() {
    let (crt, _) = pair(&rcgen::PKCS_ED25519);
    let err = parse("nothing here", "x").unwrap_err();
    assert!(matches!(err, CertError::NoCertificate { .. }), "{err}");
    let secret = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET!!\n-----END PRIVATE KEY-----\n";
    let err = parse(&crt, secret).unwrap_err().to_string();
    assert!(
        err.contains("a.test.key") && !err.contains("SECRET"),
        "{err}"
    );
    let err = parse(&crt, "").unwrap_err();
    assert!(matches!(err, CertError::NoKey { .. }), "{err}");
}
