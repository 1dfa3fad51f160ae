//! Certificate selection for a site, exactly as nginx-proxy §1.6.7 (pure): `CERT_NAME`, then
//! `<host>.crt`, then the parent one level up, then `default` when trusted. The first candidate
//! that exists is chosen and there is **no fall-through**: a chosen name without a usable key
//! means the site has no certificate (`cert_ok` false).

use std::sync::Arc;

use crate::certs::{CertEntry, CertMap};

/// The inputs nginx-proxy uses, taken from a resolved `SiteRoute`.
#[derive(Debug, Clone, Copy)]
pub struct SiteCertInputs<'a> {
    /// The `VIRTUAL_HOST` item (`*.b.c` is looked up as `b.c` via the parent rule).
    pub host: &'a str,
    /// `CERT_NAME`; empty counts as unset, like in the template.
    pub cert_name: Option<&'a str>,
    /// `TRUST_DEFAULT_CERT` (label or global).
    pub trust_default_cert: bool,
}

/// The outcome of selection: which name was chosen and whether it can be served.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The chosen name, `None` when no candidate exists.
    pub name: Option<String>,
    /// The certificate to serve; `None` means `cert_ok` is false.
    pub cert: Option<Arc<CertEntry>>,
}

impl Selection {
    /// nginx-proxy's `cert_ok`: a certificate was chosen and both its files load.
    pub fn cert_ok(&self) -> bool {
        self.cert.is_some()
    }
}

/// Chooses the certificate name for a site (nginx-proxy template lines 767–787).
pub fn select_name(site: SiteCertInputs<'_>, certs: &CertMap) -> Option<String> {
    if let Some(user) = site.cert_name.filter(|n| !n.is_empty()) {
        return Some(user.to_owned());
    }
    let host = site.host.to_ascii_lowercase();
    if certs.has_crt(&host) {
        return Some(host);
    }
    if let Some(parent) = parent(&host)
        && certs.has_crt(parent)
    {
        return Some(parent.to_owned());
    }
    (site.trust_default_cert && certs.default_cert().is_some()).then(|| "default".to_owned())
}

/// Selection plus the `cert_ok` check.
pub fn select(site: SiteCertInputs<'_>, certs: &CertMap) -> Selection {
    let name = select_name(site, certs);
    let cert = name.as_deref().and_then(|n| certs.get(n)).cloned();
    Selection { name, cert }
}

/// `a.b.c` → `b.c` when the host has more than two labels (one level only).
fn parent(host: &str) -> Option<&str> {
    let (_, rest) = host.split_once('.')?;
    rest.contains('.').then_some(rest)
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
