//! Layout, permissions and read-back tests for `companion::CertsDir`.

use super::*;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

fn chain(hosts: &[&str]) -> (String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap();
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    (
        key.serialize_pem(),
        format!("{}{}", leaf.pem(), ca_cert.pem()),
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn writes_acme_companion_layout_with_relative_links() {
    let tmp = tempfile::tempdir().unwrap();
    let store = CertsDir::new(tmp.path().join("certs"));
    let (key, pem) = chain(&["a.test", "b.test"]);
    std::fs::create_dir_all(store.root()).unwrap();
    std::fs::write(store.root().join("dhparam.pem"), "x").unwrap();
    let hosts = vec!["a.test".to_string(), "b.test".to_string()];
    store
        .write_certificate("a.test", &hosts, &key, &pem)
        .unwrap();
    let dir = store.root().join("a.test");
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    for f in ["cert.pem", "chain.pem", "fullchain.pem", ".companion"] {
        assert_eq!(mode(&dir.join(f)), 0o644, "{f}");
    }
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        read("fullchain.pem"),
        format!("{}{}", read("cert.pem"), read("chain.pem"))
    );
    assert_eq!(read("cert.pem").matches("BEGIN CERTIFICATE").count(), 1);
    for h in ["a.test", "b.test"] {
        let link = |s: &str| std::fs::read_link(store.root().join(format!("{h}.{s}"))).unwrap();
        assert_eq!(link("crt"), Path::new("./a.test/fullchain.pem"));
        assert_eq!(link("key"), Path::new("./a.test/key.pem"));
        assert_eq!(link("chain.pem"), Path::new("./a.test/chain.pem"));
        assert_eq!(link("dhparam.pem"), Path::new("./dhparam.pem"));
    }
    let info = store.read_certificate("a.test").unwrap().unwrap();
    assert!(info.covers_exactly(&hosts));
    assert_eq!(store.read_certificate("missing").unwrap(), None);
    // Relinking (a renewal) replaces the file atomically and leaves no temp entries behind.
    let (key2, pem2) = chain(&["a.test", "b.test"]);
    store
        .write_certificate("a.test", &hosts, &key2, &pem2)
        .unwrap();
    let stray = std::fs::read_dir(store.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".dockside"))
        .count();
    assert_eq!(stray, 0);
    assert_eq!(
        std::fs::read_to_string(store.root().join("a.test.key")).unwrap(),
        key2
    );
}

