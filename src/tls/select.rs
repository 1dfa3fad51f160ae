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
mod tests {
    use super::*;
    use crate::certs::write_pair;

    /// A store with these names; a name ending in `!` has a `.crt` but no `.key`.
    fn store(names: &[&str]) -> (tempfile::TempDir, CertMap) {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        for name in names {
            match name.strip_suffix('!') {
                Some(n) => std::fs::write(dir.path().join(format!("{n}.crt")), cert.pem()).unwrap(),
                None => write_pair(
                    dir.path(),
                    name,
                    cert.pem().as_bytes(),
                    key.serialize_pem().as_bytes(),
                )
                .unwrap(),
            }
        }
        let (map, errors) = CertMap::scan(dir.path(), &CertMap::default());
        assert!(errors.is_empty(), "{errors:?}");
        (dir, map)
    }

    /// (certs present, host, CERT_NAME, trust default, chosen name, cert_ok)
    type Case = (
        &'static [&'static str],
        &'static str,
        Option<&'static str>,
        bool,
        Option<&'static str>,
        bool,
    );

    #[test]
    fn nginx_proxy_selection_table() {
        let cases: &[Case] = &[
            (&["web.tld"], "web.tld", None, true, Some("web.tld"), true),
            (&["web.tld"], "WEB.tld", None, true, Some("web.tld"), true),
            (
                &["tld.example"],
                "a.tld.example",
                None,
                true,
                Some("tld.example"),
                true,
            ),
            (&["b.c"], "*.b.c", None, true, Some("b.c"), true),
            (
                &["example.tld"],
                "sub.www.example.tld",
                None,
                true,
                None,
                false,
            ),
            (
                &["example.tld", "default"],
                "sub.www.example.tld",
                None,
                true,
                Some("default"),
                true,
            ),
            (
                &["example.tld", "default"],
                "sub.www.example.tld",
                None,
                false,
                None,
                false,
            ),
            (
                &["example.tld"],
                "example.tld",
                Some(""),
                true,
                Some("example.tld"),
                true,
            ),
            (
                &["shared", "web.tld"],
                "web.tld",
                Some("shared"),
                true,
                Some("shared"),
                true,
            ),
            // CERT_NAME pointing at nothing: no fall-through to the exact certificate.
            (
                &["web.tld"],
                "web.tld",
                Some("missing"),
                true,
                Some("missing"),
                false,
            ),
            // exact .crt without .key: no fall-through to parent or default.
            (
                &["web.tld!", "tld", "default"],
                "web.tld",
                None,
                true,
                Some("web.tld"),
                false,
            ),
            (
                &["a.b!", "b", "default"],
                "x.a.b",
                None,
                true,
                Some("a.b"),
                false,
            ),
            // two labels have no parent rule.
            (&["tld"], "web.tld", None, false, None, false),
            (&["default"], "web.tld", None, true, Some("default"), true),
            (&["default!"], "web.tld", None, true, None, false),
            (&[], "web.tld", None, true, None, false),
        ];
        for (i, (present, host, cert_name, trust, want, ok)) in cases.iter().enumerate() {
            let (_dir, map) = store(present);
            let site = SiteCertInputs {
                host,
                cert_name: *cert_name,
                trust_default_cert: *trust,
            };
            let got = select(site, &map);
            assert_eq!(got.name.as_deref(), *want, "case {i}: {host}");
            assert_eq!(got.cert_ok(), *ok, "case {i}: {host}");
        }
    }
}
