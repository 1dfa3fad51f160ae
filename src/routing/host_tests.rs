use super::*;

#[test]
fn host_values_are_validated_like_nginx() {
    let ok: &[(&str, &str)] = &[
        ("a.test", "a.test"),
        ("A.TEST.:9999", "a.test"),
        ("a.test:", "a.test"),
        ("a.test.", "a.test"),
        ("my_host-1", "my_host-1"),
        ("172.20.0.1:80", "172.20.0.1"),
        ("[FD00::1]:443", "[fd00::1]"),
        ("[::1]", "[::1]"),
        ("", ""),
    ];
    for (raw, want) in ok {
        assert_eq!(parse_host(raw).as_deref(), Ok(*want), "{raw}");
    }
    let bad: &[(&str, InvalidHost)] = &[
        ("a.test:1:2", InvalidHost::Port),
        ("a.test:x", InvalidHost::Port),
        ("a.test:123456", InvalidHost::Port),
        ("user@a.test", InvalidHost::Character),
        ("a.test/x", InvalidHost::Character),
        ("a\\b", InvalidHost::Character),
        ("a b", InvalidHost::Character),
        ("a..test", InvalidHost::EmptyLabel),
        (".a.test", InvalidHost::EmptyLabel),
        ("[::1", InvalidHost::Bracket),
        ("[::1]x", InvalidHost::Port),
        ("[g::1]", InvalidHost::Character),
    ];
    for (raw, want) in bad {
        assert_eq!(parse_host(raw), Err(*want), "{raw}");
    }
}

#[test]
fn patterns_match_like_nginx_server_name() {
    let cases: &[(&str, &str, bool)] = &[
        ("example.com", "example.com", true),
        ("Example.COM", "example.com", true),
        ("example.com", "www.example.com", false),
        ("*.example.com", "a.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        (".example.com", "example.com", true),
        (".example.com", "x.example.com", true),
        ("example.*", "example.org", true),
        ("example.*", "example.co.uk", true),
        ("example.*", "example", false),
        ("~^foo\\.bar\\..*\\.nip\\.io", "foo.bar.1.2.nip.io", true),
        ("~^foo\\.bar\\..*\\.nip\\.io", "xfoo.bar.1.nip.io", false),
        ("172.20.0.1", "172.20.0.1", true),
        ("[fd00::1]", "[fd00::1]", true),
    ];
    for (pattern, host, want) in cases {
        let p = HostPattern::parse(pattern).unwrap();
        assert_eq!(p.matches(host), *want, "{pattern} vs {host}");
    }
}

#[test]
fn bad_regex_names_the_item() {
    let err = HostPattern::parse("~^(unclosed").unwrap_err();
    assert!(err.to_string().contains("~^(unclosed"), "{err}");
}

#[test]
fn host_header_is_normalized() {
    assert_eq!(normalize_host("Example.com:8080"), "example.com");
    assert_eq!(normalize_host("example.com."), "example.com");
    assert_eq!(normalize_host("[::1]:443"), "[::1]");
    assert_eq!(normalize_host("[::1]"), "[::1]");
}
