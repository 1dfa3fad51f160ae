use super::*;
use x509_parser::prelude::FromDer;

#[test]
fn csr_for_every_key_type_names_all_hosts() {
    for kt in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
        let (key, der) = csr(kt, vec!["a.test".into(), "b.test".into()], None).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{kt:?}");
        let (_, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        let sans: Vec<String> = req
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(s) => Some(
                    s.general_names
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(sans, ["DNSName(a.test)", "DNSName(b.test)"], "{kt:?}");
    }
}

#[test]
fn renewals_keep_a_fitting_key_only() {
    let (first, _) = csr(KeyType::EcP256, vec!["a.test".into()], None).unwrap();
    let (kept, _) = csr(KeyType::EcP256, vec!["a.test".into()], Some(first.clone())).unwrap();
    assert_eq!(kept, first);
    let (changed, _) = csr(KeyType::EcP384, vec!["a.test".into()], Some(first.clone())).unwrap();
    assert_ne!(changed, first, "a key of another type is not reused");
    let (fresh, _) = csr(
        KeyType::EcP256,
        vec!["a.test".into()],
        Some("garbage".into()),
    )
    .unwrap();
    assert_ne!(fresh, first);
}
