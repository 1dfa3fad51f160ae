//! Tests for atomic writes: mode and replacement, no temp file left behind.

use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn writes_with_mode_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    write_atomic(&path, b"one", 0o600).unwrap();
    write_atomic(&path, b"two", 0o600).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temp files left behind");
}
