use super::*;

const KEY: [u8; 32] = [7; 32];

#[test]
fn sealed_keys_open_only_with_the_same_key_and_name() {
    let s = Sealer::with_key(&KEY);
    let sealed = s
        .seal(b"-----BEGIN PRIVATE KEY-----", "/d/certs/a")
        .unwrap();
    assert!(sealed.starts_with("aes-256-gcm:"));
    assert!(!sealed.contains("PRIVATE"));
    assert_eq!(
        s.open(&sealed, "/d/certs/a").unwrap(),
        b"-----BEGIN PRIVATE KEY-----"
    );
    // Moved under another certificate's name: refused.
    assert!(matches!(
        s.open(&sealed, "/d/certs/b"),
        Err(SealError::WrongKey)
    ));
    assert!(matches!(
        Sealer::with_key(&[8; 32]).open(&sealed, "/d/certs/a"),
        Err(SealError::WrongKey)
    ));
    assert!(matches!(
        Sealer::plain().open(&sealed, "/d/certs/a"),
        Err(SealError::NoKey)
    ));
    // Two seals of one secret differ (fresh nonce).
    assert_ne!(
        sealed,
        s.seal(b"-----BEGIN PRIVATE KEY-----", "/d/certs/a")
            .unwrap()
    );
}

#[test]
fn tampered_or_foreign_values_are_refused() {
    let s = Sealer::with_key(&KEY);
    let sealed = s.seal(b"secret", "n").unwrap();
    let mut bytes = B64
        .decode(sealed.strip_prefix("aes-256-gcm:").unwrap())
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = format!("aes-256-gcm:{}", B64.encode(bytes));
    assert!(matches!(s.open(&tampered, "n"), Err(SealError::WrongKey)));
    for bad in [
        "",
        "secret",
        "aes-256-gcm:!!",
        "aes-256-gcm:AAAA",
        "plain:!!",
    ] {
        assert!(s.open(bad, "n").is_err(), "{bad}");
    }
}

#[test]
fn plain_values_open_with_or_without_a_key() {
    let sealed = Sealer::plain().seal(b"k", "n").unwrap();
    assert_eq!(sealed, "plain:aw==");
    assert_eq!(Sealer::plain().open(&sealed, "n").unwrap(), b"k");
    assert_eq!(Sealer::with_key(&KEY).open(&sealed, "n").unwrap(), b"k");
}

#[test]
fn key_files_take_raw_hex_or_base64() {
    let hex = "07".repeat(32);
    let b64 = format!("{}\n", B64.encode(KEY));
    for content in [KEY.to_vec(), hex.into_bytes(), b64.into_bytes()] {
        assert_eq!(parse_key(&content), Some(KEY));
    }
    for bad in [
        &b"short"[..],
        &[1u8; 31][..],
        b"zz".repeat(32).as_slice(),
        b"",
    ] {
        assert_eq!(parse_key(bad), None);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, "not a key").unwrap();
    let err = Sealer::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("openssl rand -base64 32"), "{err}");
    assert!(Sealer::from_file(&dir.path().join("missing")).is_err());
}
