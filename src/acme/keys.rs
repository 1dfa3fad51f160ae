//! Certificate keys and CSRs: a new key of the configured type per order (or the current one
//! when renewals keep their key), and a CSR whose SANs are the order's hosts, asking for OCSP
//! must-staple when `ACME_OCSP=true`.

use crate::acme::spec::KeyType;

/// The private key (PEM, PKCS#8) and a CSR (DER) naming every host; the subject stays empty.
/// `existing` (a renewal keeping its key) is used when it parses and fits `key_type`.
/// Blocking: an RSA key takes up to seconds (8192 bits) to generate; call off the runtime.
pub fn csr(
    key_type: KeyType,
    hosts: Vec<String>,
    existing: Option<String>,
    must_staple: bool,
) -> Result<(String, Vec<u8>), rcgen::Error> {
    let wanted = match key_type {
        KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::EcP521 => &rcgen::PKCS_ECDSA_P521_SHA512,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    let reused = existing
        .and_then(|pem| rcgen::KeyPair::from_pem(&pem).ok())
        .filter(|k| k.algorithm() == wanted && rsa_bits(k) == key_type.rsa_bits());
    let key = match reused {
        Some(key) => key,
        None => new_key(key_type)?,
    };
    let mut params = rcgen::CertificateParams::new(hosts)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if must_staple {
        params.custom_extensions.push(must_staple_extension());
    }
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.der().to_vec()))
}

/// The modulus size of an RSA key (`None` for EC): all RSA sizes share one rcgen algorithm,
/// so a kept 2048-bit key must not pass for `ACME_KEYSIZE=8192`.
fn rsa_bits(key: &rcgen::KeyPair) -> Option<usize> {
    let rsa = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key.serialize_der()).ok()?;
    Some(rsa.public_modulus_len() * 8)
}

fn new_key(key_type: KeyType) -> Result<rcgen::KeyPair, rcgen::Error> {
    Ok(match key_type {
        KeyType::EcP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        KeyType::EcP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
        KeyType::EcP521 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)?,
        KeyType::Rsa2048 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
        }
        KeyType::Rsa3072 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)?
        }
        KeyType::Rsa4096 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)?
        }
        // rcgen's `RsaKeySize` stops at 4096: generate with aws-lc-rs and hand rcgen the PKCS#8.
        KeyType::Rsa8192 => {
            use aws_lc_rs::encoding::AsDer;
            let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa8192)
                .map_err(|_| rcgen::Error::RingUnspecified)?;
            let der = key.as_der().map_err(|_| rcgen::Error::RingUnspecified)?;
            let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_ref());
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)?
        }
    })
}

/// TLS Feature (RFC 7633, id-pe-tlsfeature) with `status_request` (5): "must staple".
pub const TLS_FEATURE_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 24];

/// The must-staple extension: DER `SEQUENCE { INTEGER 5 }`, not critical (as certbot and
/// acme.sh send it).
fn must_staple_extension() -> rcgen::CustomExtension {
    rcgen::CustomExtension::from_oid_content(TLS_FEATURE_OID, vec![0x30, 0x03, 0x02, 0x01, 0x05])
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
