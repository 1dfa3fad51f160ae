//! The certificate directory (nginx-proxy layout): `<name>.crt` + `<name>.key`, `default.*`,
//! and acme-companion's `<base>/{fullchain,key}.pem` reached through `<host>.crt`/`<host>.key`
//! symlinks (followed; the name is the symlink's). A scan produces an immutable [`CertMap`].
//!
//! A pair that fails to parse or whose key does not match logs one warning naming the file and
//! why (once per file contents), and the map **inherits the last good entry** for that name.
//! A `.crt` without a `.key` is present but unusable (nginx-proxy's `cert_ok` is false), and so
//! is a broken pair that never loaded. Expired certificates are served, like nginx does, with a
//! warning when they are loaded: refusing them would turn a renewal failure into an outage.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// The `.crt` and `.key` stamps each ready entry was loaded from, when they can vouch for
    /// the contents (see [`Stamp::vouches`]): a rescan reuses the entry without reading.
    stamps: HashMap<String, [Stamp; 2]>,
    /// Directories outside the store that symlinks point into (the watcher watches them too).
    pub(crate) link_dirs: BTreeSet<PathBuf>,
    /// Client-certificate CA files (mTLS).
    client_cas: ClientCas,
    unsettled: bool,
}

/// What tells a file's contents apart without reading them (followed through symlinks): device,
/// inode, size, and modification and change times. A rescan of 10,000 unchanged pairs then costs
/// two `stat`s per pair instead of reading and hashing 20,000 files (docs/benchmarks.md,
/// "10,000 certificates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// A file changed less than this long before a scan may change again within the file system's
/// timestamp granularity (a jiffy; 2 s on FAT) with the same size, and the stamp would not show
/// it: such files are read again at the next scan (git's "racy" rule).
const RACY: i64 = 2;

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether an unchanged stamp proves unchanged contents at a scan started at `now` (unix
    /// seconds). The change time counts too: no tool can set it, so `cp -p` or `touch -d` of
    /// other contents still shows.
    fn vouches(&self, now: i64) -> bool {
        self.mtime.0 < now - RACY && self.ctime.0 < now - RACY
    }
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
    /// directory keeps the previous map whole. Pairs are loaded on all cores: parsing 10,000 is
    /// most of a cold start.
    pub fn scan(dir: &Path, previous: &CertMap) -> (CertMap, Vec<CertError>) {
        Self::scan_at(dir, previous, unix_now())
    }

    /// [`CertMap::scan`] as if started at `now` (unix seconds), which decides which files'
    /// stamps are old enough to vouch for their contents.
    fn scan_at(dir: &Path, previous: &CertMap, now: i64) -> (CertMap, Vec<CertError>) {
        let listed = match list(dir) {
            Ok(listed) => listed,
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
        let names: Vec<String> = listed.iter().map(|l| l.name.clone()).collect();
        let (client_cas, unsettled) = ClientCas::scan(dir, &names, &previous.client_cas, &provider);
        map.client_cas = client_cas;
        map.unsettled = unsettled;
        let loaded = parallel_map(&listed, |l| {
            load_one(dir, &l.name, previous, &provider, now)
        });
        for (listed, loaded) in listed.into_iter().zip(loaded) {
            let name = listed.name;
            if listed.crt_link {
                map.note_link(&dir.join(format!("{name}.crt")));
            }
            if listed.key_link {
                map.note_link(&dir.join(format!("{name}.key")));
            }
            let Loaded::Pair {
                slot,
                stamps,
                failure,
            } = loaded
            else {
                map.slots.insert(name, CertSlot::Unusable);
                continue;
            };
            if let Some((digest, err)) = failure.map(|f| *f) {
                let crt = dir.join(format!("{name}.crt"));
                let key = dir.join(format!("{name}.key"));
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
            if let Some(stamps) = stamps {
                map.stamps.insert(name.clone(), stamps);
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

/// A `<name>.crt` found in the directory, and which of its files are symlinks.
struct Listed {
    name: String,
    crt_link: bool,
    key_link: bool,
}

/// The `*.crt` files (or symlinks to existing files) in `dir`, in one pass over the directory:
/// the entries' types come with the listing, so a plain file costs no `stat` here. Dot-files are
/// temporaries.
fn list(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let mut crts = Vec::new();
    let mut key_links = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if let Some(name) = file_name.strip_suffix(".key") {
            if is_link {
                key_links.insert(name.to_owned());
            }
            continue;
        }
        let Some(name) = file_name.strip_suffix(".crt") else {
            continue;
        };
        if name.is_empty() || name.starts_with('.') {
            continue;
        }
        // Only a symlink (or an unknown type) costs a `stat`: it must lead to a file.
        let is_file = match entry.file_type() {
            Ok(t) if t.is_file() => true,
            _ => dir.join(file_name).is_file(),
        };
        if is_file {
            crts.push((name.to_owned(), is_link));
        }
    }
    Ok(crts
        .into_iter()
        .map(|(name, crt_link)| Listed {
            key_link: key_links.contains(&name),
            name,
            crt_link,
        })
        .collect())
}

/// `f` over `items` on every core, in order. Small directories stay on the calling thread: a
/// thread costs more than a few pairs.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const PER_THREAD: usize = 256;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// One name's outcome.
enum Loaded {
    /// `<name>.crt` without a `.key` (nginx-proxy's `cert_ok` is false).
    Unusable,
    Pair {
        /// What to publish: this pair, the last good one, or unusable.
        slot: CertSlot,
        /// Set when `slot` was loaded from exactly these files and their stamps vouch for that.
        stamps: Option<[Stamp; 2]>,
        /// The error and the digest of the failing contents (boxed: the rare case).
        failure: Option<Box<(u64, CertError)>>,
    },
}

/// Loads `<name>.crt` + `<name>.key`: the previous entry when the files' stamps (or, failing
/// that, their contents) did not change, else a freshly parsed one; on failure the last good
/// entry, if any. `now` is the scan's start (unix seconds).
fn load_one(
    dir: &Path,
    name: &str,
    previous: &CertMap,
    provider: &rustls::crypto::CryptoProvider,
    now: i64,
) -> Loaded {
    let crt = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    // Stamps before contents: a file replaced in between is then read again next time.
    let Ok(key_meta) = std::fs::metadata(&key) else {
        return Loaded::Unusable;
    };
    let stamps = std::fs::metadata(&crt)
        .ok()
        .map(|crt_meta| [Stamp::of(&crt_meta), Stamp::of(&key_meta)]);
    let previous_entry = match previous.slots.get(name) {
        Some(slot @ CertSlot::Ready(_)) => Some(slot),
        _ => None,
    };
    if let (Some(slot), Some(stamps)) = (previous_entry, stamps)
        && previous.stamps.get(name) == Some(&stamps)
    {
        return Loaded::Pair {
            slot: slot.clone(),
            stamps: Some(stamps),
            failure: None,
        };
    }
    let vouched = stamps.filter(|s| s.iter().all(|s| s.vouches(now)));
    let last_good = || previous_entry.cloned().unwrap_or(CertSlot::Unusable);
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| CertError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let (crt_pem, key_pem) = match (read(&crt), read(&key)) {
        (Ok(c), Ok(k)) => (c, k),
        (Err(e), _) | (_, Err(e)) => {
            return Loaded::Pair {
                slot: last_good(),
                stamps: None,
                failure: Some(Box::new((u64::MAX, e))),
            };
        }
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&crt_pem, &key_pem).hash(&mut hasher);
    let digest = hasher.finish();
    if let Some(slot @ CertSlot::Ready(entry)) = previous_entry
        && entry.digest == digest
    {
        return Loaded::Pair {
            slot: slot.clone(),
            stamps: vouched,
            failure: None,
        };
    }
    match pair::parse_pair(name, &crt, &crt_pem, &key, &key_pem, digest, provider) {
        Ok(entry) => {
            if entry.is_expired(now) {
                tracing::warn!(certificate = %name, file = %crt.display(), "serving an expired certificate (nginx does too); renew it");
            }
            tracing::info!(certificate = %name, names = ?entry.names, "certificate loaded");
            Loaded::Pair {
                slot: CertSlot::Ready(Arc::new(entry)),
                stamps: vouched,
                failure: None,
            }
        }
        Err(err) => Loaded::Pair {
            slot: last_good(),
            stamps: None,
            failure: Some(Box::new((digest, err))),
        },
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
