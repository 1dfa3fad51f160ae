use super::*;
use crate::model::{Backend, BackendAddr, DesiredState, Health, Location, Site};
use crate::routing::RouteTable;

fn site(host: &str, paths: &[&str]) -> Site {
    Site {
        host: host.to_owned(),
        locations: paths
            .iter()
            .map(|p| Location {
                path: (*p).to_owned(),
                keepalive: true,
                backends: vec![Backend {
                    addr: BackendAddr::Tcp(([10, 0, 0, 2], 8080).into()),
                    source: "web-1".to_owned(),
                    health: Health::None,
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn render_site(site: Site, defaults: &SiteDefaults) -> serde_json::Value {
    let host = site.host.clone();
    let table = RouteTable::build(
        &DesiredState {
            sites: vec![std::sync::Arc::new(site)],
            ..Default::default()
        },
        defaults,
    );
    let route = table.sites().next().expect("site compiles");
    let text = render(&Facts {
        site: route,
        defaults,
        host: &host,
        https: true,
        http2: "h2",
        cert: Some("a.test"),
        cert_ok: true,
        default_cert_ok: false,
        trust_downstream: true,
        http_port: 80,
        https_port: Some(443),
    });
    assert!(text.ends_with("}\n"), "{text}");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn shape_and_values() {
    let defaults = SiteDefaults {
        debug_endpoint: true,
        ..Default::default()
    };
    let s = Site {
        external_https_port: Some(8443),
        server_tokens: Some(ServerTokens::Off),
        ..site("a.test", &["/", "/api/"])
    };
    let v = render_site(s, &defaults);
    // (JSON pointer, expected)
    let want: &[(&str, serde_json::Value)] = &[
        ("/global/enable_debug_endpoint", "true".into()),
        ("/global/https_method", "redirect".into()),
        ("/global/external_https_port", "443".into()),
        ("/global/trust_downstream_proxy", true.into()),
        ("/request/host", "a.test".into()),
        ("/request/https", "on".into()),
        ("/request/http2", "h2".into()),
        ("/vhost/hostname", "a.test".into()),
        ("/vhost/enable_debug_endpoint", true.into()),
        ("/vhost/cert", "a.test".into()),
        ("/vhost/cert_ok", true.into()),
        ("/vhost/is_regexp", false.into()),
        ("/vhost/server_tokens", "off".into()),
        ("/vhost/external_http_port", 80.into()),
        ("/vhost/external_https_port", 8443.into()),
        ("/vhost/upstream_name", "a.test".into()),
        ("/vhost/paths/~1/upstream", "a.test".into()),
        ("/vhost/paths/~1/proto", "http".into()),
        ("/vhost/paths/~1/keepalive", "auto".into()),
        ("/vhost/paths/~1/ports/8080/0/Name", "web-1".into()),
        (
            "/vhost/paths/~1api~1/upstream",
            format!("a.test-{}", crate::settings::nginx::sha1_hex("/api/")).into(),
        ),
    ];
    for (pointer, expected) in want {
        assert_eq!(v.pointer(pointer), Some(expected), "{pointer} in {v}");
    }
    assert!(v.get("warning").is_none());
}

#[test]
fn regex_host_is_not_echoed() {
    let v = render_site(site("~^foo\\..*", &["/"]), &SiteDefaults::default());
    assert_eq!(v["vhost"]["hostname"], REGEX_HOST);
    assert_eq!(v["vhost"]["is_regexp"], true);
    assert_eq!(
        v["vhost"]["upstream_name"],
        crate::settings::nginx::sha1_hex("~^foo\\..*")
    );
}

#[test]
fn paths_are_stripped_past_4000_characters() {
    let long: Vec<String> = (0..40)
        .map(|i| format!("/{}{i}/", "p".repeat(60)))
        .collect();
    let paths: Vec<&str> = long.iter().map(String::as_str).collect();
    let v = render_site(site("big.test", &paths), &SiteDefaults::default());
    assert!(v["vhost"].get("paths").is_none(), "{v}");
    assert_eq!(v["warning"], STRIPPED);
    assert!(v.to_string().len() <= MAX_LEN);
    // Just under the limit nothing is stripped.
    let v = render_site(site("small.test", &paths[..3]), &SiteDefaults::default());
    assert!(v["vhost"]["paths"].is_object());
}

#[test]
fn only_the_debug_prefix_is_wanted() {
    for (path, want) in [
        ("/nginx-proxy-debug", true),
        ("/nginx-proxy-debug/x", true),
        ("/nginx-proxy", false),
        ("/", false),
    ] {
        assert_eq!(wanted(path), want, "{path}");
    }
}
