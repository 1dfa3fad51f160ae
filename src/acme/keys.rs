//! Certificate keys and CSRs: a new key of the configured type per order (or the current one
//! when renewals keep their key), and a CSR whose SANs are the order's hosts.

use crate::acme::spec::KeyType;

/// The private key (PEM, PKCS#8) and a CSR (DER) naming every host; the subject stays empty.
/// `existing` (a renewal keeping its key) is used when it parses and fits `key_type`.
pub fn csr(
    key_type: KeyType,
    hosts: Vec<String>,
    existing: Option<String>,
) -> Result<(String, Vec<u8>), rcgen::Error> {
    let wanted = match key_type {
        KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    let reused = existing
        .and_then(|pem| rcgen::KeyPair::from_pem(&pem).ok())
        .filter(|k| k.algorithm() == wanted);
    let key = match reused {
        Some(key) => key,
        None => new_key(key_type)?,
    };
    let mut params = rcgen::CertificateParams::new(hosts)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.der().to_vec()))
}

fn new_key(key_type: KeyType) -> Result<rcgen::KeyPair, rcgen::Error> {
    Ok(match key_type {
        KeyType::EcP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        KeyType::EcP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
        KeyType::Rsa2048 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
        }
        KeyType::Rsa3072 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)?
        }
        KeyType::Rsa4096 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn csr_for_every_key_type_names_all_hosts() {
        for kt in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let (key, der) = csr(kt, vec!["a.test".into(), "b.test".into()], None).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{kt:?}");
            let (_, req) =
                x509_parser::certification_request::X509CertificationRequest::from_der(&der)
                    .unwrap();
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
        let (changed, _) =
            csr(KeyType::EcP384, vec!["a.test".into()], Some(first.clone())).unwrap();
        assert_ne!(changed, first, "a key of another type is not reused");
        let (fresh, _) = csr(
            KeyType::EcP256,
            vec!["a.test".into()],
            Some("garbage".into()),
        )
        .unwrap();
        assert_ne!(fresh, first);
    }
}
