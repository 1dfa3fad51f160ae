//! The certificate directory (nginx-proxy layout): `<name>.crt` + `<name>.key`, `default.*`,
//! and acme-companion's `<base>/{fullchain,key}.pem` reached through `<host>.crt`/`<host>.key`
//! symlinks (followed; the name is the symlink's). A scan produces an immutable [`CertMap`].
//!
//! A pair that fails to parse or whose key does not match logs one warning naming the file and
//! why (once per file contents), and the map **inherits the last good entry** for that name.
//! A `.crt` without a `.key` is present but unusable (nginx-proxy's `cert_ok` is false), and so
//! is a broken pair that never loaded. Expired certificates are served, like nginx does, with a
//! warning when they are loaded: refusing them would turn a renewal failure into an outage.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::write_atomic;
use super::client_ca::ClientCas;
use super::pair::{self, CertEntry, CertError};

/// What a name in the directory gives: a certificate, or files that cannot be served.
#[derive(Debug, Clone)]
pub enum CertSlot {
    Ready(Arc<CertEntry>),
    /// `<name>.crt` exists but there is no `.key`, or the pair never loaded.
    Unusable,
}

/// An immutable scan of the certificate directory, swapped as a whole.
#[derive(Debug, Clone, Default)]
pub struct CertMap {
    slots: BTreeMap<String, CertSlot>,
    /// Digest of contents that failed to load, per name, so a rescan does not repeat the warning.
    failed: BTreeMap<String, u64>,
    /// Directories outside the store that symlinks point into (the watcher watches them too).
    pub(crate) link_dirs: BTreeSet<PathBuf>,
    /// Client-certificate CA files (mTLS).
    client_cas: ClientCas,
    unsettled: bool,
}

/// How long after its last modification a broken file is still assumed to be mid-write.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `path` (followed through symlinks) was last modified more than [`SETTLE`] ago.
pub(super) fn settled(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age >= SETTLE)
}

impl PartialEq for CertMap {
    /// Two maps are equal when every name has the same files and state: a rescan that finds
    /// nothing new is not published.
    fn eq(&self, other: &Self) -> bool {
        self.client_cas == other.client_cas
            && self.slots.len() == other.slots.len()
            && self.slots.iter().zip(&other.slots).all(|((a, x), (b, y))| {
                a == b
                    && match (x, y) {
                        (CertSlot::Ready(x), CertSlot::Ready(y)) => x.digest == y.digest,
                        (CertSlot::Unusable, CertSlot::Unusable) => true,
                        _ => false,
                    }
            })
    }
}

impl CertMap {
    /// Whether `<name>.crt` exists (nginx-proxy's first selection test).
    pub fn has_crt(&self, name: &str) -> bool {
        self.slots.contains_key(name)
    }

