use super::*;

#[test]
fn eab_keys_decode_in_every_common_alphabet() {
    assert_eq!(decode_hmac("c2VjcmV0").unwrap(), b"secret");
    assert_eq!(decode_hmac("_-8").unwrap(), [0xff, 0xef]);
    assert!(decode_hmac("!!").is_err());
}
