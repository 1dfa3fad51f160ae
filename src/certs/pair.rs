//! One certificate/key pair made servable: PEM parsing, the key-matches-certificate check, and
//! the names the leaf covers (read by `x509`, for the HTTP layer's 421 check). No file IO here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::x509;

/// Why a certificate pair cannot be served. Every variant names the file it is about; none
/// carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: malformed PEM certificate: {}", pem_reason(source))]
    CertPem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: no PEM private key (PKCS#1, PKCS#8 or SEC1) found")]
    NoKey { path: PathBuf },
    #[error("{path}: malformed PEM private key")]
    KeyPem { path: PathBuf },
    #[error("{key}: this private key does not belong to the certificate in {crt}")]
    Mismatch { crt: PathBuf, key: PathBuf },
    #[error("{path}: unusable private key or certificate: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("{path}: the leaf certificate is not valid X.509: {source}")]
    X509 {
        path: PathBuf,
        #[source]
        source: x509_parser::error::X509Error,
    },
}

/// A readable reason for a PEM error (the library's Display prints markers as byte arrays).
fn pem_reason(err: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match err {
        Error::MissingSectionEnd { end_marker } => {
            format!("missing {:?}", String::from_utf8_lossy(end_marker))
        }
        Error::IllegalSectionStart { .. } => "malformed \"-----BEGIN\" line".to_owned(),
        Error::Base64Decode(_) => "invalid base64".to_owned(),
        other => other.to_string(),
    }
}

/// A usable certificate: the signing key rustls serves plus what the HTTP layer needs to know.
#[derive(Debug)]
pub struct CertEntry {
    /// The store name (`example.com` for `example.com.crt`, `default` for `default.crt`).
    pub name: String,
    pub key: Arc<CertifiedKey>,
    /// Lower-case DNS names (SAN, or the CN when there is no SAN) and IP addresses the leaf covers;
    /// shared, not copied, with every connection it is served on (the 421 check reads it).
    pub names: Arc<[String]>,
    /// The leaf's `notAfter`, unix seconds: ACME renewal and status pages read it.
    pub not_after: i64,
    /// Hash of the `.crt` and `.key` bytes, to spot replaced files without reparsing.
    pub(crate) digest: u64,
}

impl CertEntry {
    /// Whether this certificate is valid for `host` (lower-case, no port): exact name, or a
    /// `*.` wildcard covering exactly one more label, or a matching IP address.
    pub fn covers(&self, host: &str) -> bool {
        covers(&self.names, host)
    }

    /// Whether the leaf has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        now > self.not_after
    }
}

/// Whether one of `names` (as in [`CertEntry::names`]) covers `host`, per RFC 6125 wildcard rules.
pub fn covers(names: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    names.iter().any(|name| match name.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => name == host,
    })
}

/// Parses a `.crt` (PEM chain, leaf first) and `.key` (PEM private key) pair and checks that
/// the key belongs to the leaf. `digest` identifies the file contents (see [`CertEntry`]).
pub fn parse_pair(
    name: &str,
    crt_path: &Path,
    crt_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
    digest: u64,
    provider: &CryptoProvider,
) -> Result<CertEntry, CertError> {
    let chain = CertificateDer::pem_slice_iter(crt_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| CertError::CertPem {
            path: crt_path.to_owned(),
            source,
        })?;
    let Some(leaf) = chain.first() else {
        return Err(CertError::NoCertificate {
            path: crt_path.to_owned(),
        });
    };
    let info = x509::read(leaf).map_err(|source| CertError::X509 {
        path: crt_path.to_owned(),
        source,
    })?;
    let key = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(key) => key,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(CertError::NoKey {
                path: key_path.to_owned(),
            });
        }
        // The pem error may quote file contents: report only that it is malformed.
        Err(_) => {
            return Err(CertError::KeyPem {
                path: key_path.to_owned(),
            });
        }
    };
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|source| match source {
        rustls::Error::InconsistentKeys(_) => CertError::Mismatch {
            crt: crt_path.to_owned(),
            key: key_path.to_owned(),
        },
        source => CertError::Key {
            path: key_path.to_owned(),
            source,
        },
    })?;
    Ok(CertEntry {
        name: name.to_owned(),
        key: Arc::new(key),
        names: info.served_names().into(),
        not_after: info.not_after,
        digest,
    })
}

#[cfg(test)]
#[path = "pair_tests.rs"]
mod tests;
