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
#[path = "alpn_tests.rs"]
mod tests;
