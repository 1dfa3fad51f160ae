use super::*;
use crate::model::{BackendAddr, HttpsMethod, Proto, Reach};
use crate::settings::test_support::{container_at, source_item};

fn item(name: &str, created: i64, last_octet: u8, vars: &[(&str, &str)]) -> SourceItem {
    SourceItem {
        created,
        reach: container_at(last_octet, &[80]),
        ..source_item(name, vars)
    }
}

#[test]
fn replicas_share_one_location() {
    let s = build(&[
        item("web2", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
        item("web1", 1, 2, &[("VIRTUAL_HOST", "a.tld")]),
        item("db", 0, 9, &[("POSTGRES_DB", "x")]),
    ]);
    assert_eq!(s.sites.len(), 1);
    assert_eq!(s.sites[0].sources, ["web1", "web2"]);
    assert_eq!(s.sites[0].locations[0].backends.len(), 2);
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(
        (s.skipped[0].source.as_str(), s.skipped[0].severity),
        ("db", Severity::Info)
    );
}

#[test]
fn order_of_items_does_not_matter() {
    let a = item(
        "web1",
        1,
        2,
        &[
            ("VIRTUAL_HOST", "a.tld,b.tld"),
            ("HTTPS_METHOD", "noredirect"),
        ],
    );
    let b = item(
        "web2",
        2,
        3,
        &[
            ("VIRTUAL_HOST", "a.tld"),
            ("HTTPS_METHOD", "nohttp"),
            ("VIRTUAL_PATH", "/x/"),
        ],
    );
    assert_eq!(build(&[a.clone(), b.clone()]), build(&[b, a]));
}

#[test]
fn oldest_container_wins_conflicts_with_a_warning_naming_both() {
    let s = build(&[
        item(
            "young",
            20,
            3,
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("HTTPS_METHOD", "nohttp"),
                ("VIRTUAL_PROTO", "https"),
            ],
        ),
        item(
            "old",
            10,
            2,
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("HTTPS_METHOD", "noredirect"),
                ("VIRTUAL_PROTO", "http"),
            ],
        ),
    ]);
    let site = &s.sites[0];
    assert_eq!(site.https_method, Some(HttpsMethod::NoRedirect));
    assert_eq!(site.locations[0].proto, Proto::Http);
    let warnings: Vec<_> = s
        .skipped
        .iter()
        .filter(|k| k.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    for w in warnings {
        assert!(
            w.reason.contains("old") && w.reason.contains("young"),
            "{}",
            w.reason
        );
    }
}

