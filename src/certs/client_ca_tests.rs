//! Tests for the client-certificate CA files: pairing with CRLs, verification, last good.

use super::*;
use crate::certs::CertMap;

/// A test CA that signs client certificates and CRLs.
struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

impl Ca {
    fn new(cn: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { params, key, pem }
    }

    fn client(&self, serial: u64, expired: bool) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client");
        params.serial_number = Some(serial.into());
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.signed_by(&key, &issuer).unwrap().der().clone()
    }

    fn crl(&self, revoked: &[u64]) -> String {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2020, 1, 1),
            next_update: rcgen::date_time_ymd(2100, 1, 1),
            crl_number: 1u64.into(),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: (*serial).into(),
                    revocation_time: rcgen::date_time_ymd(2020, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.signed_by(&issuer).unwrap().pem().unwrap()
    }
}

fn scan(dir: &Path, previous: &CertMap) -> CertMap {
    CertMap::scan(dir, previous).0
}

fn verdict(ca: &ClientCa, cert: CertificateDer<'static>) -> Option<Result<(), rustls::Error>> {
    ca.verify(&[cert], UnixTime::now())
}

#[test]
fn a_host_file_wins_over_the_global_one_and_pairs_with_its_own_crl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (host_ca, global_ca) = (Ca::new("host CA"), Ca::new("global CA"));
    std::fs::write(d.join("a.test.ca.crt"), &host_ca.pem).unwrap();
    std::fs::write(d.join("ca.crt"), &global_ca.pem).unwrap();
    // The global CRL revokes serial 7 of the global CA; it never applies to a host's CA file.
    std::fs::write(d.join("ca.crl.pem"), global_ca.crl(&[7])).unwrap();
    let map = scan(d, &CertMap::default());
    let cas = map.client_cas();

    let a = cas.for_site("a.test").unwrap();
    assert_eq!(a.ca_file, d.join("a.test.ca.crt"));
    assert_eq!(a.crl_file, None);
    assert!(matches!(verdict(a, host_ca.client(7, false)), Some(Ok(()))));
    assert!(matches!(
        verdict(a, global_ca.client(8, false)),
        Some(Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        )))
    ));

    let b = cas.for_site("b.test").unwrap();
    assert_eq!(b.ca_file, d.join("ca.crt"));
    assert_eq!(b.crl_file, Some(d.join("ca.crl.pem")));
    assert!(matches!(
        verdict(b, global_ca.client(8, false)),
        Some(Ok(()))
    ));
    assert!(matches!(
        verdict(b, global_ca.client(7, false)),
        Some(Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Revoked
        )))
    ));
    assert!(matches!(
        verdict(b, global_ca.client(9, true)),
        Some(Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ExpiredContext { .. }
        )))
    ));
    let hints = b.hints();
    assert_eq!(hints.len(), 1);
    assert!(
        hints[0].as_ref().windows(9).any(|w| w == b"global CA"),
        "the CertificateRequest names the CA"
    );
    assert_eq!(
        scan(d, &map),
        map,
        "an unchanged directory gives an equal map"
    );
}

#[test]
fn no_ca_file_means_no_client_authentication() {
    let dir = tempfile::tempdir().unwrap();
    // A CRL alone does nothing (nginx-proxy reads it only next to its CA file).
    std::fs::write(dir.path().join("ca.crl.pem"), Ca::new("x").crl(&[])).unwrap();
    let map = scan(dir.path(), &CertMap::default());
    assert!(map.client_cas().for_site("a.test").is_none());
}

#[test]
fn a_broken_file_keeps_the_last_good_ca_or_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new("CA");
    std::fs::write(d.join("a.test.ca.crt"), &ca.pem).unwrap();
    std::fs::write(d.join("a.test.crl.pem"), ca.crl(&[3])).unwrap();
    std::fs::write(d.join("b.test.ca.crt"), "not a certificate").unwrap();
    let good = scan(d, &CertMap::default());

    // Never loaded: still there (its sites keep asking), but every certificate fails.
    let b = good.client_cas().for_site("b.test").unwrap();
    assert!(!b.is_usable() && b.hints().is_empty());
    assert!(b.problem.as_deref().unwrap().contains("b.test.ca.crt"));
    assert!(verdict(b, ca.client(1, false)).is_none());

    // A corrupt CRL or CA later keeps the last good pair (revocations included).
    std::fs::write(
        d.join("a.test.crl.pem"),
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let kept = scan(d, &good);
    let a = kept.client_cas().for_site("a.test").unwrap();
    assert!(Arc::ptr_eq(
        a,
        good.client_cas().for_site("a.test").unwrap()
    ));
    assert!(matches!(verdict(a, ca.client(3, false)), Some(Err(_))));
    std::fs::write(d.join("a.test.crl.pem"), ca.crl(&[])).unwrap();
    std::fs::write(d.join("a.test.ca.crt"), "garbage").unwrap();
    let kept = scan(d, &kept);
    assert!(kept.client_cas().for_site("a.test").unwrap().is_usable());

    // Fixed files load; the map differs so the watcher publishes it.
    std::fs::write(d.join("a.test.ca.crt"), &ca.pem).unwrap();
    let fixed = scan(d, &kept);
    let a = fixed.client_cas().for_site("a.test").unwrap();
    assert!(matches!(verdict(a, ca.client(3, false)), Some(Ok(()))));
    assert_ne!(fixed, kept);
}

#[test]
fn errors_name_the_file_and_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new("CA");
    std::fs::write(d.join("ca.crt"), "").unwrap();
    std::fs::write(d.join("x.test.ca.crt"), &ca.pem).unwrap();
    std::fs::write(d.join("x.test.crl.pem"), "no pem here").unwrap();
    let map = scan(d, &CertMap::default());
    let global = map.client_cas().for_site("other").unwrap();
    let problem = global.problem.as_deref().unwrap();
    assert!(
        problem.contains("ca.crt") && problem.contains("no PEM certificate"),
        "{problem}"
    );
    let x = map.client_cas().for_site("x.test").unwrap();
    let problem = x.problem.as_deref().unwrap();
    assert!(
        problem.contains("x.test.crl.pem") && problem.contains("X509 CRL"),
        "{problem}"
    );
}
