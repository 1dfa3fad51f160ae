//! Tests for the one X.509 reader: names and dates of a generated certificate.

use super::*;

#[test]
fn reads_names_and_dates_of_a_generated_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["B.test".into(), "a.test".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2030, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 4, 1);
    let cert = params.self_signed(&key).unwrap();
    let info = CertInfo::from_pem(cert.pem().as_bytes()).unwrap();
    assert_eq!(info.names, ["a.test", "b.test"]);
    assert_eq!(info.not_before, 1_893_456_000);
    assert_eq!(info.not_after - info.not_before, 90 * 86_400);
    assert!(info.covers_exactly(&["b.test".into(), "A.test".into()]));
    assert!(!info.covers_exactly(&["a.test".into()]));
    assert!(matches!(
        CertInfo::from_pem(b"nothing"),
        Err(CertInfoError::NoCertificate)
    ));
}

#[test]
fn served_names_add_ip_sans_or_fall_back_to_the_cn() {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["a.test".into(), "127.0.0.1".into()]).unwrap();
    let info = CertInfo::from_der(params.self_signed(&key).unwrap().der()).unwrap();
    assert_eq!(info.names, ["a.test"], "ACME compares DNS names only");
    assert_eq!(info.served_names(), ["a.test", "127.0.0.1"]);

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Old.Test");
    let info = CertInfo::from_der(params.self_signed(&key).unwrap().der()).unwrap();
    assert!(info.names.is_empty());
    assert_eq!(info.served_names(), ["old.test"]);
}

#[test]
fn subject_dn_reads_like_nginx_ssl_client_s_dn() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "DE");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Acme, Inc.");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, " alice\u{e9}");
    let cert = params.self_signed(&key).unwrap();
    // rcgen encodes CN, C, O; RFC 2253 prints the last RDN first (`openssl x509 -nameopt RFC2253`).
    assert_eq!(
        subject_dn(cert.der()).unwrap(),
        "O=Acme\\, Inc.,C=DE,CN=\\ alice\\C3\\A9"
    );
    assert_eq!(subject_dn(b"junk"), None);
}
