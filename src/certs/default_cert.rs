//! acme-companion's `CREATE_DEFAULT_CERTIFICATE`: a self-signed `default.crt`/`default.key`,
//! so a client asking for a name no site serves completes the handshake and gets nginx-proxy's
//! 503 instead of a TLS alert. A pair the user put there is never replaced.
//!
//! Ours (subject `CN=acme-companion`, no names, regular files) is regenerated when less than
//! `REGENERATE_BEFORE` is left, at startup and daily (`app`). A pair is written as
//! `.default.key.new` and `.default.crt.new` (each atomically), then renamed key first, cert
//! second; on the next start `recover` finishes or discards what a crash left: the cert temp
//! exists only once both temps were complete, so it is finished, while a lone key temp is
//! removed. The user's `default.*` files are never involved in that.

use std::io;
use std::path::Path;

use super::atomic::write_atomic_as;
use super::perms::FileModes;

/// The subject acme-companion gives its default certificate, so tooling that looks for it
/// (`cert_status`, monitoring) recognizes ours too.
const COMMON_NAME: &str = "acme-companion";

/// Ours is regenerated when it has less than this left (acme-companion's certificates live
/// a year; 90 days leaves room for a daily check to be missed for weeks).
pub const REGENERATE_BEFORE: i64 = 90 * 86400;
const KEY_TEMP: &str = ".default.key.new";
const CRT_TEMP: &str = ".default.crt.new";

/// What `ensure_default` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultCert {
    Created,
    /// Ours had less than `REGENERATE_BEFORE` left: replaced.
    Regenerated,
    /// Both files exist (the user's or an earlier run's): left alone.
    Present,
    /// Only one of the two exists: writing the other would pair it with a key or certificate
    /// it does not match, so neither is touched.
    Partial,
}

/// Writes a self-signed default pair into `dir` unless `default.crt` or `default.key` exists,
/// or replaces ours when it expires within `REGENERATE_BEFORE`. ECDSA P-256 (acme-companion
/// uses RSA 4096, slow to generate for no gain here), valid for one year, key with
/// `FILES_PERMS`.
pub fn ensure_default(dir: &Path, modes: &FileModes) -> io::Result<DefaultCert> {
    recover(dir)?;
    let (crt, key) = (dir.join("default.crt"), dir.join("default.key"));
    let ours_until = match (is_file(&crt)?, is_file(&key)?) {
        (true, true) => std::fs::read(&crt)
            .ok()
            .and_then(|pem| super::x509::CertInfo::from_pem(&pem).ok())
            .filter(|i| i.common_name.as_deref() == Some(COMMON_NAME) && i.names.is_empty())
            .map(|i| i.not_after),
        _ => None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let done = match plan(exists(&crt)?, exists(&key)?, ours_until, now) {
        Plan::Keep => return Ok(DefaultCert::Present),
        Plan::Partial => return Ok(DefaultCert::Partial),
        Plan::Create => DefaultCert::Created,
        Plan::Regenerate => DefaultCert::Regenerated,
    };
    let (cert_pem, key_pem) = self_signed().map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let owner = modes.owner();
    write_atomic_as(&dir.join(KEY_TEMP), key_pem.as_bytes(), modes.key, owner)?;
    write_atomic_as(
        &dir.join(CRT_TEMP),
        cert_pem.as_bytes(),
        modes.public,
        owner,
    )?;
    std::fs::rename(dir.join(KEY_TEMP), &key)?;
    std::fs::rename(dir.join(CRT_TEMP), &crt)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(done)
}

/// What to do with the default pair (pure): `ours_until` is the expiry of a pair we
/// generated, `None` for anything else (the user's, unreadable, absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    Create,
    Keep,
    Regenerate,
    Partial,
}

pub(crate) fn plan(crt: bool, key: bool, ours_until: Option<i64>, now: i64) -> Plan {
    match (crt, key) {
        (false, false) => Plan::Create,
        (true, true) => match ours_until {
            Some(until) if until - now < REGENERATE_BEFORE => Plan::Regenerate,
            _ => Plan::Keep,
        },
        _ => Plan::Partial,
    }
}

/// Finishes or discards a pair write a crash interrupted (see the module comment).
fn recover(dir: &Path) -> io::Result<()> {
    let (key_tmp, crt_tmp) = (dir.join(KEY_TEMP), dir.join(CRT_TEMP));
    if exists(&crt_tmp)? {
        if exists(&key_tmp)? {
            std::fs::rename(&key_tmp, dir.join("default.key"))?;
        }
        std::fs::rename(&crt_tmp, dir.join("default.crt"))?;
    } else if exists(&key_tmp)? {
        std::fs::remove_file(&key_tmp)?;
    }
    Ok(())
}

/// A regular file (not a symlink: a link is the user's).
fn is_file(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(m.file_type().is_file()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A symlink counts as present even when dangling: it is the user's.
fn exists(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn self_signed() -> Result<(String, String), rcgen::Error> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, COMMON_NAME);
    let now = std::time::SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + std::time::Duration::from_secs(365 * 86400)).into();
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
#[path = "default_cert_tests.rs"]
mod tests;
