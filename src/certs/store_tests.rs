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

#[test]
fn a_rescan_reuses_vouched_pairs_and_sees_a_rewrite_that_keeps_size_and_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c1, _) = write(d, "a.test", "a.test");
    // As if scanned a minute later: the files are old enough for their stamps to vouch.
    let later = unix_now() + 60;
    let (first, _) = CertMap::scan_at(d, &CertMap::default(), later);
    assert!(first.stamps.contains_key("a.test"));
    let (again, _) = CertMap::scan_at(d, &first, later);
    assert!(Arc::ptr_eq(
        again.get("a.test").unwrap(),
        first.get("a.test").unwrap()
    ));

    // Another pair of exactly the same sizes, written over the same inodes, then the old
    // modification time put back (`cp -p`, `touch -r`): only the change time tells.
    let crt = d.join("a.test.crt");
    let mtime = std::fs::metadata(&crt).unwrap().modified().unwrap();
    let (c2, k2) = std::iter::repeat_with(|| pem("a.test"))
        .find(|(c, _)| c.len() == c1.len())
        .unwrap();
    let ctime = |path: &Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).unwrap();
        (m.ctime(), m.ctime_nsec())
    };
    for (file, text) in [("a.test.crt", &c2), ("a.test.key", &k2)] {
        let path = d.join(file);
        let (before, changed_at) = (std::fs::metadata(&path).unwrap().len(), ctime(&path));
        std::fs::write(&path, text).unwrap();
        assert_eq!(before, std::fs::metadata(&path).unwrap().len());
        let f = std::fs::File::options().append(true).open(&path).unwrap();
        // The change time moves on the file system's clock tick (a few ms): touch until it has.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        f.set_modified(mtime).unwrap();
        while ctime(&path) == changed_at {
            assert!(std::time::Instant::now() < deadline, "ctime never moved");
            f.set_modified(mtime).unwrap();
        }
    }
    let (changed, errors) = CertMap::scan_at(d, &again, later);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        !Arc::ptr_eq(changed.get("a.test").unwrap(), first.get("a.test").unwrap()),
        "the rewritten pair is loaded again"
    );
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(c2.as_bytes()).unwrap();
    assert_eq!(changed.get("a.test").unwrap().key.cert[0], der);
}

#[test]
fn files_changed_just_before_a_scan_are_read_again_at_the_next() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.test", "a.test");
    let (map, _) = CertMap::scan_at(dir.path(), &CertMap::default(), unix_now());
    assert!(map.get("a.test").is_some());
    assert!(
        map.stamps.is_empty(),
        "a file written within the timestamp granularity may change again unseen"
    );
}

#[test]
fn parallel_map_keeps_order() {
    let items: Vec<u32> = (0..5_000).collect();
    let doubled = parallel_map(&items, |i| i * 2);
    assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    assert_eq!(parallel_map(&items[..3], |i| i + 1), [1, 2, 3]);
}
