//! Client-certificate CAs for mTLS (nginx-proxy §1.5): `<VH>.ca.crt` (+ `<VH>.crl.pem`) and the
//! global `ca.crt` (+ `ca.crl.pem`) in the certificate directory, each made into a verifier once
//! per file contents (rustls' `WebPkiClientVerifier`: chain to the CA, validity dates, CRL).
//!
//! Like certificate pairs, a CA or CRL file that fails to load logs one warning (once per file
//! contents, after it has settled) and the **last good** CA and CRL are kept. A CA whose files
//! never loaded is kept as an unusable entry: its sites still ask for a client certificate, and
//! every certificate fails verification (fail closed) until the file is fixed.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};

use super::store::settled;

/// The key of the global `ca.crt` in [`ClientCas`]; a host's key is its `<VH>`.
pub const GLOBAL: &str = "";

/// Why a CA or CRL file cannot be used. Every variant names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: no PEM certificate found: put the CA certificate(s) that sign client certificates here"
    )]
    NoCertificate { path: PathBuf },
    #[error("{path}: malformed PEM certificate: {source}")]
    CertPem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: not a usable CA certificate: {source}")]
    Anchor {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "{path}: no PEM \"X509 CRL\" block found: write the CA's CRL in PEM, or remove the file"
    )]
    NoCrl { path: PathBuf },
    #[error("{path}: malformed PEM CRL: {source}")]
    CrlPem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: unusable CRL: {source}")]
    Crl {
        path: PathBuf,
        #[source]
        source: VerifierBuilderError,
    },
}

/// One CA file with its CRL, ready to judge client certificates.
#[derive(Debug)]
pub struct ClientCa {
    /// The CA file (`<VH>.ca.crt` or `ca.crt`), for `dockside check` and logs.
    pub ca_file: PathBuf,
    /// The CRL read with it (`<VH>.crl.pem` or `ca.crl.pem`), if that file exists.
    pub crl_file: Option<PathBuf>,
    /// Hash of the CA and CRL bytes, to spot replaced files without reparsing.
    pub(crate) digest: u64,
    /// `None` when the files never loaded: every certificate then fails (fail closed).
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// Why the files never loaded (for `dockside check`).
    pub problem: Option<String>,
}

impl ClientCa {
    /// Whether the files loaded (now or before: the last good ones are kept).
    pub fn is_usable(&self) -> bool {
        self.verifier.is_some()
    }

    /// Subjects of the CA certificates: the names a CertificateRequest lists, so browsers offer
    /// only certificates this CA signed. Empty for an unusable CA.
    pub fn hints(&self) -> &[DistinguishedName] {
        self.verifier
            .as_ref()
            .map_or(&[], |v| v.root_hint_subjects())
    }

    /// Verifies a client's chain (leaf first) against the CA and CRL at `now`: signatures,
    /// validity dates, revocation (every certificate of the chain needs a CRL entry check when a
    /// CRL is given, as nginx's `ssl_crl`; an expired CRL fails too). `None` from an unusable CA.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Option<Result<(), rustls::Error>> {
        let verifier = self.verifier.as_ref()?;
        let (leaf, intermediates) = chain.split_first()?;
        Some(
            verifier
                .verify_client_cert(leaf, intermediates, now)
                .map(drop),
        )
    }
}

/// Every CA file of the directory by key (`<VH>`, or [`GLOBAL`]), plus the digests of contents
/// that failed to load (so a rescan does not repeat the warning).
#[derive(Debug, Clone, Default)]
pub struct ClientCas {
    cas: BTreeMap<String, Arc<ClientCa>>,
    failed: BTreeMap<String, u64>,
}

impl PartialEq for ClientCas {
    fn eq(&self, other: &Self) -> bool {
        self.cas.len() == other.cas.len()
            && self.cas.iter().zip(&other.cas).all(|((a, x), (b, y))| {
                a == b && x.digest == y.digest && x.is_usable() == y.is_usable()
            })
    }
}

impl ClientCas {
    /// The CA for a site whose file name is `vh` (nginx-proxy's `<VH>`): its own file, else the
    /// global `ca.crt`; `None` when neither exists.
    pub fn for_site(&self, vh: &str) -> Option<&Arc<ClientCa>> {
        self.cas.get(vh).or_else(|| self.cas.get(GLOBAL))
    }

