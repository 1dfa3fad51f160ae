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
