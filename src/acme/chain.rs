//! The chains a CA sends back. `ACME_PREFERRED_CHAIN`: a CA may offer one certificate under
//! several chains (RFC 8555 §7.4.2, `Link: <url>;rel="alternate"` on the download); pick the
//! one whose topmost certificate was issued by the named CA, like acme.sh's
//! `--preferred-chain`. Also reads whether a leaf names an OCSP responder (`ACME_OCSP`).
//!
//! instant-acme neither exposes the download's `Link` headers nor a signed POST-as-GET to an
//! arbitrary URL. Our own `HttpClient` (`client::Recording`) records every certificate download
//! (`Downloads`), and `Account::order(url)` is instant-acme's signed POST-as-GET: pointed at an
//! alternate certificate URL, the request is what RFC 8555 asks for; instant-acme then fails to
//! read the PEM as an order, and the PEM is taken from the record instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Certificate downloads seen during one order: request URL → PEM and its alternates' URLs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Downloads(Arc<Mutex<HashMap<String, Download>>>);

#[derive(Debug, Clone)]
struct Download {
    pem: Bytes,
    alternates: Vec<String>,
}

/// RFC 8555 §7.4.2's media type for a certificate chain.
const PEM_CHAIN: &str = "application/pem-certificate-chain";

impl Downloads {
    /// Keeps a successful certificate download (any other answer is ignored).
    pub(crate) fn record(&self, url: &str, parts: &http::response::Parts, body: &Bytes) {
        let is_chain = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with(PEM_CHAIN));
        if !parts.status.is_success() || !is_chain {
            return;
        }
        let alternates = parts
            .headers
            .get_all(http::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(alternate_links)
            .collect();
        let download = Download {
            pem: body.clone(),
            alternates,
        };
        self.lock().insert(url.to_owned(), download);
    }

    /// The alternates offered with the download whose body is `pem`.
    fn alternates_of(&self, pem: &str) -> Vec<String> {
        self.lock()
            .values()
            .find(|d| d.pem == pem.as_bytes())
            .map(|d| d.alternates.clone())
            .unwrap_or_default()
    }

    fn pem(&self, url: &str) -> Option<String> {
        let pem = self.lock().get(url)?.pem.clone();
        String::from_utf8(pem.to_vec()).ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Download>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `rel="alternate"` URLs of one `Link` header value (several links may share one).
pub fn alternate_links(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            params
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("rel")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("alternate")
                })
                .then(|| url.to_owned())
        })
        .collect()
}

/// The common name of the issuer of the chain's last (topmost) certificate: the root a client
/// ends at. `None` for a chain without a parsable certificate or CN.
pub fn top_issuer_cn(pem: &str) -> Option<String> {
    let last = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .last()?;
    let (_, cert) = X509Certificate::from_der(&last).ok()?;
    let cn = cert.issuer().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// acme.sh compares the name case-insensitively.
pub fn matches(pem: &str, wanted: &str) -> bool {
    top_issuer_cn(pem).is_some_and(|cn| cn.trim().eq_ignore_ascii_case(wanted.trim()))
}

/// Whether the leaf (first certificate) names an OCSP responder (Authority Information Access,
/// id-ad-ocsp). Let's Encrypt stopped in 2025; Pebble never did.
pub fn has_ocsp_responder(pem: &str) -> bool {
    let Some(Ok(leaf)) = CertificateDer::pem_slice_iter(pem.as_bytes()).next() else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(&leaf) else {
        return false;
    };
    cert.iter_extensions()
        .any(|ext| match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs.iter().any(|d| {
                    d.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                })
            }
            _ => false,
        })
}

/// The chain to keep: `default` when its topmost issuer is `wanted`, else the first alternate
/// that is; when none is, `default` and one warning naming what the CA offered.
pub(super) async fn prefer(
    account: &instant_acme::Account,
    downloads: &Downloads,
    default: String,
    wanted: &str,
    source: &str,
) -> String {
    if matches(&default, wanted) {
        return default;
    }
    let mut offered: Vec<String> = top_issuer_cn(&default).into_iter().collect();
    for url in downloads.alternates_of(&default) {
        // A signed POST-as-GET; its PEM answer is recorded by `Downloads` (see the module doc).
        let fetched = account.order(url.clone()).await.err();
        match downloads.pem(&url) {
            Some(pem) if matches(&pem, wanted) => return pem,
            Some(pem) => offered.extend(top_issuer_cn(&pem)),
            None => tracing::warn!(
                source = %source, url = %url,
                error = fetched.map(|e| e.to_string()).unwrap_or_default(),
                "cannot download an alternate certificate chain"
            ),
        }
    }
    tracing::warn!(
        source = %source, offered = ?offered,
        "ACME_PREFERRED_CHAIN={wanted:?} matches none of the CA's chains (the issuer of the topmost certificate): keeping the default chain"
    );
    default
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
