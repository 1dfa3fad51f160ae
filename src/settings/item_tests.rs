use super::*;
use crate::settings::test_support::{container_at, source_item};

fn container(vars: &[(&str, &str)], exposed: &[u16]) -> SourceItem {
    SourceItem {
        reach: container_at(5, exposed),
        ..source_item("web1", vars)
    }
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
    let c = |vars: &[(&str, &str)], exposed: &[u16]| {
        port_of(&parse(&container(vars, exposed)).unwrap())
    };
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
        ("VIRTUAL_PROTO", "fastcgi", "VIRTUAL_PROTO=\"fastcgi\""),
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
        ("VIRTUAL_HOST_MULTIPORTS", "{}", "VIRTUAL_HOST_MULTIPORTS"),
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
    let c = parse(&container(
        &[
            ("VIRTUAL_HOST", "a"),
            ("HTTPS_METHOD", "nohttp"),
            ("VIRTUAL_PROTO", "uwsgi"),
            ("VIRTUAL_PATH", "/api/"),
        ],
        &[9009],
    ))
    .unwrap();
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
    let c = parse(&item).unwrap();
    assert!(c.backends.is_empty());
    assert_eq!(
        c.unreachable.as_deref(),
        Some("shares no network with dockside")
    );
}
