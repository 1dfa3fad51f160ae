use super::*;
use x509_parser::prelude::FromDer;

#[test]
fn csr_for_every_key_type_names_all_hosts() {
    for kt in [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::EcP521,
        KeyType::Rsa2048,
    ] {
        let (key, der) = csr(kt, vec!["a.test".into(), "b.test".into()], None, false).unwrap();
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
    let (first, _) = csr(KeyType::EcP256, vec!["a.test".into()], None, false).unwrap();
    let (kept, _) = csr(
        KeyType::EcP256,
        vec!["a.test".into()],
        Some(first.clone()),
        false,
    )
    .unwrap();
    assert_eq!(kept, first);
    let (changed, _) = csr(
        KeyType::EcP384,
        vec!["a.test".into()],
        Some(first.clone()),
        false,
    )
    .unwrap();
    assert_ne!(changed, first, "a key of another type is not reused");
    let (rsa, _) = csr(KeyType::Rsa2048, vec!["a.test".into()], None, false).unwrap();
    let (kept, _) = csr(
        KeyType::Rsa2048,
        vec!["a.test".into()],
        Some(rsa.clone()),
        false,
    )
    .unwrap();
    assert_eq!(kept, rsa);
    let (bigger, _) = csr(
        KeyType::Rsa3072,
        vec!["a.test".into()],
        Some(rsa.clone()),
        false,
    )
    .unwrap();
    assert_ne!(bigger, rsa, "a 2048-bit key is not reused for 3072");
    let (fresh, _) = csr(
        KeyType::EcP256,
        vec!["a.test".into()],
        Some("garbage".into()),
        false,
    )
    .unwrap();
    assert_ne!(fresh, first);
}

/// The extension values the CSR asks for, by OID (dotted).
fn requested(der: &[u8]) -> Vec<(String, Vec<u8>)> {
    let (_, req) =
        x509_parser::certification_request::X509CertificationRequest::from_der(der).unwrap();
    let attrs = req.certification_request_info.iter_attributes();
    let mut out = Vec::new();
    for attr in attrs {
        if let x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(ext) =
            attr.parsed_attribute()
        {
            for e in &ext.extensions {
                out.push((e.oid.to_id_string(), e.value.to_vec()));
            }
        }
    }
    out
}

#[test]
fn ocsp_must_staple_is_requested_only_when_asked() {
    let (_, with) = csr(KeyType::EcP256, vec!["a.test".into()], None, true).unwrap();
    let staple = (
        "1.3.6.1.5.5.7.1.24".to_string(),
        vec![0x30, 0x03, 0x02, 0x01, 0x05],
    );
    assert!(requested(&with).contains(&staple), "{:?}", requested(&with));
    let (_, without) = csr(KeyType::EcP256, vec!["a.test".into()], None, false).unwrap();
    assert!(
        requested(&without).iter().all(|(oid, _)| oid != &staple.0),
        "{:?}",
        requested(&without)
    );
}