#[test]
fn a_bad_container_is_skipped_alone() {
    let s = build(&[
        item(
            "bad",
            1,
            2,
            &[("VIRTUAL_HOST", "a.tld"), ("VIRTUAL_PORT", "http")],
        ),
        item("good", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
    ]);
    assert_eq!(s.sites[0].locations[0].backends.len(), 1);
    assert_eq!(s.sites[0].locations[0].backends[0].source, "good");
    let w = &s.skipped[0];
    assert_eq!(w.source, "bad");
    assert!(w.reason.contains("VIRTUAL_PORT=\"http\""), "{}", w.reason);
}

#[test]
fn paths_split_locations_with_their_own_proto_and_dest() {
    let s = build(&[
        item(
            "api",
            1,
            2,
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("VIRTUAL_PATH", "/api/"),
                ("VIRTUAL_DEST", "/"),
                ("VIRTUAL_PROTO", "uwsgi"),
            ],
        ),
        item("web", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
    ]);
    let locs = &s.sites[0].locations;
    assert_eq!(
        locs.iter().map(|l| l.path.as_str()).collect::<Vec<_>>(),
        ["/", "/api/"]
    );
    assert_eq!((locs[1].proto, locs[1].dest.as_str()), (Proto::Uwsgi, "/"));
    assert_eq!(locs[0].proto, Proto::Http);
}

#[test]
fn grpc_protos_come_from_the_container_environment() {
    for (value, proto) in [("grpc", Proto::Grpc), ("grpcs", Proto::Grpcs)] {
        let s = build(&[item(
            "rpc",
            1,
            2,
            &[("VIRTUAL_HOST", "a.tld"), ("VIRTUAL_PROTO", value)],
        )]);
        assert_eq!(s.sites[0].locations[0].proto, proto, "{value}");
    }
}

#[test]
fn unreachable_container_makes_a_site_without_backend_and_says_why() {
    let mut it = item("lonely", 1, 2, &[("VIRTUAL_HOST", "a.tld")]);
    it.reach = Reach::Unreachable("shares no network with dockside".into());
    let s = build(&[it]);
    assert!(s.sites[0].locations[0].backends.is_empty());
    assert!(s.skipped[0].reason.contains("shares no network"));
}

#[test]
fn routes_file_addresses_are_kept() {
    let it = SourceItem {
        reach: Reach::Addresses(vec![
            BackendAddr::Unix("/run/app.sock".into()),
            BackendAddr::Name {
                host: "localhost".into(),
                port: 8000,
            },
        ]),
        ..source_item("routes.toml site 1", &[("VIRTUAL_HOST", "a.tld")])
    };
    assert_eq!(build(&[it]).sites[0].locations[0].backends.len(), 2);
}

/// A setting wins over a file for the same part: `CLIENT_MAX_BODY_SIZE` over a `vhost.d`
/// `client_max_body_size`, which then appears nowhere in the policy (nor in `dockside check`).
#[test]
fn client_max_body_size_setting_wins_over_vhost_d() {
    let mut files = NginxFiles::default();
    for host in ["set.tld", "file.tld"] {
        files
            .vhost_d
            .insert(host.to_owned(), "client_max_body_size 1k;\n".to_owned());
    }
    let s = build_with(
        &[
            item(
                "web1",
                1,
                2,
                &[("VIRTUAL_HOST", "set.tld"), ("CLIENT_MAX_BODY_SIZE", "10k")],
            ),
            item("web2", 2, 3, &[("VIRTUAL_HOST", "file.tld")]),
        ],
        &files,
    );
    let site = |h: &str| s.sites.iter().find(|x| x.host == h).unwrap();
    let set = site("set.tld");
    assert_eq!(set.client_max_body_size, Some(10 * 1024));
    assert_eq!(set.locations[0].policy.max_body, None);
    assert!(
        set.locations[0]
            .policy
            .origins
            .iter()
            .all(|o| o.part != "max_body")
    );
    assert_eq!(set.policy.max_body, None);
    assert_eq!(site("file.tld").locations[0].policy.max_body, Some(1024));
}

#[test]
fn external_ports_server_tokens_and_debug_label_are_per_host() {
    let label = "com.github.nginx-proxy.nginx-proxy.debug-endpoint";
    let state = build(&[
        item(
            "a",
            1,
            2,
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("EXTERNAL_HTTP_PORT", "8080"),
                ("EXTERNAL_HTTPS_PORT", " 8443 "),
                ("SERVER_TOKENS", "build"),
                (label, "true"),
            ],
        ),
        item(
            "b",
            2,
            3,
            &[("VIRTUAL_HOST", "b.tld"), ("SERVER_TOKENS", "off")],
        ),
        // Empty is unset, as nginx-proxy trims and skips it.
        item(
            "c",
            3,
            4,
            &[("VIRTUAL_HOST", "c.tld"), ("SERVER_TOKENS", " ")],
        ),
    ]);
    let site = |h: &str| state.sites.iter().find(|s| s.host == h).unwrap();
    let a = site("a.tld");
    assert_eq!(
        (a.external_http_port, a.external_https_port),
        (Some(8080), Some(8443))
    );
    assert_eq!(a.server_tokens, Some(crate::model::ServerTokens::On));
    assert_eq!(a.debug_endpoint, Some(true));
    let b = site("b.tld");
    assert_eq!(b.server_tokens, Some(crate::model::ServerTokens::Off));
    assert_eq!((b.external_http_port, b.debug_endpoint), (None, None));
    assert_eq!(site("c.tld").server_tokens, None);
}

