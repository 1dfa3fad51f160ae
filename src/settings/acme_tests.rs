use crate::model::Severity;
use crate::settings::build;
use crate::settings::test_support::source_item as item;

#[test]
fn one_san_certificate_per_container() {
    let s = build(&[item(
        "shop",
        &[
            ("VIRTUAL_HOST", "a.tld,b.tld"),
            ("LETSENCRYPT_HOST", "a.tld, b.tld.,"),
            ("LETSENCRYPT_EMAIL", "x@a.tld"),
        ],
    )]);
    assert_eq!(s.certificates.len(), 1);
    assert_eq!(s.certificates[0].hosts, ["a.tld", "b.tld"]);
    assert_eq!(
        s.certificates[0]
            .settings
            .get("LETSENCRYPT_EMAIL")
            .map(String::as_str),
        Some("x@a.tld")
    );
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
}

#[test]
fn acme_host_wins_over_legacy_and_single_domain_splits() {
    let s = build(&[item(
        "shop",
        &[
            ("VIRTUAL_HOST", "a.tld,b.tld"),
            ("ACME_HOST", "a.tld,b.tld"),
            ("LETSENCRYPT_HOST", "ignored.tld"),
            ("LETSENCRYPT_SINGLE_DOMAIN_CERTS", "true"),
        ],
    )]);
    let hosts: Vec<_> = s.certificates.iter().map(|c| c.hosts.clone()).collect();
    assert_eq!(hosts, [vec!["a.tld"], vec!["b.tld"]]);
}

#[test]
fn acme_host_outside_virtual_host_is_a_warning_naming_both() {
    let s = build(&[item(
        "shop",
        &[
            ("VIRTUAL_HOST", "a.tld"),
            ("LETSENCRYPT_HOST", "a.tld,c.tld"),
        ],
    )]);
    let w = &s.skipped[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(
        w.reason.contains("c.tld") && w.reason.contains("VIRTUAL_HOST=\"a.tld\""),
        "{}",
        w.reason
    );
    assert_eq!(s.certificates[0].hosts, ["a.tld", "c.tld"]);
}