    /// The servable certificate called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Arc<CertEntry>> {
        match self.slots.get(name) {
            Some(CertSlot::Ready(entry)) => Some(entry),
            _ => None,
        }
    }

    /// `default.crt` + `default.key`, served for unknown names when present.
    pub fn default_cert(&self) -> Option<&Arc<CertEntry>> {
        self.get("default")
    }

    /// The client-certificate CA files (mTLS) found in the directory.
    pub fn client_cas(&self) -> &ClientCas {
        &self.client_cas
    }

    /// Every servable certificate, by name.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<CertEntry>> {
        self.slots.values().filter_map(|slot| match slot {
            CertSlot::Ready(e) => Some(e),
            CertSlot::Unusable => None,
        })
    }

    /// Scans `dir`, reusing `previous` entries whose files did not change and inheriting the last
    /// good entry where a pair is broken. Problems are returned, and logged once per file
    /// contents — but only once the files have settled (see [`SETTLE`]): a pair caught between
    /// the key's and the certificate's rename is a renewal in progress, not a fault. An unreadable
    /// directory keeps the previous map whole.
    pub fn scan(dir: &Path, previous: &CertMap) -> (CertMap, Vec<CertError>) {
        let names = match crt_names(dir) {
            Ok(names) => names,
            Err(source) => {
                let err = CertError::Read {
                    path: dir.to_owned(),
                    source,
                };
                let mut map = previous.clone();
                if map.failed.insert(String::new(), 0) != Some(0) {
                    tracing::warn!(
                        "certificate directory: {err}; keeping the certificates loaded before"
                    );
                }
                return (map, vec![err]);
            }
        };
        let mut map = CertMap::default();
        let mut errors = Vec::new();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (client_cas, unsettled) = ClientCas::scan(dir, &names, &previous.client_cas, &provider);
        map.client_cas = client_cas;
        map.unsettled = unsettled;
        for name in names {
            let crt = dir.join(format!("{name}.crt"));
            let key = dir.join(format!("{name}.key"));
            map.note_link(&crt);
            map.note_link(&key);
            if !key.exists() {
                map.slots.insert(name, CertSlot::Unusable);
                continue;
            }
            let (slot, failure) = load_one(&name, &crt, &key, previous, &provider);
            if let Some((digest, err)) = failure {
                if !settled(&crt) || !settled(&key) {
                    map.unsettled = true;
                } else {
                    if previous.failed.get(&name) != Some(&digest) {
                        tracing::warn!(certificate = %name, "{err}; keeping the last good certificate, if any");
                    }
                    map.failed.insert(name.clone(), digest);
                }
                errors.push(err);
            }
            map.slots.insert(name, slot);
        }
        (map, errors)
    }

    /// Whether a pair failed to load while its files were still being written: the watcher then
    /// scans again after [`SETTLE`].
    pub fn is_unsettled(&self) -> bool {
        self.unsettled
    }

    /// Remembers the directory a symlink points into, so changes there are watched too.
    fn note_link(&mut self, path: &Path) {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if let Some(dir) = is_link
            .then(|| std::fs::canonicalize(path).ok())
            .flatten()
            .and_then(|target| target.parent().map(Path::to_owned))
        {
            self.link_dirs.insert(dir);
        }
    }
}

/// Names of `*.crt` files (or symlinks to existing files) in `dir`; dot-files are temporaries.
fn crt_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let file_name = entry?.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(name) = file_name.strip_suffix(".crt")
            && !name.is_empty()
            && !name.starts_with('.')
            && dir.join(file_name).is_file()
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Loads one pair; on failure returns the slot to publish (last good or unusable) and the error
/// with the digest of the failing contents.
fn load_one(
    name: &str,
    crt: &Path,
    key: &Path,
    previous: &CertMap,
    provider: &rustls::crypto::CryptoProvider,
) -> (CertSlot, Option<(u64, CertError)>) {
    let last_good = || match previous.slots.get(name) {
        Some(slot @ CertSlot::Ready(_)) => slot.clone(),
        _ => CertSlot::Unusable,
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| CertError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let (crt_pem, key_pem) = match (read(crt), read(key)) {
        (Ok(c), Ok(k)) => (c, k),
        (Err(e), _) | (_, Err(e)) => return (last_good(), Some((u64::MAX, e))),
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&crt_pem, &key_pem).hash(&mut hasher);
    let digest = hasher.finish();
    if let Some(slot @ CertSlot::Ready(entry)) = previous.slots.get(name)
        && entry.digest == digest
    {
        return (slot.clone(), None);
    }
    match pair::parse_pair(name, crt, &crt_pem, key, &key_pem, digest, provider) {
        Ok(entry) => {
            if entry.is_expired(unix_now()) {
                tracing::warn!(certificate = %name, file = %crt.display(), "serving an expired certificate (nginx does too); renew it");
            }
            tracing::info!(certificate = %name, names = ?entry.names, "certificate loaded");
            (CertSlot::Ready(Arc::new(entry)), None)
        }
        Err(err) => (last_good(), Some((digest, err))),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Writes `<dir>/<name>.crt` (0644) and `<dir>/<name>.key` (0600) atomically, key first, so the
/// watcher never sees a new certificate next to an old key for long (and if it does, the
/// mismatch check keeps the last good pair until the second rename lands).
pub fn write_pair(dir: &Path, name: &str, chain_pem: &[u8], key_pem: &[u8]) -> std::io::Result<()> {
    write_atomic(&dir.join(format!("{name}.key")), key_pem, 0o600)?;
    write_atomic(&dir.join(format!("{name}.crt")), chain_pem, 0o644)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
