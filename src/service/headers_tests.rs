//! Table tests for every header rule of nginx-proxy §1.6.9, trusted and untrusted.

use super::*;
use crate::exchange::hop::{Framing, rewrite_response, strip_hop_by_hop};

static CLIENT_IP: HeaderValue = HeaderValue::from_static("10.0.0.7");

fn ctx(trust: bool) -> HeaderContext<'static> {
    HeaderContext {
        client_ip: &CLIENT_IP,
        server_port: 8080,
        scheme: Scheme::Http,
        host: "web.tld",
        request_uri: "/a/b?c=1",
        trust_downstream: trust,
        keepalive: true,
        proxied: None,
        client_cert: None,
        strip_client_cert: false,
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn rewritten(pairs: &[(&str, &str)], ctx: &HeaderContext<'_>) -> HeaderMap {
    let mut h = headers(pairs);
    rewrite_request(&mut h, ctx);
    h
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

const CLIENT_XF: &[(&str, &str)] = &[
    ("x-forwarded-for", "1.2.3.4"),
    ("x-forwarded-proto", "f00"),
    ("x-forwarded-host", "outer.tld"),
    ("x-forwarded-port", "4443"),
    ("foo", "Bar"),
];

#[test]
fn forwarding_headers_trusted_and_untrusted() {
    // (header, trusted value, untrusted value)
    let table: &[(&str, Option<&str>, Option<&str>)] = &[
        ("host", Some("web.tld:8080"), Some("web.tld:8080")),
        ("x-real-ip", Some("10.0.0.7"), Some("10.0.0.7")),
        (
            "x-forwarded-for",
            Some("1.2.3.4, 10.0.0.7"),
            Some("10.0.0.7"),
        ),
        ("x-forwarded-proto", Some("f00"), Some("http")),
        ("x-forwarded-host", Some("outer.tld"), Some("web.tld")),
        ("x-forwarded-port", Some("4443"), Some("8080")),
        ("x-forwarded-ssl", Some("off"), Some("off")),
        ("x-original-uri", Some("/a/b?c=1"), Some("/a/b?c=1")),
        ("foo", Some("Bar"), Some("Bar")),
        ("connection", None, None),
    ];
    let trusted = rewritten(CLIENT_XF, &ctx(true));
    let untrusted = rewritten(CLIENT_XF, &ctx(false));
    for (name, t, u) in table {
        assert_eq!(get(&trusted, name), *t, "trusted {name}");
        assert_eq!(get(&untrusted, name), *u, "untrusted {name}");
    }
}

#[test]
fn defaults_without_client_forwarding_headers() {
    for trust in [true, false] {
        let h = rewritten(&[], &ctx(trust));
        assert_eq!(get(&h, "x-forwarded-for"), Some("10.0.0.7"));
        assert_eq!(get(&h, "x-forwarded-proto"), Some("http"));
        assert_eq!(get(&h, "x-forwarded-host"), Some("web.tld"));
        assert_eq!(get(&h, "x-forwarded-port"), Some("8080"));
    }
}

#[test]
fn several_client_xff_headers_are_joined() {
    let h = rewritten(
        &[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
        ],
        &ctx(true),
    );
    assert_eq!(
        get(&h, "x-forwarded-for"),
        Some("1.1.1.1, 2.2.2.2, 10.0.0.7")
    );
}

#[test]
fn host_port_only_when_not_80_or_443() {
    for (port, want) in [(80, "web.tld"), (443, "web.tld"), (8443, "web.tld:8443")] {
        let c = HeaderContext {
            server_port: port,
            ..ctx(false)
        };
        let h = rewritten(&[("host", "WEB.tld:999")], &c);
        assert_eq!(get(&h, "host"), Some(want), "port {port}");
    }
}

#[test]
fn a_host_already_right_is_kept_and_near_misses_are_rebuilt() {
    let at = |port| HeaderContext {
        server_port: port,
        ..ctx(false)
    };
    type Case = (&'static [(&'static str, &'static str)], u16, &'static str);
    let cases: &[Case] = &[
        (&[("host", "web.tld:8443")], 8443, "web.tld:8443"),
        (&[("host", "web.tld")], 443, "web.tld"),
        (&[("host", "web.tld")], 8443, "web.tld:8443"),
        (&[("host", "web.tld:08443")], 8443, "web.tld:8443"),
        (&[("host", "web.tld:+8443")], 8443, "web.tld:8443"),
        (&[("host", "web.tld:443")], 443, "web.tld"),
        (&[("host", "web.tld.evil:8443")], 8443, "web.tld:8443"),
        (&[], 8443, "web.tld:8443"),
    ];
    for (sent, port, want) in cases {
        let h = rewritten(sent, &at(*port));
        assert_eq!(get(&h, "host"), Some(*want), "{sent:?} on port {port}");
        assert_eq!(h.get_all("host").iter().count(), 1, "{sent:?}");
    }
    // Two Host headers (hyper passes them on): replaced by the one value.
    let h = rewritten(&[("host", "web.tld:8443"), ("host", "other")], &at(8443));
    assert_eq!(h.get_all("host").iter().count(), 1);
    assert_eq!(get(&h, "host"), Some("web.tld:8443"));
}

#[test]
fn ssl_follows_the_forwarded_proto() {
    let https = HeaderContext {
        scheme: Scheme::Https,
        ..ctx(false)
    };
    assert_eq!(get(&rewritten(&[], &https), "x-forwarded-ssl"), Some("on"));
    let h = rewritten(&[("x-forwarded-proto", "https")], &ctx(true));
    assert_eq!(get(&h, "x-forwarded-ssl"), Some("on"));
    let h = rewritten(&[("x-forwarded-proto", "https")], &ctx(false));
    assert_eq!(get(&h, "x-forwarded-ssl"), Some("off"));
}

#[test]
fn proxy_and_hop_by_hop_headers_are_removed() {
    let h = rewritten(
        &[
            ("proxy", "http://evil"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("x-kept", "yes"),
        ],
        &ctx(true),
    );
    for gone in [
        "proxy",
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        assert_eq!(get(&h, gone), None, "{gone}");
    }
    assert_eq!(get(&h, "x-kept"), Some("yes"));
}

/// (context, client headers, upstream `Connection`, upstream `Upgrade`)
type Case<'a> = (
    &'a HeaderContext<'a>,
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    Option<&'a str>,
);

#[test]
fn connection_header_upstream() {
    let off = HeaderContext {
        keepalive: false,
        ..ctx(true)
    };
    let upgrade = [("upgrade", "websocket"), ("connection", "Upgrade")];
    let cases: &[Case<'_>] = &[
        (&ctx(true), &upgrade, Some("upgrade"), Some("websocket")),
        (&off, &upgrade, Some("upgrade"), Some("websocket")),
        (&ctx(true), &[("connection", "close")], None, None),
        (&off, &[], Some("close"), None),
        (&ctx(true), &[("upgrade", "")], None, None),
        // h2c smuggling: never forwarded, the request goes up as a plain one.
        (
            &ctx(true),
            &[
                ("upgrade", "h2c"),
                ("connection", "Upgrade, HTTP2-Settings"),
                ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
            ],
            None,
            None,
        ),
        (&ctx(true), &[("upgrade", "websocket, H2C")], None, None),
    ];
    for (c, input, conn, up) in cases {
        let h = rewritten(input, c);
        assert_eq!(get(&h, "connection"), *conn, "{input:?}");
        assert_eq!(get(&h, "upgrade"), *up, "{input:?}");
    }
}

#[test]
fn response_hop_by_hop_removed_except_on_101() {
    let pairs = [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("keep-alive", "x"),
    ];
    let mut h = headers(&pairs);
    rewrite_response(&mut h, true);
    assert_eq!(get(&h, "upgrade"), Some("websocket"));
    rewrite_response(&mut h, false);
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn virtual_dest_replaces_the_matched_prefix() {
    let p = |s: &str| PathPattern::parse(s).unwrap();
    let cases = [
        ("/app1/foo?x=1", "/app1/", "/", "/foo?x=1"),
        ("/app1/foo", "/app1/", "", "/app1/foo"),
        ("/app1/foo", "/app1/", "/v2/", "/v2/foo"),
        ("/app1", "/app1", "/", "/"),
        ("/exact?q", "= /exact", "/other", "/other?q"),
        ("/web3/x", "~ ^/(web3|alt)/", "/", "/web3/x"),
        ("/", "/", "/root/", "/root/"),
    ];
    for (uri, path, dest, want) in cases {
        assert_eq!(
            rewrite_uri(uri, &p(path), dest),
            want,
            "{uri} {path} {dest}"
        );
    }
}

#[test]
fn upgrade_detection() {
    assert!(upgrade_requested(&headers(&[("upgrade", "websocket")])));
    assert!(!upgrade_requested(&headers(&[("upgrade", "")])));
    assert!(!upgrade_requested(&headers(&[])));
    assert!(!upgrade_requested(&headers(&[("upgrade", "h2c")])));
    assert!(!upgrade_requested(&headers(&[("upgrade", " H2C ")])));
}

#[test]
fn keep_leaves_the_framing_headers_even_when_connection_names_them() {
    let pairs = [
        ("connection", "Content-Length, Transfer-Encoding, X-Hop"),
        ("x-hop", "1"),
        ("transfer-encoding", "chunked"),
        ("content-length", "5"),
        ("te", "trailers"),
        ("x-end", "kept"),
    ];
    let mut keep = headers(&pairs);
    strip_hop_by_hop(&mut keep, Framing::Keep);
    let mut names: Vec<&str> = keep.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["content-length", "transfer-encoding", "x-end"]);

    let mut strip = headers(&pairs);
    strip_hop_by_hop(&mut strip, Framing::Strip);
    let names: Vec<&str> = strip.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["x-end"]);
}

/// nginx-proxy §1.6.9 with `ENABLE_PROXY_PROTOCOL` (the client address is already the header's
/// source): trusted, `X-Forwarded-For` is that address alone and `X-Forwarded-Port` the header's
/// destination port, whatever the client sent; untrusted, as without the PROXY protocol.
#[test]
fn proxy_protocol_forwarding() {
    let proxied = |trust, destination_port| HeaderContext {
        proxied: Some(Proxied { destination_port }),
        ..ctx(trust)
    };
    let sent = [("x-forwarded-for", "9.9.9.9"), ("x-forwarded-port", "1234")];
    type Case<'a> = (
        &'a str,
        HeaderContext<'static>,
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a str,
    );
    let cases: &[Case<'_>] = &[
        (
            "trusted",
            proxied(true, Some(9090)),
            &sent,
            "10.0.0.7",
            "9090",
        ),
        (
            "trusted, no client headers",
            proxied(true, Some(9090)),
            &[],
            "10.0.0.7",
            "9090",
        ),
        (
            "trusted, LOCAL header",
            proxied(true, None),
            &sent,
            "10.0.0.7",
            "8080",
        ),
        (
            "untrusted",
            proxied(false, Some(9090)),
            &sent,
            "10.0.0.7",
            "8080",
        ),
        (
            "trusted, no PROXY protocol",
            ctx(true),
            &sent,
            "9.9.9.9, 10.0.0.7",
            "1234",
        ),
    ];
    for (name, c, pairs, xff, port) in cases {
        let h = rewritten(pairs, c);
        assert_eq!(get(&h, "x-forwarded-for"), Some(*xff), "{name}");
        assert_eq!(get(&h, "x-forwarded-port"), Some(*port), "{name}");
        assert_eq!(get(&h, "x-real-ip"), Some("10.0.0.7"), "{name}");
    }
}

