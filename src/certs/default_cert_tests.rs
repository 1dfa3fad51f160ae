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
