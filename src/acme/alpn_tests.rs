use super::*;

#[test]
fn carries_the_acme_identifier_as_a_critical_extension() {
    let key = validation_key("a.test", &[7u8; 32]).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&key.cert[0]).unwrap();
    let oid = x509_parser::oid_registry::Oid::from(&[1, 3, 6, 1, 5, 5, 7, 1, 31]).unwrap();
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid == oid)
        .expect("acmeIdentifier");
    assert!(ext.critical);
    assert_eq!(&ext.value[2..], &[7u8; 32], "OCTET STRING of the digest");
}
