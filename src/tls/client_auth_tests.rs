//! Table tests for nginx's `ssl_verify_client` decisions and `$ssl_client_verify` texts.

use super::*;

fn verdict(mode: VerifyClient, outcome: ClientOutcome) -> ClientVerdict {
    ClientVerdict { mode, outcome }
}

#[test]
fn refusals_follow_nginx_modes() {
    let none = ClientOutcome::None;
    let good = ClientOutcome::Verified {
        subject: "CN=c".into(),
    };
    let bad = ClientOutcome::Failed {
        reason: "certificate revoked".into(),
        subject: Some("CN=c".into()),
    };
    use Refusal::*;
    use VerifyClient::*;
    let cases = [
        (On, &none, Some(NoCertificate)),
        (On, &good, None),
        (On, &bad, Some(BadCertificate)),
        (Optional, &none, None),
        (Optional, &good, None),
        (Optional, &bad, Some(BadCertificate)),
        (OptionalNoCa, &none, None),
        (OptionalNoCa, &good, None),
        (OptionalNoCa, &bad, None),
    ];
    for (mode, outcome, want) in cases {
        assert_eq!(
            verdict(mode, outcome.clone()).refusal(),
            want,
            "{mode:?} {outcome:?}"
        );
    }
    assert_eq!(verdict(On, none).verify_text(), "NONE");
    assert_eq!(verdict(On, good.clone()).verify_text(), "SUCCESS");
    assert_eq!(verdict(On, good).subject(), Some("CN=c"));
    assert_eq!(
        verdict(Optional, bad).verify_text(),
        "FAILED:certificate revoked"
    );
}

#[test]
fn reasons_use_openssl_words() {
    use rustls::CertificateError as E;
    let cases = [
        (E::Revoked, "certificate revoked"),
        (E::Expired, "certificate has expired"),
        (E::UnknownIssuer, "unable to get local issuer certificate"),
        (E::UnknownRevocationStatus, "unable to get certificate CRL"),
    ];
    for (err, want) in cases {
        assert_eq!(reason(&rustls::Error::InvalidCertificate(err)), want);
    }
}

#[test]
fn off_or_no_ca_file_asks_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cas = crate::certs::CertMap::scan(dir.path(), &Default::default())
        .0
        .client_cas()
        .clone();
    assert!(select(VerifyClient::On, "a.test", &cas).is_none());
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).unwrap().pem();
    std::fs::write(dir.path().join("ca.crt"), pem).unwrap();
    let map = crate::certs::CertMap::scan(dir.path(), &Default::default()).0;
    let cas = map.client_cas();
    assert!(select(VerifyClient::Off, "a.test", cas).is_none());
    let auth = select(VerifyClient::Optional, "a.test", cas).unwrap();
    assert_eq!(auth.mode, VerifyClient::Optional);
    assert_eq!(auth.ca.ca_file, dir.path().join("ca.crt"));
    let none = judge(&auth, None, UnixTime::now());
    assert_eq!(none.outcome, ClientOutcome::None);
}
