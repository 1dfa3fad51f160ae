//! Real-world `vhost.d` / `conf.d` snippets (from nginx-proxy's issues and docs, each file
//! names its source) all parse, and exactly the directives named here are reported.

use std::collections::{BTreeMap, BTreeSet};

use super::directives::{Context, Env, read_level, read_zones};
use super::tokenize;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vhost.d-corpus");

/// File → (directives dockside does not know at all, known directives with a note about
/// their value or form).
const EXPECTED: &[(&str, &[&str], &[&str])] = &[
    ("a.test-allow-ip", &["Deny"], &[]),
    ("a.test-client-max-body-size", &[], &[]),
    ("a.test-include-default", &["include"], &[]),
    ("a.test_location-deny-ip", &[], &[]),
    // 100r/h: not a rate nginx knows.
    ("advance.conf", &[], &["limit_req_zone"]),
    // `proxy_set_header Upgrade $http_upgrade`: variables are not expanded.
    (
        "ci.test_location-websocket",
        &["proxy_buffering", "proxy_http_version"],
        &["proxy_set_header"],
    ),
    (
        "config_additional.conf",
        &[
            "large_client_header_buffers",
            "proxy_buffer_size",
            "proxy_buffers",
            "proxy_busy_buffers_size",
        ],
        &[],
    ),
    ("default_location-referrer-policy", &[], &[]),
    // `/etc/nginx/.htpasswd` is outside htpasswd/: nobody gets in (fail closed), and without
    // `satisfy` the allow list and the auth both apply.
    (
        "default_location-satisfy-any",
        &["satisfy"],
        &["auth_basic_user_file"],
    ),
    ("example.com-www-redirect", &[], &[]),
    (
        "exemple.com_location-intercept-errors",
        &["proxy_intercept_errors"],
        &[],
    ),
    (
        "gzip.conf",
        &["gzip_buffers", "gzip_proxied", "gzip_vary"],
        &[],
    ),
    ("mastodon.test-well-known", &["location"], &[]),
    ("my_proxy.conf", &["server_tokens"], &[]),
    ("nextcloud.local-vite", &["location"], &[]),
    ("nginx-proxy.local_location-test-header", &[], &[]),
    (
        "proxy-settings.conf",
        &[
            "client_body_buffer_size",
            "proxy_buffer_size",
            "proxy_buffers",
            "proxy_busy_buffers_size",
            "proxy_redirect",
        ],
        &["proxy_set_header"],
    ),
    ("www.example.com-rewrite", &["rewrite"], &[]),
];

/// Where nginx-proxy would include the file, from its name.
fn context(name: &str) -> Context {
    if name.ends_with(".conf") {
        Context::Http
    } else if name.contains("_location") {
        Context::Location
    } else {
        Context::Server
    }
}

#[test]
fn every_snippet_parses_and_the_unsupported_are_named() {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(CORPUS).expect("corpus folder") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = tokenize::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        files.insert(name, parsed);
    }
    assert!(files.len() >= 10, "{} snippets", files.len());

    let (mut zones, mut zone_notes) = (BTreeMap::new(), Vec::new());
    for (name, ds) in files.iter().filter(|(n, _)| context(n) == Context::Http) {
        read_zones(name, ds, &mut zones, &mut zone_notes);
    }
    let htpasswd = BTreeMap::new();
    let env = Env {
        zones: &zones,
        htpasswd: &htpasswd,
    };
    let mut got = Vec::new();
    for (name, ds) in &files {
        let (_, mut notes) = read_level(name, ds, context(name), &env);
        notes.extend(zone_notes.iter().filter(|n| &n.file == name).cloned());
        let unknown: BTreeSet<_> = notes
            .iter()
            .filter(|n| n.what == "ignored")
            .map(|n| n.directive.clone())
            .collect();
        let noted: BTreeSet<_> = notes
            .iter()
            .filter(|n| n.what != "ignored")
            .map(|n| n.directive.clone())
            .collect();
        got.push((name.clone(), unknown, noted));
    }
    let want: Vec<_> = EXPECTED
        .iter()
        .map(|(name, unknown, noted)| {
            let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
            ((*name).to_owned(), set(unknown), set(noted))
        })
        .collect();
    assert_eq!(got, want);
}
