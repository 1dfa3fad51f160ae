//! What the reconciler needs to know about a certificate on disk: its validity window, its
//! names and its ARI identifier. Pure parsing of PEM/DER with x509-parser.

use base64::Engine;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The facts about one leaf certificate that scheduling depends on. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub not_before: i64,
    pub not_after: i64,
    /// DNS SANs, lower-case, sorted, deduplicated.
    pub names: Vec<String>,
    /// RFC 9773 certificate identifier (`base64url(AKI keyIdentifier).base64url(serial)`),
    /// when the certificate has an Authority Key Identifier.
    pub ari_id: Option<String>,
}

/// Why a certificate file could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum CertInfoError {
    #[error("no PEM CERTIFICATE block")]
    NoCertificate,
    #[error("invalid PEM: {0}")]
    Pem(#[source] rustls_pki_types::pem::Error),
    #[error("invalid X.509 certificate: {0}")]
    X509(String),
}

impl CertInfo {
    /// Parses the first certificate of a PEM file (the leaf of a fullchain).
    pub fn from_pem(pem: &[u8]) -> Result<CertInfo, CertInfoError> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let first = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or(CertInfoError::NoCertificate)?;
        Self::from_der(&first.map_err(CertInfoError::Pem)?)
    }

    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertInfo, CertInfoError> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| CertInfoError::X509(e.to_string()))?;
        let validity = cert.validity();
        let mut names = Vec::new();
        let mut aki = None;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        if let GeneralName::DNSName(dns) = name {
                            names.push(dns.to_ascii_lowercase());
                        }
                    }
                }
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => {}
            }
        }
        names.sort();
        names.dedup();
        let serial = cert.tbs_certificate.raw_serial();
        let ari_id = aki.map(|aki| {
            format!(
                "{}.{}",
                BASE64_URL_SAFE_NO_PAD.encode(aki),
                BASE64_URL_SAFE_NO_PAD.encode(serial)
            )
        });
        Ok(CertInfo {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            names,
            ari_id,
        })
    }

    /// Whether the SANs are exactly `hosts` (any order/case): a certificate for a different
    /// set of names must be re-ordered, one for the same set must not.
    pub fn covers_exactly(&self, hosts: &[String]) -> bool {
        let mut wanted: Vec<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        wanted.sort();
        wanted.dedup();
        wanted == self.names
    }
}

#[cfg(test)]
#[path = "x509_tests.rs"]
mod tests;
