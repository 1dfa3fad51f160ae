use super::*;
use crate::settings::test_support::{container_at, source_item};

fn container(vars: &[(&str, &str)], exposed: &[u16]) -> SourceItem {
    SourceItem {
        reach: container_at(5, exposed),
        ..source_item("web1", vars)
    }
}

/// The only contribution of a plain (`VIRTUAL_HOST`) item.
fn one(item: &SourceItem) -> Contribution {
    let mut parsed = parse(item).unwrap();
    assert_eq!(parsed.contributions.len(), 1);
    parsed.contributions.remove(0)
}

fn port_of(c: &Contribution) -> u16 {
    match &c.backends[0].addr {
        BackendAddr::Tcp(a) => a.port(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn virtual_host_lists_tolerate_stray_spaces() {
    for (value, want) in [
        ("a.tld", vec!["a.tld"]),
        ("a.tld ,", vec!["a.tld"]),
        (" ,a.tld", vec!["a.tld"]),
        ("a.tld, , b.tld", vec!["a.tld", "b.tld"]),
        ("*.a.tld,a.*,~^x\\.y$", vec!["*.a.tld", "a.*", "~^x\\.y$"]),
    ] {
        assert_eq!(split_hosts(value), want, "{value:?}");
    }
    assert_eq!(
        parse(&container(&[("VIRTUAL_HOST", " , ")], &[])),
        Err(Rejection::NotRouted)
    );
    assert_eq!(parse(&container(&[], &[])), Err(Rejection::NotRouted));
}

#[test]
fn port_selection_follows_nginx_proxy() {
    let c = |vars: &[(&str, &str)], exposed: &[u16]| port_of(&one(&container(vars, exposed)));
    assert_eq!(
        c(&[("VIRTUAL_HOST", "a"), ("VIRTUAL_PORT", "90")], &[81]),
        90
    );
    assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[8000]), 8000);
    assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[8000, 9000]), 80);
    assert_eq!(c(&[("VIRTUAL_HOST", "a")], &[]), 80);
}

#[test]
fn bad_values_name_setting_and_value() {
    let cases: &[(&str, &str, &str)] = &[
        ("VIRTUAL_PORT", "eighty", "VIRTUAL_PORT=\"eighty\""),
        ("VIRTUAL_PROTO", "gopher", "VIRTUAL_PROTO=\"gopher\""),
        ("VIRTUAL_ROOT", "public", "VIRTUAL_ROOT=\"public\""),
        ("HTTPS_METHOD", "always", "HTTPS_METHOD=\"always\""),
        ("VIRTUAL_PATH", "~ ^/(", "VIRTUAL_PATH"),
        ("VIRTUAL_HOST", "~^(", "VIRTUAL_HOST"),
        (
            "CLIENT_MAX_BODY_SIZE",
            "big",
            "CLIENT_MAX_BODY_SIZE=\"big\"",
        ),
        (
            "com.github.nginx-proxy.nginx-proxy.keepalive",
            "often",
            "keepalive=\"often\"",
        ),
        (
            "com.github.nginx-proxy.nginx-proxy.http2.enable",
            "yes",
            "http2.enable=\"yes\"",
        ),
        (
            "com.github.nginx-proxy.nginx-proxy.http3.enable",
            "yes",
            "http3.enable=\"yes\"",
        ),
        ("VIRTUAL_HOST_MULTIPORTS", "{}", "VIRTUAL_HOST_MULTIPORTS"),
        ("EXTERNAL_HTTP_PORT", "0", "EXTERNAL_HTTP_PORT=\"0\""),
        (
            "EXTERNAL_HTTPS_PORT",
            "https",
            "EXTERNAL_HTTPS_PORT=\"https\"",
        ),
        ("SERVER_TOKENS", "maybe", "SERVER_TOKENS=\"maybe\""),
        (
            "com.github.nginx-proxy.nginx-proxy.debug-endpoint",
            "yes",
            "debug-endpoint=\"yes\"",
        ),
        (
            "com.github.nginx-proxy.nginx-proxy.ssl_verify_client",
            "required",
            "ssl_verify_client=\"required\"",
        ),
    ];
    for (name, value, needle) in cases {
        let mut vars = vec![("VIRTUAL_HOST", "a.tld")];
        if *name == "VIRTUAL_HOST" {
            vars.clear();
        }
        vars.push((name, value));
        match parse(&container(&vars, &[])) {
            Err(Rejection::Invalid(msg)) => {
                assert!(msg.contains(needle), "{msg} lacks {needle}")
            }
            other => panic!("{name}={value}: {other:?}"),
        }
    }
}

