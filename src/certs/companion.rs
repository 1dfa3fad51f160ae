//! acme-companion's layout in the certificate directory, so either tool can take over:
//! `<base>/{cert,key,chain,fullchain}.pem` + `.companion`, `<host>.{crt,key,chain.pem}` relative
//! symlinks, and (ours) ACME accounts under `accounts/`. Every write is atomic; keys are 0600.
//!
//! Accounts live at `<certs>/accounts/<ca-host[:port]>/<ca-path>/<email|default>/account.json`
//! (0600, instant-acme's credentials JSON), mirroring acme.sh's `ca/<ca-host>/<ca-path>` so an
//! operator finds them where they expect; one account per CA directory and email, reused forever.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::atomic::{write_atomic, write_atomic_as};
use super::perms::FileModes;
use super::x509::{CertInfo, CertInfoError};

/// Written to `<base>/.companion`: marks the folder as managed (acme-companion's
/// `cleanup_links` only removes symlinks into folders that carry it).
const COMPANION_MARKER: &str = concat!("dockside ", env!("CARGO_PKG_VERSION"), "\n");

/// The file in the certificate directory listing the names obtained on demand.
pub const ON_DEMAND_NAMES: &str = "on_demand_names.txt";

/// The certificate directory (`/etc/nginx/certs` in nginx-proxy deployments).
#[derive(Debug, Clone)]
pub struct CertsDir {
    root: PathBuf,
    modes: FileModes,
}

/// Why a certificate on disk cannot be used; the reconciler then orders a new one.
#[derive(Debug, thiserror::Error)]
pub enum StoredCertError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: CertInfoError,
    },
}

impl CertsDir {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> CertsDir {
        CertsDir {
            root: root.into(),
            modes: FileModes::default(),
        }
    }

    /// The same store, writing with `FILES_UID`/`FILES_GID`/`FILES_PERMS`/`FOLDERS_PERMS`.
    pub fn with_modes(mut self, modes: FileModes) -> CertsDir {
        self.modes = modes;
        self
    }

