//! Ownership and permissions of what dockside writes into the certificate directory:
//! acme-companion's `FILES_UID`, `FILES_GID`, `FILES_PERMS` and `FOLDERS_PERMS`, read once
//! (`from_vars`, pure) and applied by `CertsDir` to every file, folder and symlink it writes.

use std::io;
use std::path::Path;

/// How files written into the certificate directory are owned and protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileModes {
    /// `FILES_UID`: owner of written files, folders and symlinks; `None` = whoever dockside
    /// runs as (acme-companion's default, root, is what a root container gets anyway).
    pub uid: Option<u32>,
    /// `FILES_GID`, defaulting to `FILES_UID` as in acme-companion.
    pub gid: Option<u32>,
    /// `FILES_PERMS`: private keys (`*.key`, `key.pem`). Default 0600.
    pub key: u32,
    /// Certificates, chains and markers: 0644, fixed as in acme-companion.
    pub public: u32,
    /// `FOLDERS_PERMS`: the certificate folders. Default 0755.
    pub folder: u32,
}

impl Default for FileModes {
    fn default() -> Self {
        FileModes {
            uid: None,
            gid: None,
            key: 0o600,
            public: 0o644,
            folder: 0o755,
        }
    }
}

impl FileModes {
    /// Reads the four variables; a bad value keeps its default and yields a warning naming
    /// the variable and the fix (acme-companion validates the same way, 3–4 octal digits).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> (FileModes, Vec<String>) {
        let mut warnings = Vec::new();
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut modes = FileModes::default();
        let mut id = |name: &str| {
            let v = get(name)?;
            v.parse::<u32>()
                .map_err(|_| {
                    warnings.push(format!(
                        "{name}={v:?} is not a numeric id (dockside has no user database to look names up in): files keep dockside's own {}",
                        if name == "FILES_UID" { "user" } else { "group" }
                    ))
                })
                .ok()
        };
        modes.uid = id("FILES_UID");
        modes.gid = id("FILES_GID").or(modes.uid);
        let mut perms = |name: &str, default: u32| match get(name) {
            None => default,
            Some(v) => parse_octal(&v).unwrap_or_else(|| {
                warnings.push(format!(
                    "{name}={v:?} is not 3 or 4 octal digits (like 600): using {default:o}"
                ));
                default
            }),
        };
        modes.key = perms("FILES_PERMS", modes.key);
        modes.folder = perms("FOLDERS_PERMS", modes.folder);
        if modes.key & 0o007 != 0 {
            warnings.push(format!(
                "FILES_PERMS={:o} lets every local user read private keys: use 600 or 640",
                modes.key
            ));
        }
        (modes, warnings)
    }

    /// One line for `dockside check`: how written files will be owned and protected.
    pub fn describe(&self) -> String {
        let id = |v: Option<u32>| v.map_or_else(|| "dockside's".to_owned(), |v| v.to_string());
        format!(
            "certificate files: owner {}:{} (FILES_UID/FILES_GID), keys {:o} (FILES_PERMS), other files {:o}, folders {:o} (FOLDERS_PERMS)",
            id(self.uid),
            id(self.gid),
            self.key,
            self.public,
            self.folder
        )
    }

    /// `Some((uid, gid))` when ownership is set at all.
    pub(crate) fn owner(&self) -> Option<(Option<u32>, Option<u32>)> {
        (self.uid.is_some() || self.gid.is_some()).then_some((self.uid, self.gid))
    }

    /// Creates `dir` (and parents) if needed, then gives it `FOLDERS_PERMS` and the owner:
    /// the mode is set explicitly, since `mkdir` is subject to the umask.
    pub(crate) fn create_folder(&self, dir: &Path) -> io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(self.folder)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(self.folder))?;
        self.chown(dir);
        Ok(())
    }

    /// Gives `path` the configured owner (not following a symlink); no-op when none is set.
    /// A failure is logged, never returned: see [`write_atomic_as`](super::atomic::write_atomic_as).
    pub(crate) fn chown(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner()
            && let Err(e) = std::os::unix::fs::lchown(path, uid, gid)
        {
            warn_chown(path, uid, gid, &e);
        }
    }

    /// Run once at startup: tries `FILES_UID`/`FILES_GID` on a temp file in `dir` (the
    /// certificate directory). When dockside may not chown (not root, no `CAP_CHOWN`, a
    /// root-squashed NFS), ownership is dropped with one warning, instead of a warning on
    /// every write. Without an owner, or when the temp file cannot be created (the writes will
    /// say why), the modes are returned unchanged.
    pub fn probe_owner(self, dir: &Path) -> (FileModes, Option<String>) {
        let Some((uid, gid)) = self.owner() else {
            return (self, None);
        };
        let Ok(tmp) = tempfile::Builder::new()
            .prefix(".dockside-chown-probe-")
            .tempfile_in(dir)
        else {
            return (self, None);
        };
        let probe = std::os::unix::fs::fchown(tmp.as_file(), uid, gid);
        self.after_probe(dir, probe)
    }

    /// The decision behind [`probe_owner`](Self::probe_owner), given the probe's result.
    fn after_probe(self, dir: &Path, probe: io::Result<()>) -> (FileModes, Option<String>) {
        match probe {
            Ok(()) => (self, None),
            Err(e) => (
                FileModes {
                    uid: None,
                    gid: None,
                    ..self
                },
                Some(format!(
                    "FILES_UID/FILES_GID ({}:{}) cannot be applied in {}: {e}; certificate files keep dockside's own owner (run dockside as root or give it CAP_CHOWN, or unset FILES_UID/FILES_GID)",
                    id_or_unchanged(self.uid),
                    id_or_unchanged(self.gid),
                    dir.display()
                )),
            ),
        }
    }
}

fn id_or_unchanged(id: Option<u32>) -> String {
    id.map_or_else(|| "unchanged".to_owned(), |v| v.to_string())
}

/// The warning for a chown that failed at write time (after a successful startup probe: a
/// changed filesystem or capability). The file is written anyway.
pub(crate) fn warn_chown(path: &Path, uid: Option<u32>, gid: Option<u32>, e: &io::Error) {
    tracing::warn!(
        path = %path.display(),
        error = %e,
        "cannot give the file FILES_UID/FILES_GID {}:{}: written with dockside's own owner (run dockside as root or give it CAP_CHOWN)",
        id_or_unchanged(uid),
        id_or_unchanged(gid)
    );
}

fn parse_octal(v: &str) -> Option<u32> {
    if !(3..=4).contains(&v.len()) {
        return None;
    }
    u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777)
}

#[cfg(test)]
#[path = "perms_tests.rs"]
mod tests;