#[test]
fn wildcard_hosts_link_without_the_star_and_empty_answers_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let store = CertsDir::new(tmp.path());
    let (key, pem) = chain(&["x.test"]);
    store
        .write_certificate("wildcard_x.test", &["*.x.test".into()], &key, &pem)
        .unwrap();
    assert!(
        std::fs::symlink_metadata(tmp.path().join("x.test.crt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let err = store
        .write_certificate("y.test", &["y.test".into()], &key, "not pem")
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn reads_a_folder_written_by_acme_companion() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old.test");
    std::fs::create_dir_all(&dir).unwrap();
    let (key, pem) = chain(&["old.test"]);
    std::fs::write(dir.join("fullchain.pem"), &pem).unwrap();
    let store = CertsDir::new(tmp.path());
    assert_eq!(
        store.read_certificate("old.test").unwrap(),
        None,
        "no key.pem yet"
    );
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    assert_eq!(
        store.read_certificate("old.test").unwrap().unwrap().names,
        ["old.test"]
    );
    std::fs::write(dir.join("fullchain.pem"), "garbage").unwrap();
    assert!(matches!(
        store.read_certificate("old.test"),
        Err(StoredCertError::Parse { .. })
    ));
}

#[test]
fn accounts_are_per_ca_and_email_and_private() {
    let tmp = tempfile::tempdir().unwrap();
    let store = CertsDir::new(tmp.path().join("certs"));
    let p = store.account_path(
        "https://acme-v02.api.letsencrypt.org/directory",
        Some("me@x.test"),
    );
    assert_eq!(
        p,
        store
            .root()
            .join("accounts/acme-v02.api.letsencrypt.org/directory/me@x.test/account.json")
    );
    let p2 = store.account_path("https://127.0.0.1:14000/dir/../x", None);
    assert_eq!(
        p2,
        store
            .root()
            .join("accounts/127.0.0.1:14000/dir/_/x/default/account.json")
    );
    assert_eq!(store.load_account(&p).unwrap(), None);
    store.save_account(&p, b"{}").unwrap();
    assert_eq!(store.load_account(&p).unwrap().as_deref(), Some(&b"{}"[..]));
    assert_eq!(mode(&p), 0o600);
    assert_eq!(mode(p.parent().unwrap()), 0o700);
    assert_eq!(
        mode(store.root()),
        0o755,
        "only the account subtree is private"
    );
}

#[test]
fn cleanup_unlinks_only_disabled_managed_domains() {
    let tmp = tempfile::tempdir().unwrap();
    let store = CertsDir::new(tmp.path());
    let (key, pem) = chain(&["a.test", "b.test"]);
    store
        .write_certificate("a.test", &["a.test".into(), "b.test".into()], &key, &pem)
        .unwrap();
    // A user's own certificate folder and link (no .companion), and default.crt.
    std::fs::create_dir_all(tmp.path().join("mine.test")).unwrap();
    std::fs::write(tmp.path().join("mine.test/fullchain.pem"), &pem).unwrap();
    std::os::unix::fs::symlink(
        "./mine.test/fullchain.pem",
        tmp.path().join("mine.test.crt"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("default.crt"), &pem).unwrap();
    let enabled: BTreeSet<String> = ["a.test".to_string()].into();
    assert_eq!(store.cleanup_links(&enabled).unwrap(), ["b.test"]);
    for f in ["b.test.crt", "b.test.key", "b.test.chain.pem"] {
        assert!(
            std::fs::symlink_metadata(tmp.path().join(f)).is_err(),
            "{f} removed"
        );
    }
    for f in [
        "a.test.crt",
        "a.test.key",
        "mine.test.crt",
        "default.crt",
        "a.test/fullchain.pem",
    ] {
        assert!(
            std::fs::symlink_metadata(tmp.path().join(f)).is_ok(),
            "{f} kept"
        );
    }
    assert!(store.cleanup_links(&enabled).unwrap().is_empty());
}

/// `FILES_UID`/`FILES_GID`/`FILES_PERMS`/`FOLDERS_PERMS` reach every file, folder and symlink
/// written. As root (CI) the owner is an unused uid/gid, so a missing chown shows; otherwise
/// the test's own ids (chown to yourself needs no privilege, but then only the modes can fail).
#[test]
fn file_modes_apply_to_everything_written() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let me = std::fs::metadata(tmp.path()).unwrap();
    let (uid, gid) = match me.uid() {
        0 => (4321, 4322),
        _ => (me.uid(), me.gid()),
    };
    let modes = FileModes {
        uid: Some(uid),
        gid: Some(gid),
        key: 0o640,
        public: 0o644,
        folder: 0o750,
    };
    let store = CertsDir::new(tmp.path().join("certs")).with_modes(modes);
    let (key, pem) = chain(&["a.test", "b.test"]);
    let hosts = vec!["a.test".to_string(), "b.test".to_string()];
    store
        .write_certificate("a.test", &hosts, &key, &pem)
        .unwrap();
    let dir = store.root().join("a.test");
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(mode(&dir.join("key.pem")), 0o640);
    for f in ["cert.pem", "chain.pem", "fullchain.pem", ".companion"] {
        assert_eq!(mode(&dir.join(f)), 0o644, "{f}");
    }
    let owned = |p: &Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    for p in [dir.clone(), dir.join("key.pem"), dir.join("fullchain.pem")] {
        assert_eq!(owned(&p), (uid, gid), "{p:?}");
    }
    for link in ["a.test.crt", "b.test.key", "b.test.chain.pem"] {
        let p = store.root().join(link);
        assert!(
            std::fs::symlink_metadata(&p)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(owned(&p), (uid, gid), "{link}");
    }
    // A renewal rewrites with the same modes; a key is never left more open than FILES_PERMS.
    let (key, pem) = chain(&["a.test", "b.test"]);
    store
        .write_certificate("a.test", &hosts, &key, &pem)
        .unwrap();
    assert_eq!(mode(&dir.join("key.pem")), 0o640);
}