    /// The directory this store writes to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes a freshly issued certificate: key first, fullchain last (a reader pairing the
    /// two should check they match), then `.companion` and the per-host symlinks.
    /// `chain_pem` is the CA's answer: leaf first, then intermediates.
    pub fn write_certificate(
        &self,
        base: &str,
        hosts: &[String],
        key_pem: &str,
        chain_pem: &str,
    ) -> io::Result<()> {
        let blocks = pem_certificates(chain_pem);
        let Some((leaf, rest)) = blocks.split_first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the CA returned no certificate",
            ));
        };
        let dir = self.root.join(base);
        create_dir(&self.root).map_err(at(&self.root))?;
        self.modes.create_folder(&dir).map_err(at(&dir))?;
        let (m, owner) = (&self.modes, self.modes.owner());
        let key = dir.join("key.pem");
        write_atomic_as(&key, key_pem.as_bytes(), m.key, owner).map_err(at(&key))?;
        for (name, bytes) in [
            ("cert.pem", leaf.clone()),
            ("chain.pem", rest.concat()),
            ("fullchain.pem", blocks.concat()),
            (".companion", COMPANION_MARKER.to_owned()),
        ] {
            let path = dir.join(name);
            write_atomic_as(&path, bytes.as_bytes(), m.public, owner).map_err(at(&path))?;
        }
        self.link_hosts(base, hosts)
    }

    /// The names whose certificates were obtained on demand (`ON_DEMAND_TLS`), from
    /// [`ON_DEMAND_NAMES`]: the reconciler renews them like the others after a restart. Lines
    /// are returned as written (the caller validates them); no file is an empty list.
    pub fn read_on_demand_names(&self) -> io::Result<Vec<String>> {
        match std::fs::read_to_string(self.root.join(ON_DEMAND_NAMES)) {
            Ok(text) => Ok(text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Replaces [`ON_DEMAND_NAMES`] (atomically, one name per line).
    pub fn write_on_demand_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a String>,
    ) -> io::Result<()> {
        let mut text = String::from(
            "# Names dockside obtained certificates for on demand (ON_DEMAND_TLS); renewed like the others.\n",
        );
        for name in names {
            text.push_str(name);
            text.push('\n');
        }
        create_dir(&self.root)?;
        write_atomic(&self.root.join(ON_DEMAND_NAMES), text.as_bytes(), 0o644)
    }

    /// (Re)creates `<host>.crt -> ./<base>/fullchain.pem`, `.key`, `.chain.pem` (and
    /// `.dhparam.pem` when `dhparam.pem` exists) for every host, `*.` stripped. A link that
    /// already points at the right target is left alone so file watchers see no churn.
    pub fn link_hosts(&self, base: &str, hosts: &[String]) -> io::Result<()> {
        let dhparam = self.root.join("dhparam.pem").exists();
        for host in hosts {
            let host = host.strip_prefix("*.").unwrap_or(host);
            for (suffix, target) in [
                ("crt", "fullchain.pem"),
                ("key", "key.pem"),
                ("chain.pem", "chain.pem"),
            ] {
                self.symlink(&format!("{host}.{suffix}"), &format!("./{base}/{target}"))?;
            }
            if dhparam {
                self.symlink(&format!("{host}.dhparam.pem"), "./dhparam.pem")?;
            }
        }
        Ok(())
    }

    /// acme-companion's `cleanup_links`: removes the `<d>.crt`/`.key`/`.chain.pem`/
    /// `.dhparam.pem` symlinks of every domain not in `enabled` whose `.crt` link points into a
    /// folder carrying `.companion`. User certificates (no marker), `default.crt` and the
    /// certificate folders themselves are never touched. Returns the domains unlinked.
    pub fn cleanup_links(&self, enabled: &BTreeSet<String>) -> io::Result<Vec<String>> {
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(domain) = name.strip_suffix(".crt") else {
                continue;
            };
            if domain == "default" || enabled.contains(domain) {
                continue;
            }
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let managed = self
                .root
                .join(&target)
                .parent()
                .is_some_and(|dir| dir.join(".companion").exists());
            if !managed {
                continue;
            }
            for suffix in ["crt", "key", "chain.pem", "dhparam.pem"] {
                let link = self.root.join(format!("{domain}.{suffix}"));
                if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
                    std::fs::remove_file(&link)?;
                }
            }
            removed.push(domain.to_owned());
        }
        removed.sort();
        Ok(removed)
    }

    /// Atomically points `root/name` at `target`: a temp symlink renamed over the old entry.
    fn symlink(&self, name: &str, target: &str) -> io::Result<()> {
        let link = self.root.join(name);
        if std::fs::read_link(&link).is_ok_and(|t| t == Path::new(target)) {
            return Ok(());
        }
        let tmp = self
            .root
            .join(format!(".dockside-{name}.{}", fastrand::u64(..)));
        std::os::unix::fs::symlink(target, &tmp)?;
        self.modes.chown(&tmp);
        std::fs::rename(&tmp, &link).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// The certificate in `<base>/` (ours or acme-companion's), or `None` when there is none.
    /// A folder without `key.pem` counts as none: it cannot be served.
    pub fn read_certificate(&self, base: &str) -> Result<Option<CertInfo>, StoredCertError> {
        let dir = self.root.join(base);
        if !dir.join("key.pem").exists() {
            return Ok(None);
        }
        let path = dir.join("fullchain.pem");
        let pem = match std::fs::read(&path) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoredCertError::Io { path, source }),
        };
        CertInfo::from_pem(&pem)
            .map(Some)
            .map_err(|source| StoredCertError::Parse { path, source })
    }

    /// The current `<base>/key.pem`, for renewals that keep their key. Never logged.
    pub fn read_key(&self, base: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(base).join("key.pem")).ok()
    }

    /// Where the account for this CA directory and email lives (see the module docs).
    pub fn account_path(&self, ca_url: &str, email: Option<&str>) -> PathBuf {
        let mut path = self.root.join("accounts");
        let (authority, rest) = match ca_url.split_once("://") {
            Some((_, rest)) => rest.split_once('/').unwrap_or((rest, "")),
            None => (ca_url, ""),
        };
        path.push(sanitize(authority));
        for segment in rest.split('/').filter(|s| !s.is_empty()) {
            path.push(sanitize(segment));
        }
        path.push(email.map(sanitize).unwrap_or_else(|| "default".into()));
        path.join("account.json")
    }

    /// The stored account credentials, if any.
    pub fn load_account(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores account credentials (they hold the account's private key: 0600, dirs 0700).
    pub fn save_account(&self, path: &Path, credentials: &[u8]) -> io::Result<()> {
        // The certs dir itself stays world-readable (0755) like acme-companion's; only the
        // account subtree is private.
        create_dir(&self.root)?;
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        write_atomic(path, credentials, 0o600)
    }
}

/// The error, prefixed with the path it happened at (its kind kept): "No space left on
/// device" alone does not say which file or mount an operator must look at.
fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

/// A path segment that cannot escape its parent: `[A-Za-z0-9.@_:+-]`, no `..`.
fn sanitize(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@:+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.chars().all(|c| c == '.') {
        "_".into()
    } else {
        cleaned
    }
}

/// The `CERTIFICATE` blocks of a PEM bundle, each normalized to end with one newline.
fn pem_certificates(pem: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let (Some(start), Some(end)) = (rest.find("-----BEGIN CERTIFICATE-----"), rest.find(END))
    {
        if end < start {
            rest = &rest[end + END.len()..];
            continue;
        }
        out.push(format!("{}\n", &rest[start..end + END.len()]));
        rest = &rest[end + END.len()..];
    }
    out
}

#[cfg(test)]
#[path = "companion_tests.rs"]
mod tests;
