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
#[path = "keys_tests.rs"]
mod tests;
