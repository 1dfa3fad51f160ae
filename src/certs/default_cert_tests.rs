//! `CREATE_DEFAULT_CERTIFICATE`: created once, modes applied, a user's files never replaced.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_a_matching_pair_once() {
    let tmp = tempfile::tempdir().unwrap();
    let modes = FileModes {
        key: 0o640,
        ..FileModes::default()
    };
    assert_eq!(
        ensure_default(tmp.path(), &modes).unwrap(),
        DefaultCert::Created
    );
    let crt = std::fs::read(tmp.path().join("default.crt")).unwrap();
    let key = std::fs::read(tmp.path().join("default.key")).unwrap();
    assert_eq!(mode(&tmp.path().join("default.key")), 0o640);
    assert_eq!(mode(&tmp.path().join("default.crt")), 0o644);
    let info = crate::certs::CertInfo::from_pem(&crt).unwrap();
    assert!(info.names.is_empty(), "{:?}", info.names);
    assert!(info.not_after > info.not_before + 364 * 86400);
    // The pair loads the way the watcher loads it.
    use rustls_pki_types::{PrivateKeyDer, pem::PemObject};
    let key_der = PrivateKeyDer::from_pem_slice(&key).unwrap();
    assert!(matches!(key_der, PrivateKeyDer::Pkcs8(_)));
    assert_eq!(
        ensure_default(tmp.path(), &modes).unwrap(),
        DefaultCert::Present
    );
    assert_eq!(std::fs::read(tmp.path().join("default.crt")).unwrap(), crt);
}

#[test]
fn never_touches_a_users_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("default.crt"), "mine").unwrap();
    assert_eq!(
        ensure_default(tmp.path(), &FileModes::default()).unwrap(),
        DefaultCert::Partial
    );
    assert!(!tmp.path().join("default.key").exists());
    std::fs::write(tmp.path().join("default.key"), "my key").unwrap();
    assert_eq!(
        ensure_default(tmp.path(), &FileModes::default()).unwrap(),
        DefaultCert::Present
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("default.crt")).unwrap(),
        "mine"
    );
    // A dangling symlink is the user's too.
    let other = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("nowhere.crt", other.path().join("default.crt")).unwrap();
    assert_eq!(
        ensure_default(other.path(), &FileModes::default()).unwrap(),
        DefaultCert::Partial
    );
}

#[test]
fn regeneration_decision() {
    let now = 1_000_000_000;
    let day = 86400;
    assert_eq!(plan(false, false, None, now), Plan::Create);
    assert_eq!(plan(true, false, None, now), Plan::Partial);
    assert_eq!(plan(false, true, None, now), Plan::Partial);
    // Ours, with more or less than 90 days left.
    assert_eq!(plan(true, true, Some(now + 91 * day), now), Plan::Keep);
    assert_eq!(
        plan(true, true, Some(now + 89 * day), now),
        Plan::Regenerate
    );
    assert_eq!(plan(true, true, Some(now - day), now), Plan::Regenerate);
    // Not ours (the user's, or unreadable): never, however old.
    assert_eq!(plan(true, true, None, now), Plan::Keep);
}

#[test]
fn a_crash_between_the_renames_is_finished_and_a_lone_key_temp_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ensure_default(d, &FileModes::default()).unwrap();
    // As if the key was renamed and the process died before the cert was.
    let crt = std::fs::read(d.join("default.crt")).unwrap();
    std::fs::rename(d.join("default.crt"), d.join(CRT_TEMP)).unwrap();
    assert_eq!(
        ensure_default(d, &FileModes::default()).unwrap(),
        DefaultCert::Present
    );
    assert_eq!(std::fs::read(d.join("default.crt")).unwrap(), crt);
    // A key temp alone: the cert was never written, the old pair stays.
    std::fs::write(d.join(KEY_TEMP), "half").unwrap();
    assert_eq!(
        ensure_default(d, &FileModes::default()).unwrap(),
        DefaultCert::Present
    );
    assert!(!d.join(KEY_TEMP).exists());
    assert_eq!(std::fs::read(d.join("default.crt")).unwrap(), crt);
}

/// A pair expiring in 30 days: `cn` as its subject.
fn write_expiring(dir: &Path, cn: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(300 * 86400)).into();
    params.not_after = (now + std::time::Duration::from_secs(30 * 86400)).into();
    let pem = params.self_signed(&key).unwrap().pem();
    std::fs::write(dir.join("default.crt"), &pem).unwrap();
    std::fs::write(dir.join("default.key"), key.serialize_pem()).unwrap();
    pem.into_bytes()
}

#[test]
fn ours_is_regenerated_near_expiry_and_a_users_never() {
    let tmp = tempfile::tempdir().unwrap();
    let old = write_expiring(tmp.path(), "acme-companion");
    assert_eq!(
        ensure_default(tmp.path(), &FileModes::default()).unwrap(),
        DefaultCert::Regenerated
    );
    let new = std::fs::read(tmp.path().join("default.crt")).unwrap();
    assert_ne!(new, old);
    let info = crate::certs::CertInfo::from_pem(&new).unwrap();
    assert!(info.not_after > info.not_before + 364 * 86400);
    assert_eq!(mode(&tmp.path().join("default.key")), 0o600);
    let mine = write_expiring(tmp.path(), "my default");
    assert_eq!(
        ensure_default(tmp.path(), &FileModes::default()).unwrap(),
        DefaultCert::Present
    );
    assert_eq!(std::fs::read(tmp.path().join("default.crt")).unwrap(), mine);
}
