//! Atomic file writes: certificates and keys must never be seen half-written, by us or by an
//! nginx-proxy sharing the directory.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temp file in the same directory, fsync, rename, then
/// fsyncs the directory. `mode` applies before any byte is written (keys: 0o600).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_atomic_as(path, bytes, mode, None)
}

/// `write_atomic`, with the temp file given `owner` (uid, gid) before it is renamed into
/// place: the final name never exists with the wrong owner (`FILES_UID`/`FILES_GID`).
/// A failing chown is a warning, not an error: the write often follows a certificate the CA
/// just issued, and failing it would have the reconciler order again and again into the CA's
/// duplicate-certificate limit. The mode (0600 for keys) is set either way.
pub fn write_atomic_as(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(Option<u32>, Option<u32>)>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".dockside-")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Some((uid, gid)) = owner
        && let Err(e) = std::os::unix::fs::fchown(tmp.as_file(), uid, gid)
    {
        super::perms::warn_chown(path, uid, gid, &e);
    }
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[path = "atomic_tests.rs"]
mod tests;
