//! Pure parts of chain selection: `Link` headers and the topmost issuer.

use super::*;

#[test]
fn alternate_links_are_read_from_link_headers() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"<https://ca.test/cert/1/1>;rel="alternate""#,
            &["https://ca.test/cert/1/1"],
        ),
        (
            r#"<https://ca.test/dir>;rel="index", <https://ca.test/c/2> ; rel=alternate"#,
            &["https://ca.test/c/2"],
        ),
        (r#"<https://ca.test/dir>;rel="index""#, &[]),
        ("garbage", &[]),
        (r#"https://ca.test/no-brackets;rel="alternate""#, &[]),
    ];
    for (value, want) in cases {
        assert_eq!(alternate_links(value), *want, "{value}");
    }
}

fn ca(
    cn: &str,
    issuer: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>,
) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert.pem(), rcgen::Issuer::new(params, key))
}

#[test]
fn the_topmost_issuer_names_the_chain() {
    let (_, root) = ca("Pebble Root CA 1a2b3c", None);
    let (intermediate, intermediate_issuer) = ca("Pebble Intermediate CA 4d5e6f", Some(&root));
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["a.test".to_string()])
        .unwrap()
        .signed_by(&key, &intermediate_issuer)
        .unwrap();
    let chain = format!("{}{intermediate}", leaf.pem());
    assert_eq!(
        top_issuer_cn(&chain).as_deref(),
        Some("Pebble Root CA 1a2b3c")
    );
    assert!(matches(&chain, " pebble root ca 1A2B3C "));
    assert!(
        !matches(&chain, "Pebble Intermediate CA 4d5e6f"),
        "the leaf's issuer is not the top"
    );
    assert!(
        !matches(&chain, "Pebble Root CA"),
        "a prefix is not a match"
    );
    assert_eq!(top_issuer_cn("no pem here"), None);
    assert!(!has_ocsp_responder(&chain), "rcgen writes no AIA");
}