#[test]
fn ssl_verify_client_label_is_a_host_setting() {
    let label = "com.github.nginx-proxy.nginx-proxy.ssl_verify_client";
    let s = build(&[
        item("a", 1, 2, &[("VIRTUAL_HOST", "a.tld"), (label, "optional")]),
        item("b", 2, 3, &[("VIRTUAL_HOST", "b.tld")]),
    ]);
    let verify = |host: &str| {
        s.sites
            .iter()
            .find(|site| site.host == host)
            .unwrap()
            .ssl_verify_client
    };
    assert_eq!(verify("a.tld"), Some(crate::model::VerifyClient::Optional));
    assert_eq!(verify("b.tld"), None);
}

/// The `http3.enable` label is a per-host setting; unset leaves the global `ENABLE_HTTP3`,
/// which the route table applies (and a label `false` wins over it).
#[test]
fn http3_label_is_per_host_and_overrides_enable_http3() {
    let label = "com.github.nginx-proxy.nginx-proxy.http3.enable";
    let state = build(&[
        item("a", 1, 2, &[("VIRTUAL_HOST", "a.tld"), (label, "true")]),
        item("b", 2, 3, &[("VIRTUAL_HOST", "b.tld"), (label, "false")]),
        item("c", 3, 4, &[("VIRTUAL_HOST", "c.tld")]),
    ]);
    let site = |h: &str| state.sites.iter().find(|s| s.host == h).unwrap();
    assert_eq!(site("a.tld").http3, Some(true));
    assert_eq!(site("b.tld").http3, Some(false));
    assert_eq!(site("c.tld").http3, None);
    let routed = |global: bool| {
        let defaults = crate::routing::SiteDefaults {
            http3: global,
            ..Default::default()
        };
        let table = crate::routing::RouteTable::build(&state, &defaults);
        let on = |h: &str| table.sites().find(|s| s.host == h).unwrap().http3;
        (
            on("a.tld"),
            on("b.tld"),
            on("c.tld"),
            table.http3_anywhere(),
        )
    };
    assert_eq!(routed(false), (true, false, false, true));
    assert_eq!(routed(true), (true, false, true, true));
}

#[test]
fn fastcgi_root_is_per_host_and_the_oldest_container_wins() {
    let php = |name, created, octet, root: &str| {
        let mut vars = vec![("VIRTUAL_HOST", "php.tld"), ("VIRTUAL_PROTO", "fastcgi")];
        if !root.is_empty() {
            vars.push(("VIRTUAL_ROOT", root));
        }
        item(name, created, octet, &vars)
    };
    let s = build(&[
        php("young", 20, 3, "/app/public"),
        php("old", 10, 2, "/var/www/html"),
        php("plain", 5, 4, ""),
    ]);
    let site = &s.sites[0];
    assert_eq!(
        site.root.as_deref(),
        Some("/var/www/html"),
        "oldest that sets it"
    );
    assert_eq!(site.locations[0].proto, Proto::Fastcgi);
    assert_eq!(site.locations[0].backends.len(), 3);
    assert!(
        s.skipped.iter().any(|k| k.source == "young"
            && k.reason.contains("VIRTUAL_ROOT conflict on host php.tld")
            && k.reason.contains("old (oldest)")),
        "{:?}",
        s.skipped
    );
    // Unset everywhere: the default applies later (`None` here).
    let s = build(&[php("only", 1, 2, "")]);
    assert_eq!(s.sites[0].root, None);
    // A bad root drops that container, named with the setting.
    let s = build(&[php("bad", 1, 2, "relative")]);
    assert!(s.sites.is_empty());
    assert!(s.skipped[0].reason.contains("VIRTUAL_ROOT=\"relative\""));
}

#[test]
fn multiports_proto_fastcgi_takes_the_containers_root() {
    let s = build(&[item(
        "fpm",
        1,
        2,
        &[
            (
                "VIRTUAL_HOST_MULTIPORTS",
                r#"{"php.tld": {"/": {"port": 9000, "proto": "fastcgi"}}}"#,
            ),
            ("VIRTUAL_ROOT", "/srv/public"),
        ],
    )]);
    let site = &s.sites[0];
    assert_eq!(site.locations[0].proto, Proto::Fastcgi);
    assert_eq!(site.root.as_deref(), Some("/srv/public"));
    assert!(matches!(
        &site.locations[0].backends[0].addr,
        BackendAddr::Tcp(a) if a.port() == 9000
    ));
}
