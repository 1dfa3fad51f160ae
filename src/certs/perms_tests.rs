//! Parsing of `FILES_UID`/`FILES_GID`/`FILES_PERMS`/`FOLDERS_PERMS`.

use super::*;

fn parse(vars: &[(&str, &str)]) -> (FileModes, Vec<String>) {
    FileModes::from_vars(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
}

#[test]
fn defaults_match_acme_companion() {
    let (m, w) = parse(&[]);
    assert_eq!(m, FileModes::default());
    assert_eq!((m.key, m.public, m.folder), (0o600, 0o644, 0o755));
    assert_eq!(m.owner(), None);
    assert!(w.is_empty());
}

#[test]
fn values_and_gid_defaulting_to_uid() {
    let (m, w) = parse(&[
        ("FILES_UID", "1000"),
        ("FILES_PERMS", "640"),
        ("FOLDERS_PERMS", "0750"),
    ]);
    assert_eq!((m.uid, m.gid), (Some(1000), Some(1000)));
    assert_eq!((m.key, m.folder), (0o640, 0o750));
    assert!(w.is_empty(), "{w:?}");
    let (m, _) = parse(&[("FILES_UID", "1000"), ("FILES_GID", "33")]);
    assert_eq!((m.uid, m.gid), (Some(1000), Some(33)));
    let (m, _) = parse(&[("FILES_GID", "33")]);
    assert_eq!(m.owner(), Some((None, Some(33))));
}

#[test]
fn bad_values_keep_defaults_with_a_warning() {
    let (m, w) = parse(&[
        ("FILES_UID", "nginx"),
        ("FILES_PERMS", "6400"),
        ("FOLDERS_PERMS", "79"),
    ]);
    assert_eq!(m.owner(), None);
    assert_eq!(m.folder, 0o755);
    // 6400 is valid octal (setuid + 400); only 79 and the name are rejected.
    assert_eq!(m.key, 0o6400);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("FILES_UID=\"nginx\""), "{w:?}");
    assert!(w[1].contains("FOLDERS_PERMS=\"79\""), "{w:?}");
    for bad in ["8", "12345", "abc", "99a"] {
        assert_eq!(parse_octal(bad), None, "{bad}");
    }
}

#[test]
fn described_for_check() {
    let (m, _) = parse(&[("FILES_UID", "33"), ("FILES_PERMS", "640")]);
    assert_eq!(
        m.describe(),
        "certificate files: owner 33:33 (FILES_UID/FILES_GID), keys 640 (FILES_PERMS), other files 644, folders 755 (FOLDERS_PERMS)"
    );
    assert!(
        FileModes::default()
            .describe()
            .contains("owner dockside's:dockside's")
    );
}

#[test]
fn world_readable_keys_are_warned_about() {
    let (m, w) = parse(&[("FILES_PERMS", "644")]);
    assert_eq!(m.key, 0o644);
    assert!(w[0].contains("every local user"), "{w:?}");
}

#[test]
fn a_failing_chown_probe_drops_the_owner_with_one_warning() {
    let (m, _) = parse(&[("FILES_UID", "1000"), ("FILES_PERMS", "640")]);
    let dir = Path::new("/etc/nginx/certs");
    let denied = io::Error::from_raw_os_error(1); // EPERM, as without CAP_CHOWN
    let (after, warning) = m.after_probe(dir, Err(denied));
    assert_eq!(after.owner(), None, "no chown is tried again");
    assert_eq!((after.key, after.folder), (0o640, 0o755), "modes are kept");
    let w = warning.expect("a warning");
    for part in ["FILES_UID", "FILES_GID", "1000:1000", "CAP_CHOWN", "root"] {
        assert!(w.contains(part), "{part} missing from {w}");
    }
}

#[test]
fn a_working_chown_probe_keeps_the_owner() {
    let (m, _) = parse(&[("FILES_UID", "1000")]);
    let (after, warning) = m.after_probe(Path::new("/certs"), Ok(()));
    assert_eq!(after, m);
    assert!(warning.is_none());
}

#[test]
fn probe_without_owner_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (after, warning) = FileModes::default().probe_owner(dir.path());
    assert_eq!((after, warning), (FileModes::default(), None));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn probe_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    // Our own ids: allowed whether or not the tests run as root.
    let meta = std::fs::metadata(dir.path()).unwrap();
    use std::os::unix::fs::MetadataExt;
    let modes = FileModes {
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
        ..FileModes::default()
    };
    let (after, warning) = modes.probe_owner(dir.path());
    assert_eq!((after, warning), (modes, None));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
