use std::time::Duration;

use super::*;
use crate::model::Severity;
use crate::settings::build as build_state;
use crate::settings::test_support::source_item;

/// The policy of the only location of the only site built from one item with `vars`.
fn policy_of(vars: &[(&str, &str)]) -> Policy {
    let mut all = vec![("VIRTUAL_HOST", "a.test")];
    all.extend_from_slice(vars);
    let state = build_state(&[source_item("web", &all)]);
    assert!(
        state
            .skipped
            .iter()
            .all(|s| s.severity != Severity::Warning),
        "{:?}",
        state.skipped
    );
    state.sites[0].locations[0].policy.clone()
}

/// The warning the item gets for `vars`.
fn rejection(vars: &[(&str, &str)]) -> String {
    let mut all = vec![("VIRTUAL_HOST", "a.test")];
    all.extend_from_slice(vars);
    let state = build_state(&[source_item("web", &all)]);
    assert!(state.sites.is_empty(), "{state:?}");
    state.skipped[0].reason.clone()
}

#[test]
fn no_policy_setting_is_the_empty_policy() {
    assert!(policy_of(&[]).is_empty());
}

#[test]
fn deny_then_allow_then_deny_all() {
    let p = policy_of(&[("IP_ALLOW", "10.0.0.0/8, ::1"), ("IP_DENY", "10.9.0.0/16")]);
    let shown: Vec<(bool, String)> = p
        .access
        .iter()
        .map(|r| {
            let net = if r.net.all {
                "all".to_owned()
            } else {
                format!("{}/{}", r.net.addr, r.net.prefix)
            };
            (r.allow, net)
        })
        .collect();
    assert_eq!(
        shown,
        [
            (false, "10.9.0.0/16".to_owned()),
            (true, "10.0.0.0/8".to_owned()),
            (true, "::1/128".to_owned()),
            (false, "all".to_owned()),
        ]
    );
    assert_eq!(p.origins[0].part, "access");
    assert!(p.origins[0].from.contains("web"), "{:?}", p.origins);
}

#[test]
fn network_access_internal_keeps_its_deny_all_last_with_an_allow_list() {
    let p = policy_of(&[("NETWORK_ACCESS", "internal"), ("IP_ALLOW", "198.18.0.5")]);
    let last = p.access.last().unwrap();
    assert!(!last.allow && last.net.all);
    assert_eq!(p.access.iter().filter(|r| r.net.all).count(), 1);
    assert!(
        p.access
            .iter()
            .any(|r| r.allow && r.net.addr.to_string() == "198.18.0.5")
    );
}

#[test]
fn realm_follows_nginx_proxy() {
    assert_eq!(realm("a.test", "/"), "Restricted a.test");
    assert_eq!(realm("a.test", "/admin/"), "Restricted a.test/admin/");
    assert_eq!(realm("~^a\\.", "/"), "Restricted access");
}

#[test]
fn timeouts_return_and_redirects() {
    let p = policy_of(&[
        ("PROXY_READ_TIMEOUT", "2m"),
        ("PROXY_CONNECT_TIMEOUT", "1500ms"),
        ("RETURN", "418 short and stout"),
    ]);
    assert_eq!(p.timeouts.read, Some(Duration::from_secs(120)));
    assert_eq!(p.timeouts.connect, Some(Duration::from_millis(1500)));
    assert_eq!(
        p.answer,
        Some(FixedAnswer {
            status: 418,
            text: Some("short and stout".into())
        })
    );
    let p = policy_of(&[("REDIRECT_TO_HOST", "www.a.test")]);
    assert_eq!(
        p.answer.unwrap().text.as_deref(),
        Some("$scheme://www.a.test$request_uri")
    );
}

#[test]
fn header_lines_set_and_remove() {
    let p = policy_of(&[
        ("REQUEST_HEADERS", "X-Tenant: blue\nCookie:"),
        ("RESPONSE_HEADERS", "X-Frame-Options: DENY\\nServer:"),
    ]);
    assert_eq!(
        p.request_headers,
        [
            HeaderOp {
                name: "X-Tenant".into(),
                value: Some("blue".into())
            },
            HeaderOp {
                name: "Cookie".into(),
                value: None
            },
        ]
    );
    assert_eq!(
        p.response_headers,
        [
            ResponseHeaderOp::Set {
                name: "X-Frame-Options".into(),
                value: "DENY".into()
            },
            ResponseHeaderOp::Remove {
                name: "Server".into()
            },
        ]
    );
}

#[test]
fn compression_on_and_lists() {
    let p = policy_of(&[("COMPRESSION", "on")]);
    let c = p.compression.unwrap();
    assert_eq!(
        c.encodings,
        [Encoding::Zstd, Encoding::Brotli, Encoding::Gzip]
    );
    assert!(c.types.iter().any(|t| t == "application/json"));
    let p = policy_of(&[
        ("COMPRESSION", "gzip"),
        ("COMPRESSION_LEVEL", "1"),
        ("COMPRESSION_MIN_LENGTH", "1k"),
        ("COMPRESSION_TYPES", "application/json"),
    ]);
    let c = p.compression.unwrap();
    assert_eq!(
        (c.encodings, c.level, c.min_length, c.types),
        (
            vec![Encoding::Gzip],
            1,
            1024,
            vec!["application/json".to_owned()]
        )
    );
    assert!(policy_of(&[("COMPRESSION", "off")]).compression.is_none());
}

#[test]
fn bad_values_reject_the_item_naming_the_setting() {
    for (vars, needle) in [
        (&[("IP_ALLOW", "10.0.0.0/33")][..], "IP_ALLOW"),
        (&[("NETWORK_ACCESS", "intranet")][..], "NETWORK_ACCESS"),
        (&[("PROXY_READ_TIMEOUT", "soon")][..], "PROXY_READ_TIMEOUT"),
        (&[("RETURN", "301")][..], "RETURN"),
        (&[("RETURN", "abc")][..], "RETURN"),
        (&[("REQUEST_HEADERS", "no colon")][..], "REQUEST_HEADERS"),
        (
            &[("RESPONSE_HEADERS", "Bad Name: x")][..],
            "RESPONSE_HEADERS",
        ),
        (&[("COMPRESSION", "lzma")][..], "COMPRESSION"),
        (&[("COMPRESSION_LEVEL", "11")][..], "COMPRESSION_LEVEL"),
        (&[("RATE_LIMIT", "fast")][..], "RATE_LIMIT"),
        (&[("BASIC_AUTH", "alice:secret")][..], "BASIC_AUTH"),
    ] {
        let why = rejection(vars);
        assert!(why.contains(needle), "{vars:?}: {why}");
        assert!(
            !why.contains("secret"),
            "a password must never be echoed: {why}"
        );
    }
}
