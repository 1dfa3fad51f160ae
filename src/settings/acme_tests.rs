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

#[test]
fn a_wildcard_counts_as_declared_when_virtual_host_has_a_name_it_covers() {
    let s = build(&[item(
        "shop",
        &[
            ("VIRTUAL_HOST", "a.tld,www.a.tld,b.tld"),
            ("LETSENCRYPT_HOST", "*.a.tld,a.tld,*.b.tld,*.c.tld"),
            ("ACMESH_DNS_API_CONFIG", "DNS_API: dns_nsupdate"),
        ],
    )]);
    let warned: Vec<_> = s.skipped.iter().map(|w| w.reason.as_str()).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned[0].contains("*.b.tld") && warned[1].contains("*.c.tld"),
        "{warned:?}"
    );
    // acme-companion's ACMESH_ setting travels with the request.
    assert!(
        s.certificates[0]
            .settings
            .contains_key("ACMESH_DNS_API_CONFIG")
    );
}

/// A container's own ZeroSSL key reaches the ACME side (acme-companion reads it per
/// container); other non-ACME variables do not.
#[test]
fn a_containers_zerossl_key_is_kept() {
    let s = build(&[item(
        "shop",
        &[
            ("VIRTUAL_HOST", "a.tld"),
            ("ACME_HOST", "a.tld"),
            ("ZEROSSL_API_KEY", " k3y "),
            ("DB_PASSWORD", "nope"),
        ],
    )]);
    let settings = &s.certificates[0].settings;
    assert_eq!(
        settings.get("ZEROSSL_API_KEY").map(String::as_str),
        Some("k3y")
    );
    assert!(!settings.contains_key("DB_PASSWORD"));
}
