//! acme-companion's `CREATE_DEFAULT_CERTIFICATE`: a self-signed `default.crt`/`default.key`,
//! so a client asking for a name no site serves completes the handshake and gets nginx-proxy's
//! 503 instead of a TLS alert. A pair the user put there is never replaced.

use std::io;
use std::path::Path;

use super::atomic::write_atomic_as;
use super::perms::FileModes;

/// The subject acme-companion gives its default certificate, so tooling that looks for it
/// (`cert_status`, monitoring) recognizes ours too.
const COMMON_NAME: &str = "acme-companion";

/// What `ensure_default` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultCert {
    Created,
    /// Both files exist (the user's or an earlier run's): left alone.
    Present,
    /// Only one of the two exists: writing the other would pair it with a key or certificate
    /// it does not match, so neither is touched.
    Partial,
}

/// Writes a self-signed default pair into `dir` unless `default.crt` or `default.key` exists.
/// ECDSA P-256 (acme-companion uses RSA 4096, slow to generate for no gain here), valid for
/// one year, key written first with `FILES_PERMS`.
pub fn ensure_default(dir: &Path, modes: &FileModes) -> io::Result<DefaultCert> {
    let (crt, key) = (dir.join("default.crt"), dir.join("default.key"));
    match (exists(&crt)?, exists(&key)?) {
        (true, true) => return Ok(DefaultCert::Present),
        (false, false) => {}
        _ => return Ok(DefaultCert::Partial),
    }
    let (cert_pem, key_pem) = self_signed().map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let owner = modes.owner();
    write_atomic_as(&key, key_pem.as_bytes(), modes.key, owner)?;
    write_atomic_as(&crt, cert_pem.as_bytes(), modes.public, owner)?;
    Ok(DefaultCert::Created)
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