#[test]
fn client_certificate_headers_come_only_from_dockside() {
    use crate::exchange::ClientCert;
    let forged = [
        ("x-ssl-client-verify", "SUCCESS"),
        ("x-ssl-client-s-dn", "CN=admin"),
    ];
    // Some site uses client certificates: a client's copies never pass, on any site.
    let mtls_somewhere = |trust| HeaderContext {
        strip_client_cert: true,
        ..ctx(trust)
    };
    for trust in [false, true] {
        let h = rewritten(&forged, &mtls_somewhere(trust));
        assert_eq!(get(&h, "x-ssl-client-verify"), None, "trust {trust}");
        assert_eq!(get(&h, "x-ssl-client-s-dn"), None, "trust {trust}");
    }
    // No site does: the headers are the application's own business, passed like any other.
    let h = rewritten(&forged, &ctx(false));
    assert_eq!(get(&h, "x-ssl-client-verify"), Some("SUCCESS"));
    let cert = ClientCert {
        refusal: None,
        verify: HeaderValue::from_static("FAILED:certificate revoked"),
        subject: Some(HeaderValue::from_static("CN=client")),
    };
    let with = HeaderContext {
        client_cert: Some(&cert),
        ..mtls_somewhere(false)
    };
    let h = rewritten(&forged, &with);
    assert_eq!(
        get(&h, "x-ssl-client-verify"),
        Some("FAILED:certificate revoked")
    );
    assert_eq!(get(&h, "x-ssl-client-s-dn"), Some("CN=client"));
    let none = ClientCert {
        refusal: None,
        verify: HeaderValue::from_static("NONE"),
        subject: None,
    };
    let h = rewritten(
        &forged,
        &HeaderContext {
            client_cert: Some(&none),
            ..mtls_somewhere(false)
        },
    );
    assert_eq!(get(&h, "x-ssl-client-verify"), Some("NONE"));
    assert_eq!(get(&h, "x-ssl-client-s-dn"), None);
}
