//! TLS-ALPN-01 (RFC 8737) validation certificates: self-signed, one name, the critical
//! acmeIdentifier extension carrying SHA-256(key authorization). Built with `CertifiedKey::new`
//! because `from_der` rejects the critical extension.

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The ALPN protocol id the validator offers (RFC 8737); the TLS acceptor recognises a validation
/// by it and answers with `Challenges::tls_alpn01(sni)`, then closes. Declared here only: the
/// acceptor and the order code must not drift apart.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Why a validation certificate could not be built (never expected; reported, not panicked).
#[derive(Debug, thiserror::Error)]
pub enum AlpnCertError {
    #[error("building the validation certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("loading the validation key: {0}")]
    Key(#[from] rustls::Error),
}

/// The certificate the TLS acceptor must present to `acme-tls/1` handshakes for `host`.
pub fn validation_key(
    host: &str,
    key_authorization_digest: &[u8],
) -> Result<Arc<CertifiedKey>, AlpnCertError> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(
        key_authorization_digest,
    )];
    let cert = params.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = rustls::crypto::aws_lc_rs::sign::any_ecdsa_type(&der)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_the_acme_identifier_as_a_critical_extension() {
        let key = validation_key("a.test", &[7u8; 32]).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&key.cert[0]).unwrap();
        let oid = x509_parser::oid_registry::Oid::from(&[1, 3, 6, 1, 5, 5, 7, 1, 31]).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid == oid)
            .expect("acmeIdentifier");
        assert!(ext.critical);
        assert_eq!(&ext.value[2..], &[7u8; 32], "OCTET STRING of the digest");
    }
}
