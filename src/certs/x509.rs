//! The one reader of a leaf certificate: the names it covers and its validity window, which the
//! TLS side needs to serve it and ACME needs to decide whether to order. Pure parsing of
//! PEM/DER with x509-parser.

use std::net::IpAddr;

use base64::Engine;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The facts about one leaf certificate that serving and scheduling depend on. Times are unix
/// seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertInfo {
    pub not_before: i64,
    pub not_after: i64,
    /// DNS SANs, lower-case, sorted, deduplicated: the host set ACME compares with the wanted one.
    pub names: Vec<String>,
    /// IP address SANs, in certificate order: clients accept the leaf for these too.
    pub ips: Vec<String>,
    /// The subject's first CN, lower-case: what clients match when there is no DNS or IP SAN.
    pub common_name: Option<String>,
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
    X509(#[source] X509Error),
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
        read(der).map_err(CertInfoError::X509)
    }

    /// Whether the SANs are exactly `hosts` (any order/case): a certificate for a different
    /// set of names must be re-ordered, one for the same set must not.
    pub fn covers_exactly(&self, hosts: &[String]) -> bool {
        let mut wanted: Vec<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        wanted.sort();
        wanted.dedup();
        wanted == self.names
    }

    /// Every name a TLS client accepts the leaf for (see [`crate::certs::covers`]): the DNS and
    /// IP SANs, or the CN when there are none (as browsers did before SANs were required).
    pub fn served_names(&self) -> Vec<String> {
        if self.names.is_empty() && self.ips.is_empty() {
            return self.common_name.iter().cloned().collect();
        }
        self.names.iter().chain(&self.ips).cloned().collect()
    }
}

/// Parses one DER certificate, keeping x509-parser's error for callers that name the file.
/// More than one SAN extension is an error (RFC 5280 allows one; clients disagree on the rest).
pub(super) fn read(der: &[u8]) -> Result<CertInfo, X509Error> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| match e {
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
        x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
    })?;
    let (mut names, mut ips) = (Vec::new(), Vec::new());
    if let Some(san) = cert.subject_alternative_name()? {
        for general in &san.value.general_names {
            match general {
                GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => ips.extend(ip_name(bytes)),
                _ => {}
            }
        }
    }
    names.sort();
    names.dedup();
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_ascii_lowercase);
    let validity = cert.validity();
    Ok(CertInfo {
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        names,
        ips,
        common_name,
        ari_id: ari_id(&cert),
    })
}

/// RFC 9773's identifier, from the Authority Key Identifier and the serial number.
fn ari_id(cert: &X509Certificate<'_>) -> Option<String> {
    // The last one counts, should there be several (x509-parser keeps them all).
    let aki = cert
        .extensions()
        .iter()
        .rev()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => Some(a.key_identifier.as_ref()),
            _ => None,
        })??
        .0;
    let serial = cert.tbs_certificate.raw_serial();
    Some(format!(
        "{}.{}",
        BASE64_URL_SAFE_NO_PAD.encode(aki),
        BASE64_URL_SAFE_NO_PAD.encode(serial)
    ))
}

/// A certificate's subject as nginx's `$ssl_client_s_dn` shows it (RFC 2253: last RDN first,
/// `,` between RDNs, `+` inside one, specials and non-ASCII bytes escaped), so the value is
/// plain ASCII header text. `None` when the DER is not a certificate.
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(dn(cert.subject()))
}

/// A certificate's issuer, written as [`subject_dn`] writes a subject: the dashboard and
/// `/api/v1/certificates` show who signed each certificate (a CA, or self-signed).
pub fn issuer_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(dn(cert.issuer()))
}

fn dn(name: &x509_parser::x509::X509Name<'_>) -> String {
    use x509_parser::objects::{oid_registry, oid2abbrev};
    let registry = oid_registry();
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            let attrs: Vec<String> = rdn
                .iter()
                .map(|attr| {
                    let name = oid2abbrev(attr.attr_type(), registry)
                        .map_or_else(|_| attr.attr_type().to_id_string(), str::to_owned);
                    let value = match attr.as_str() {
                        Ok(text) => escape_dn_value(text),
                        Err(_) => format!("#{}", hex(attr.attr_value().data)),
                    };
                    format!("{name}={value}")
                })
                .collect();
            attrs.join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

/// RFC 2253 §2.4 escaping, plus OpenSSL's `\XX` for control and non-ASCII bytes.
fn escape_dn_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let last = text.len().saturating_sub(1);
    for (i, byte) in text.bytes().enumerate() {
        match byte {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            b'#' if i == 0 => out.push_str("\\#"),
            b' ' if i == 0 || i == last => out.push_str("\\ "),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:02X}")),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An IP address SAN as text (4 or 16 bytes; anything else is not an address).
fn ip_name(bytes: &[u8]) -> Option<String> {
    let ip: IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok()?.into(),
        16 => <[u8; 16]>::try_from(bytes).ok()?.into(),
        _ => return None,
    };
    Some(ip.to_string())
}

#[cfg(test)]
#[path = "x509_tests.rs"]
mod tests;