#[test]
fn settings_are_kept_raw_for_merging() {
    let c = one(&container(
        &[
            ("VIRTUAL_HOST", "a"),
            ("HTTPS_METHOD", "nohttp"),
            ("VIRTUAL_PROTO", "uwsgi"),
            ("VIRTUAL_PATH", "/api/"),
        ],
        &[9009],
    ));
    assert_eq!(
        c.host_settings.get(HTTPS_METHOD).map(String::as_str),
        Some("nohttp")
    );
    assert_eq!(
        c.path_settings.get(VIRTUAL_PROTO).map(String::as_str),
        Some("uwsgi")
    );
    assert_eq!((c.path.as_str(), port_of(&c)), ("/api/", 9009));
}

#[test]
fn unreachable_container_keeps_its_reason() {
    let mut item = container(&[("VIRTUAL_HOST", "a")], &[]);
    item.reach = Reach::Unreachable("shares no network with dockside".into());
    let c = one(&item);
    assert!(c.backends.is_empty());
    assert_eq!(
        c.unreachable.as_deref(),
        Some("shares no network with dockside")
    );
}

#[test]
fn multiports_contributes_each_host_and_path_and_overrides_virtual_settings() {
    let yaml = "a.tld:\n  external_https_port: 8443\n  /: {port: 8080}\n  /api/: {port: 9000, proto: https, dest: /v1/}\nb.tld:\n";
    let item = container(
        &[
            ("VIRTUAL_HOST_MULTIPORTS", yaml),
            // Ignored on a MULTIPORTS container, even when malformed.
            ("VIRTUAL_HOST", "ignored.tld"),
            ("VIRTUAL_PORT", "eighty"),
            ("VIRTUAL_PATH", "/ignored/"),
            ("VIRTUAL_PROTO", "uwsgi"),
            ("VIRTUAL_DEST", "/x/"),
            ("EXTERNAL_HTTP_PORT", "81"),
            // Still applied to every host and path it declares.
            ("HTTPS_METHOD", "nohttp"),
            ("IP_ALLOW", "10.0.0.0/8"),
        ],
        &[7000],
    );
    let parsed = parse(&item).unwrap();
    let got: Vec<_> = parsed
        .contributions
        .iter()
        .map(|c| {
            let ps = |n: &str| c.path_settings.get(n).cloned().unwrap_or_default();
            (
                c.hosts.join(","),
                c.path.clone(),
                port_of(c),
                ps(VIRTUAL_PROTO),
                ps(VIRTUAL_DEST),
                c.host_settings.get(MULTIPORTS_EXTERNAL_HTTPS_PORT).cloned(),
            )
        })
        .collect();
    let s = |v: &str| v.to_owned();
    assert_eq!(
        got,
        [
            (s("a.tld"), s("/"), 8080, s("http"), s(""), Some(s("8443"))),
            (
                s("a.tld"),
                s("/api/"),
                9000,
                s("https"),
                s("/v1/"),
                Some(s("8443"))
            ),
            // Empty host: `/` on the default port (the single exposed one).
            (
                s("b.tld"),
                s("/"),
                7000,
                s("http"),
                s(""),
                Some(s("default"))
            ),
        ]
    );
    for c in &parsed.contributions {
        assert_eq!(
            c.host_settings.get(HTTPS_METHOD).map(String::as_str),
            Some("nohttp")
        );
        assert!(!c.host_settings.contains_key("EXTERNAL_HTTP_PORT"));
        assert_eq!(
            c.path_settings.get(IP_ALLOW).map(String::as_str),
            Some("10.0.0.0/8")
        );
    }
    assert_eq!(declared_hosts(&item), ["a.tld", "b.tld"]);
}

#[test]
fn multiports_errors_name_the_setting_and_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "a.tld: {/: {port: 80}",
            "VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON",
        ),
        ("a.tld: {/: {}}\na.tld: {/x: {}}", "duplicated key"),
        ("{}", "VIRTUAL_HOST_MULTIPORTS declares no host"),
        (
            "a.tld: {/: {proto: gopher}}",
            "VIRTUAL_HOST_MULTIPORTS a.tld/: proto: VIRTUAL_PROTO=\"gopher\"",
        ),
        ("\"~^(\": {}", "VIRTUAL_HOST_MULTIPORTS"),
    ];
    for (value, needle) in cases {
        match parse(&container(&[("VIRTUAL_HOST_MULTIPORTS", value)], &[])) {
            Err(Rejection::Invalid(msg)) => assert!(msg.contains(needle), "{msg} lacks {needle}"),
            other => panic!("{value}: {other:?}"),
        }
    }
    assert!(declared_hosts(&container(&[("VIRTUAL_HOST_MULTIPORTS", "{}")], &[])).is_empty());
}
