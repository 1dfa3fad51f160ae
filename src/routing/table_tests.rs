use super::*;
use crate::model::{Backend, BackendAddr, Health, Location, Proto};

fn site(host: &str, paths: &[&str]) -> Site {
    Site {
        host: host.to_owned(),
        locations: paths
            .iter()
            .map(|p| Location {
                path: (*p).to_owned(),
                proto: Proto::Http,
                keepalive: true,
                backends: vec![Backend {
                    addr: BackendAddr::Tcp(([127, 0, 0, 1], 9).into()),
                    source: format!("{host}{p}"),
                    health: Health::None,
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn table(sites: Vec<Site>, defaults: SiteDefaults) -> RouteTable {
    RouteTable::build(
        &DesiredState {
            sites: sites.into_iter().map(Arc::new).collect(),
            ..Default::default()
        },
        &defaults,
    )
}

#[test]
fn server_name_precedence() {
    let t = table(
        vec![
            site("~^www\\..*", &["/"]),
            site("*.example.com", &["/"]),
            site("*.b.example.com", &["/"]),
            site("www.example.*", &["/"]),
            site("www.example.com", &["/"]),
        ],
        SiteDefaults::default(),
    );
    let host = |h: &str| t.default_hosts(false).lookup(h).map(|s| s.host.clone());
    assert_eq!(
        host("www.example.com:8080").as_deref(),
        Some("www.example.com")
    );
    assert_eq!(host("a.b.example.com").as_deref(), Some("*.b.example.com"));
    assert_eq!(host("a.example.com").as_deref(), Some("*.example.com"));
    assert_eq!(host("www.example.org").as_deref(), Some("www.example.*"));
    assert_eq!(host("www.other.net").as_deref(), Some("~^www\\..*"));
    assert_eq!(host("unknown.net"), None);
}

#[test]
fn default_host_catches_unknown_hosts() {
    let defaults = SiteDefaults {
        default_host: Some("web1.tld".into()),
        ..Default::default()
    };
    let t = table(
        vec![site("web1.tld", &["/"]), site("web2.tld", &["/"])],
        defaults,
    );
    assert_eq!(
        t.default_hosts(false).lookup("nowhere").unwrap().host,
        "web1.tld"
    );
    assert!(t.default_hosts(false).site("nowhere").is_none());
}

#[test]
fn default_root_fills_missing_slash() {
    let t = table(vec![site("a.tld", &["/api/"])], SiteDefaults::default());
    let s = t.default_hosts(false).lookup("a.tld").unwrap();
    assert!(
        matches!(s.location("/other").unwrap().action, Action::Return(ref r) if r.status == 404)
    );
    assert!(matches!(
        s.location("/api/x").unwrap().action,
        Action::Forward(_)
    ));
    let none = SiteDefaults {
        default_root: None,
        ..Default::default()
    };
    let t = table(vec![site("a.tld", &["/api/"])], none);
    assert!(
        t.default_hosts(false)
            .lookup("a.tld")
            .unwrap()
            .location("/other")
            .is_none()
    );
}

#[test]
fn default_root_values() {
    assert_eq!(DefaultRoot::parse("none").unwrap(), None);
    let r = DefaultRoot::parse("301 https://example.com/")
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.status.as_u16(), r.text.as_deref()),
        (301, Some("https://example.com/"))
    );
    let err = DefaultRoot::parse("nope").unwrap_err();
    assert!(err.contains("DEFAULT_ROOT"), "{err}");
}

#[test]
fn uncompilable_site_is_rejected_alone() {
    let t = table(
        vec![site("~^(bad", &["/"]), site("good.tld", &["/"])],
        SiteDefaults::default(),
    );
    assert_eq!(t.rejected.len(), 1);
    assert!(t.default_hosts(false).lookup("good.tld").is_some());
}

#[test]
fn external_ports_put_a_site_on_its_own_listener_only() {
    let defaults = SiteDefaults {
        default_host: Some("ext.tld".into()),
        ..Default::default()
    };
    let t = table(
        vec![
            Site {
                external_http_port: Some(8080),
                external_https_port: Some(8443),
                ..site("ext.tld", &["/"])
            },
            Site {
                external_http_port: Some(8080),
                ..site("half.tld", &["/"])
            },
            // The listener's own port is the listener.
            Site {
                external_http_port: Some(80),
                ..site("plain.tld", &["/"])
            },
            site("*.tld", &["/"]),
        ],
        defaults,
    );
    let on = |https: bool, extra: Option<u16>, host: &str| {
        t.hosts(https, extra)
            .and_then(|h| h.lookup(host))
            .map(|s| s.host.clone())
    };
    // Unknown on the default ports: the wildcard answers instead, as in nginx.
    assert_eq!(on(false, None, "ext.tld").as_deref(), Some("*.tld"));
    assert_eq!(on(true, None, "ext.tld").as_deref(), Some("*.tld"));
    assert_eq!(on(false, Some(8080), "ext.tld").as_deref(), Some("ext.tld"));
    assert_eq!(on(true, Some(8443), "ext.tld").as_deref(), Some("ext.tld"));
    // Only its HTTP server moved: HTTPS stays on the default listener.
    assert_eq!(on(false, None, "half.tld").as_deref(), Some("*.tld"));
    assert_eq!(on(true, None, "half.tld").as_deref(), Some("half.tld"));
    assert_eq!(
        on(false, Some(8080), "half.tld").as_deref(),
        Some("half.tld")
    );
    assert_eq!(on(false, None, "plain.tld").as_deref(), Some("plain.tld"));
    // The wildcard does not listen on 8080; DEFAULT_HOST is the default server where it listens.
    assert_eq!(on(false, Some(8080), "x.tld").as_deref(), Some("ext.tld"));
    assert_eq!(on(false, None, "nowhere").as_deref(), None);
    assert!(t.hosts(false, Some(9999)).is_none());
    let ports: Vec<(u16, PortKind, Vec<String>)> = t
        .extra_ports
        .iter()
        .map(|(p, e)| (*p, e.kind, e.hosts.clone()))
        .collect();
    assert_eq!(
        ports,
        [
            (
                8080,
                PortKind::Http,
                vec!["ext.tld".into(), "half.tld".into()]
            ),
            (8443, PortKind::Https, vec!["ext.tld".into()]),
        ]
    );
    assert_eq!(t.sites().count(), 4, "each site listed once");
}

#[test]
fn a_port_of_the_other_scheme_rejects_the_later_site_alone() {
    let t = table(
        vec![
            Site {
                external_https_port: Some(8443),
                ..site("a.tld", &["/"])
            },
            Site {
                external_http_port: Some(8443),
                ..site("b.tld", &["/"])
            },
        ],
        SiteDefaults::default(),
    );
    assert_eq!(t.rejected.len(), 1, "{:?}", t.rejected);
    assert_eq!(t.rejected[0].0, "b.tld");
    assert!(
        t.rejected[0].1.contains("EXTERNAL_HTTP_PORT=8443"),
        "{:?}",
        t.rejected
    );
    assert!(t.hosts(true, Some(8443)).unwrap().site("a.tld").is_some());
}

/// A rebuild for an unrelated change keeps each unchanged policy's compiled instance (its
/// credential cache and rate-limit buckets), and compiles a changed one anew.
#[test]
fn rebuild_keeps_unchanged_policies() {
    let header = |value: &str| Policy {
        response_headers: vec![crate::policy::ResponseHeaderOp::Set {
            name: "X-Site".to_owned(),
            value: value.to_owned(),
        }],
        ..Policy::default()
    };
    let with_policy = |host: &str, value: &str| {
        let mut s = site(host, &["/"]);
        s.policy = header(value);
        s.locations[0].policy = header(&format!("{value}/"));
        s
    };
    let state = |b: &str, c_paths: &[&str]| DesiredState {
        sites: vec![
            Arc::new(with_policy("a.test", "a")),
            Arc::new(with_policy("b.test", b)),
            Arc::new(site("c.test", c_paths)),
        ],
        ..Default::default()
    };
    let defaults = SiteDefaults::default();
    let first = RouteTable::build(&state("b", &["/"]), &defaults);
    let second = RouteTable::rebuild(&state("b2", &["/", "/x"]), &defaults, &first);
    let policies = |t: &RouteTable, host: &str| {
        let s = t.sites().find(|s| s.host == host).expect("site built");
        let location = s.locations[0].policy.clone().expect("location policy");
        (s.policy.clone().expect("site policy"), location)
    };
    let (a1, a1_loc) = policies(&first, "a.test");
    let (a2, a2_loc) = policies(&second, "a.test");
    assert!(Arc::ptr_eq(&a1, &a2), "unchanged site policy recompiled");
    assert!(
        Arc::ptr_eq(&a1_loc, &a2_loc),
        "unchanged location policy recompiled"
    );
    let (b1, _) = policies(&first, "b.test");
    let (b2, _) = policies(&second, "b.test");
    assert!(!Arc::ptr_eq(&b1, &b2), "changed policy kept");
    assert_eq!(b2.spec(), &header("b2"));
}

/// `update` keeps the compiled route of a site equal to the one it was built from (the same
/// `Arc`: upstream counts and health go on), compiles the changed and the new ones, and
/// drops the removed ones; the lookups are those of a table built from scratch.
#[test]
fn update_keeps_unchanged_sites_and_recompiles_the_rest() {
    let defaults = SiteDefaults::default();
    let state = |sites: Vec<Site>| {
        Arc::new(DesiredState {
            sites: sites.into_iter().map(Arc::new).collect(),
            ..Default::default()
        })
    };
    let first = RouteTable::update(
        &state(vec![
            site("a.test", &["/"]),
            site("b.test", &["/"]),
            site("gone.test", &["/"]),
        ]),
        &defaults,
        &RouteTable::default(),
    );
    let next = state(vec![
        site("a.test", &["/"]),
        site("b.test", &["/", "/api"]),
        site("new.test", &["/"]),
    ]);
    let second = RouteTable::update(&next, &defaults, &first);
    let route = |t: &RouteTable, host: &str| t.sites().find(|s| s.host == host).cloned();
    let a = route(&first, "a.test").expect("a built");
    assert!(
        Arc::ptr_eq(&a, &route(&second, "a.test").expect("a kept")),
        "an unchanged site was compiled again"
    );
    let b = route(&second, "b.test").expect("b rebuilt");
    assert!(!Arc::ptr_eq(&b, &route(&first, "b.test").expect("b built")));
    assert_eq!(b.locations.len(), 2, "the changed site's new location");
    assert!(
        route(&second, "gone.test").is_none(),
        "a removed site stays"
    );
    let lookup = |t: &RouteTable, h: &str| t.default_hosts(false).lookup(h).map(|s| s.host.clone());
    let scratch = RouteTable::build(&next, &defaults);
    for host in ["a.test", "b.test", "new.test", "gone.test"] {
        assert_eq!(lookup(&second, host), lookup(&scratch, host), "{host}");
    }
    assert_eq!(
        a.metrics_id,
        route(&second, "a.test").expect("kept").metrics_id
    );
}

/// Other defaults (or a previous table `rebuild` made, which keeps no source) compile every
/// site again: a kept route would carry the old defaults.
#[test]
fn update_compiles_everything_when_the_defaults_change() {
    let state = Arc::new(DesiredState {
        sites: vec![Arc::new(site("a.test", &["/"]))],
        ..Default::default()
    });
    let first = RouteTable::update(&state, &SiteDefaults::default(), &RouteTable::default());
    let other = SiteDefaults {
        http2: false,
        ..SiteDefaults::default()
    };
    let second = RouteTable::update(&state, &other, &first);
    let a = |t: &RouteTable| t.sites().next().cloned().expect("a built");
    assert!(!Arc::ptr_eq(&a(&first), &a(&second)));
    assert!(!a(&second).http2, "the new default applies");
    let unsourced = RouteTable::rebuild(&state, &other, &RouteTable::default());
    let third = RouteTable::update(&state, &other, &unsourced);
    assert!(!Arc::ptr_eq(&a(&unsourced), &a(&third)));
}
