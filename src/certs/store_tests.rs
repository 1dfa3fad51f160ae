//! Tests for scanning the certificate directory: links, last good pair, settling, modes.

use super::*;

fn pem(host: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![host.into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, host: &str) -> (String, String) {
    let (c, k) = pem(host);
    write_pair(dir, name, c.as_bytes(), k.as_bytes()).unwrap();
    (c, k)
}

#[test]
fn loads_pairs_links_and_keeps_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.test", "a.test");
    write(d, "default", "default.invalid");
    std::fs::write(d.join("nokey.test.crt"), pem("nokey.test").0).unwrap();
    std::fs::create_dir(d.join("b.test")).unwrap();
    let (c, k) = pem("b.test");
    std::fs::write(d.join("b.test/fullchain.pem"), c).unwrap();
    std::fs::write(d.join("b.test/key.pem"), k).unwrap();
    std::os::unix::fs::symlink("./b.test/fullchain.pem", d.join("b.test.crt")).unwrap();
    std::os::unix::fs::symlink("./b.test/key.pem", d.join("b.test.key")).unwrap();
    std::os::unix::fs::symlink("./gone/fullchain.pem", d.join("gone.crt")).unwrap();

    let (map, errors) = CertMap::scan(d, &CertMap::default());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(map.get("a.test").unwrap().covers("a.test"));
    assert!(map.get("b.test").unwrap().covers("b.test"));
    assert!(map.default_cert().is_some());
    assert!(map.has_crt("nokey.test") && map.get("nokey.test").is_none());
    assert!(!map.has_crt("gone"), "dangling symlink is no certificate");

    let (again, _) = CertMap::scan(d, &map);
    assert_eq!(again, map, "unchanged directory gives an equal map");

    std::fs::write(d.join("a.test.crt"), "corrupt").unwrap();
    let (fresh, errors) = CertMap::scan(d, &map);
    assert_eq!(errors.len(), 1);
    assert!(
        fresh.is_unsettled() && fresh.failed.is_empty(),
        "mid-write: no warning yet"
    );
    let old = std::time::SystemTime::now() - 2 * SETTLE;
    for f in ["a.test.crt", "a.test.key"] {
        let file = std::fs::File::options().append(true).open(d.join(f));
        file.unwrap().set_modified(old).unwrap();
    }
    let (broken, errors) = CertMap::scan(d, &fresh);
    assert!(!broken.is_unsettled() && broken.failed.contains_key("a.test"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("a.test.crt"),
        "{}",
        errors[0]
    );
    assert!(Arc::ptr_eq(
        broken.get("a.test").unwrap(),
        map.get("a.test").unwrap()
    ));
    assert_eq!(broken, map, "last good entry inherited");

    std::fs::remove_file(d.join("a.test.crt")).unwrap();
    let (removed, _) = CertMap::scan(d, &broken);
    assert!(!removed.has_crt("a.test"));
}

#[test]
fn write_pair_sets_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x.test", "x.test");
    let mode = |f: &str| {
        std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("x.test.crt"), mode("x.test.key")), (0o644, 0o600));
}