    /// Loads the CA files among `crt_names` (the directory's `*.crt` names: `ca` is the global
    /// one, `<VH>.ca` a host's), reusing `previous` entries whose files did not change. Returns
    /// whether a failing file may still be mid-write (the watcher then looks again).
    pub(super) fn scan(
        dir: &Path,
        crt_names: &[String],
        previous: &ClientCas,
        provider: &Arc<CryptoProvider>,
    ) -> (ClientCas, bool) {
        let mut out = ClientCas::default();
        let mut unsettled = false;
        for stem in crt_names {
            let key = match stem.as_str() {
                "ca" => GLOBAL,
                other => match other.strip_suffix(".ca") {
                    Some(vh) => vh,
                    None => continue,
                },
            };
            let files = Files::of(dir, stem);
            let (ca, failure) = load(&files, previous.cas.get(key), provider);
            if let Some((digest, err)) = failure {
                let paths = [Some(&files.ca), files.crl.as_ref()];
                if !paths.into_iter().flatten().all(|p| settled(p)) {
                    unsettled = true;
                } else {
                    if previous.failed.get(key) != Some(&digest) {
                        let kept = if ca.is_usable() {
                            "keeping the last good CA and CRL"
                        } else {
                            "client certificates for its sites are refused until it is fixed"
                        };
                        tracing::warn!("client certificate CA: {err}; {kept}");
                    }
                    out.failed.insert(key.to_owned(), digest);
                }
            }
            out.cas.insert(key.to_owned(), ca);
        }
        (out, unsettled)
    }

    /// Every CA by key, for reports.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<ClientCa>)> {
        self.cas.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The files of one CA: `<stem>.crt` and, when it exists, the CRL next to it.
struct Files {
    ca: PathBuf,
    crl: Option<PathBuf>,
}

impl Files {
    /// `ca` → `ca.crl.pem`; `<VH>.ca` → `<VH>.crl.pem` (nginx-proxy's pairing: a host's CA file
    /// never uses the global CRL).
    fn of(dir: &Path, stem: &str) -> Files {
        let crl_stem = stem.strip_suffix(".ca").unwrap_or("ca");
        let crl = dir.join(format!("{crl_stem}.crl.pem"));
        Files {
            ca: dir.join(format!("{stem}.crt")),
            crl: crl.is_file().then_some(crl),
        }
    }
}

/// Loads one CA; on failure returns the entry to publish (the last good one, or an unusable
/// one) and the error with the digest of the failing contents.
fn load(
    files: &Files,
    previous: Option<&Arc<ClientCa>>,
    provider: &Arc<CryptoProvider>,
) -> (Arc<ClientCa>, Option<(u64, CaError)>) {
    let failed = |digest: u64, err: CaError| {
        let ca = match previous.filter(|p| p.is_usable()) {
            Some(good) => good.clone(),
            None => Arc::new(ClientCa {
                ca_file: files.ca.clone(),
                crl_file: files.crl.clone(),
                digest,
                verifier: None,
                problem: Some(err.to_string()),
            }),
        };
        (ca, Some((digest, err)))
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| CaError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let ca_pem = match read(&files.ca) {
        Ok(pem) => pem,
        Err(err) => return failed(u64::MAX, err),
    };
    let crl = match &files.crl {
        Some(path) => match read(path) {
            Ok(pem) => Some((path.as_path(), pem)),
            Err(err) => return failed(u64::MAX, err),
        },
        None => None,
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&ca_pem, crl.as_ref().map(|(_, pem)| pem)).hash(&mut hasher);
    let digest = hasher.finish();
    // A broken entry is parsed again, so its warning is logged once the file has settled.
    if let Some(same) = previous.filter(|p| p.digest == digest && p.is_usable()) {
        return (same.clone(), None);
    }
    match verifier(&files.ca, &ca_pem, crl, provider) {
        Ok(verifier) => {
            tracing::info!(file = %files.ca.display(), crl = ?files.crl, "client certificate CA loaded");
            let ca = ClientCa {
                ca_file: files.ca.clone(),
                crl_file: files.crl.clone(),
                digest,
                verifier: Some(verifier),
                problem: None,
            };
            (Arc::new(ca), None)
        }
        Err(err) => failed(digest, err),
    }
}

/// The CA certificates as trust anchors, and the CRLs (with their expiry enforced, as OpenSSL
/// does for nginx's `ssl_crl`).
fn verifier(
    ca_path: &Path,
    ca_pem: &[u8],
    crl: Option<(&Path, Vec<u8>)>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, CaError> {
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(ca_pem) {
        let der = der.map_err(|source| CaError::CertPem {
            path: ca_path.to_owned(),
            source,
        })?;
        roots.add(der).map_err(|source| CaError::Anchor {
            path: ca_path.to_owned(),
            source,
        })?;
    }
    if roots.is_empty() {
        return Err(CaError::NoCertificate {
            path: ca_path.to_owned(),
        });
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated();
    let mut crl_path = ca_path;
    if let Some((path, pem)) = crl {
        crl_path = path;
        let crls = CertificateRevocationListDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| CaError::CrlPem {
                path: path.to_owned(),
                source,
            })?;
        if crls.is_empty() {
            return Err(CaError::NoCrl {
                path: path.to_owned(),
            });
        }
        builder = builder.with_crls(crls).enforce_revocation_expiration();
    }
    builder.build().map_err(|source| CaError::Crl {
        path: crl_path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[path = "client_ca_tests.rs"]
mod tests;
