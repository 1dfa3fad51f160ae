use super::*;

#[test]
fn policy_table() {
    let cases = [
        ("Mozilla-Modern", Mapping::Exact(Policy::Modern)),
        ("AWS-TLS13-1-3-2021-06", Mapping::Exact(Policy::Modern)),
        ("Mozilla-Intermediate", Mapping::Exact(Policy::Intermediate)),
        (
            "AWS-TLS13-1-2-Res-2021-06",
            Mapping::Exact(Policy::Intermediate),
        ),
        ("Mozilla-Old", Mapping::Nearest(Policy::Intermediate)),
        (
            "AWS-TLS13-1-0-2021-06",
            Mapping::Nearest(Policy::Intermediate),
        ),
        (
            "AWS-FS-1-2-Res-2020-10",
            Mapping::Nearest(Policy::Intermediate),
        ),
        ("AWS-2015-05", Mapping::Nearest(Policy::Intermediate)),
        ("mozilla-modern", Mapping::Nearest(Policy::Intermediate)),
    ];
    for (name, want) in cases {
        assert_eq!(map(name), want, "{name}");
    }
}

#[test]
fn modern_has_only_tls13_suites() {
    let modern = provider(Policy::Modern);
    assert!(!modern.cipher_suites.is_empty());
    assert!(
        modern
            .cipher_suites
            .iter()
            .all(|s| s.version() == &rustls::version::TLS13)
    );
    let intermediate = provider(Policy::Intermediate);
    assert!(
        intermediate
            .cipher_suites
            .iter()
            .any(|s| s.version() == &rustls::version::TLS12)
    );
}
