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
            sites,
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
    let host = |h: &str| t.lookup(h).map(|s| s.host.clone());
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
    assert_eq!(t.lookup("nowhere").unwrap().host, "web1.tld");
    assert!(t.site("nowhere").is_none());
}

#[test]
fn default_root_fills_missing_slash() {
    let t = table(vec![site("a.tld", &["/api/"])], SiteDefaults::default());
    let s = t.lookup("a.tld").unwrap();
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
    assert!(t.lookup("a.tld").unwrap().location("/other").is_none());
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
    assert!(t.lookup("good.tld").is_some());
}
