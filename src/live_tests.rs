use super::*;
use crate::certs::write_pair;
use crate::model::{DesiredState, Site};
use crate::routing::SiteDefaults;

fn certs(names: &[&str]) -> (tempfile::TempDir, Arc<CertMap>) {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![(*name).to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (c, k) = (cert.pem(), key.serialize_pem());
        write_pair(dir.path(), name, c.as_bytes(), k.as_bytes()).unwrap();
    }
    let map = CertMap::scan(dir.path(), &CertMap::default()).0;
    (dir, Arc::new(map))
}

fn routes(sites: Vec<Site>, default_host: Option<&str>) -> Arc<RouteTable> {
    let defaults = SiteDefaults {
        default_host: default_host.map(str::to_owned),
        ..Default::default()
    };
    let state = DesiredState {
        sites: sites.into_iter().map(Arc::new).collect(),
        ..Default::default()
    };
    Arc::new(RouteTable::build(&state, &defaults))
}

fn site(host: &str) -> Site {
    Site {
        host: host.to_owned(),
        ..Default::default()
    }
}

fn served(table: &Snapshot, sni: Option<&str>) -> Option<(String, Policy, Option<String>)> {
    match table.decide(None, sni) {
        Decision::Serve {
            cert, policy, site, ..
        } => Some((cert.name.clone(), policy, site)),
        Decision::Refuse | Decision::OnDemand => None,
    }
}

#[test]
fn decisions_follow_sites_policies_and_default_host() {
    let (_dir, map) = certs(&["a.test", "m.test"]);
    let modern = Site {
        ssl_policy: Some("Mozilla-Modern".into()),
        ..site("m.test")
    };
    let state = Live::new(
        routes(
            vec![site("a.test"), modern, site("none.test")],
            Some("a.test"),
        ),
        map,
        "Mozilla-Intermediate",
        true,
    );
    let table = state.load();
    let a = Some(Some("a.test".to_owned()));
    assert_eq!(
        served(&table, Some("m.test")),
        Some(("m.test".into(), Policy::Modern, Some("m.test".into())))
    );
    // Unknown names and no SNI fall to the DEFAULT_HOST site.
    for sni in [Some("unknown.test"), None] {
        let got = served(&table, sni).map(|(_, _, s)| Some(s.unwrap()));
        assert_eq!(got, a, "{sni:?}");
    }
    assert!(served(&table, Some("none.test")).is_none());
    let none = table
        .routes()
        .default_hosts(true)
        .site("none.test")
        .unwrap();
    let a_site = table.routes().default_hosts(true).site("a.test").unwrap();
    assert!(!table.cert_ok(none) && table.cert_ok(a_site));

    // A new certificate map reaches the same table holder.
    let (_dir2, more) = certs(&["a.test", "m.test", "none.test"]);
    state.set_certs(more);
    let table = state.load();
    assert!(
        table.cert_ok(
            table
                .routes()
                .default_hosts(true)
                .site("none.test")
                .unwrap()
        )
    );
}

#[test]
fn nohttps_site_is_unknown_and_gets_the_default_certificate() {
    let (_dir, map) = certs(&["a.test", "default"]);
    let nohttps = Site {
        https_method: Some(HttpsMethod::NoHttps),
        ..site("a.test")
    };
    let state = Live::new(routes(vec![nohttps], None), map, "Mozilla-Modern", false);
    let got = served(&state.load(), Some("a.test"));
    assert_eq!(got, Some(("default".into(), Policy::Modern, None)));
}

#[test]
fn an_external_https_port_serves_its_sites_only() {
    let (_dir, map) = certs(&["ext.test", "a.test"]);
    let ext = Site {
        external_https_port: Some(8443),
        ..site("ext.test")
    };
    let state = Live::new(
        routes(vec![ext, site("a.test")], None),
        map,
        "Mozilla-Intermediate",
        true,
    );
    let table = state.load();
    let on = |extra: Option<u16>, sni: &str| match table.decide(extra, Some(sni)) {
        Decision::Serve { site, .. } => site,
        Decision::Refuse | Decision::OnDemand => None,
    };
    assert_eq!(on(Some(8443), "ext.test").as_deref(), Some("ext.test"));
    // Unknown where it does not listen (no default.crt: refused), and the other way round.
    assert_eq!(on(None, "ext.test"), None);
    assert_eq!(on(Some(8443), "a.test"), None);
    assert_eq!(on(None, "a.test").as_deref(), Some("a.test"));
    // A port no site asks for any more knows nobody.
    assert_eq!(on(Some(9443), "ext.test"), None);
    assert!(
        table.cert_ok(
            table
                .routes()
                .sites()
                .find(|s| s.host == "ext.test")
                .unwrap()
        )
    );
}

#[test]
fn on_demand_only_for_names_no_site_matches() {
    let (_dir, map) = certs(&["a.test", "got.test"]);
    let modern = Site {
        ssl_policy: Some("Mozilla-Modern".into()),
        ..site("a.test")
    };
    let wild = site("*.wild.test");
    let table = routes(vec![modern, wild, site("none.test")], Some("a.test"));
    let state = Live::new(table, map, "Mozilla-Intermediate", true);
    let kind = |extra: Option<u16>, sni: Option<&str>| match state.load().decide(extra, sni) {
        Decision::Serve { cert, site, .. } => format!("serve {} for {site:?}", cert.name),
        Decision::Refuse => "refuse".to_owned(),
        Decision::OnDemand => "on demand".to_owned(),
    };
    let before = kind(None, Some("new.test"));
    assert_eq!(
        before, "serve a.test for Some(\"a.test\")",
        "off: DEFAULT_HOST"
    );
    state.enable_on_demand();
    assert_eq!(kind(None, Some("new.test")), "on demand");
    // Its own certificate once there, with the DEFAULT_HOST site's policy (where it routes).
    assert_eq!(
        kind(None, Some("got.test")),
        "serve got.test for Some(\"a.test\")"
    );
    match state.load().decide(None, Some("got.test")) {
        Decision::Serve { policy, .. } => assert_eq!(policy, Policy::Modern),
        _ => unreachable!(),
    }
    // Names a site matches keep their path, with or without a certificate; so does no SNI.
    assert_eq!(
        kind(None, Some("a.test")),
        "serve a.test for Some(\"a.test\")"
    );
    assert_eq!(kind(None, Some("x.wild.test")), "refuse");
    assert_eq!(kind(None, Some("none.test")), "refuse");
    assert_eq!(kind(None, None), "serve a.test for Some(\"a.test\")");
    // Not on an EXTERNAL_HTTPS_PORT listener.
    assert_eq!(kind(Some(8443), Some("new.test")), "refuse");
    // A name on-demand TLS refuses gets what it got with on-demand off.
    let without = match state
        .load()
        .decide_without_on_demand(None, Some("new.test"))
    {
        Decision::Serve { cert, site, .. } => format!("serve {} for {site:?}", cert.name),
        other => format!("{other:?}"),
    };
    assert_eq!(without, before);
}

/// QUIC serves an on-demand name's own certificate when the DEFAULT_HOST site (where its
/// requests go, advertising HTTP/3) is an HTTP/3 site; else what it served before.
#[test]
fn h3_serves_the_on_demand_certificate_of_an_h3_default_site() {
    let (_dir, map) = certs(&["a.test", "b.test", "got.test"]);
    let h3 = |host| Site {
        http3: Some(true),
        ..site(host)
    };
    let name = |d: Decision| match d {
        Decision::Serve { cert, .. } => cert.name.clone(),
        other => format!("{other:?}"),
    };
    let state = Live::new(
        routes(vec![h3("a.test"), site("b.test")], Some("a.test")),
        map.clone(),
        "Mozilla-Intermediate",
        true,
    );
    assert_eq!(name(state.load().decide_h3(Some("got.test"))), "a.test");
    state.enable_on_demand();
    assert_eq!(name(state.load().decide_h3(Some("got.test"))), "got.test");
    assert_eq!(name(state.load().decide_h3(Some("new.test"))), "a.test");
    assert_eq!(name(state.load().decide_h3(Some("a.test"))), "a.test");
    // A DEFAULT_HOST site not on HTTP/3: unchanged (refused, no default.crt here).
    let state = Live::new(
        routes(vec![h3("a.test"), site("b.test")], Some("b.test")),
        map,
        "Mozilla-Intermediate",
        true,
    );
    state.enable_on_demand();
    assert_eq!(name(state.load().decide_h3(Some("got.test"))), "Refuse");
}

#[test]
fn on_demand_without_default_host_serves_for_no_site() {
    let (_dir, map) = certs(&["got.test"]);
    let state = Live::new(
        routes(vec![site("a.test")], None),
        map,
        "Mozilla-Modern",
        false,
    );
    state.enable_on_demand();
    match state.load().decide(None, Some("got.test")) {
        Decision::Serve {
            cert, site, policy, ..
        } => assert_eq!(
            (cert.name.as_str(), site, policy),
            ("got.test", None, Policy::Modern)
        ),
        other => panic!("{other:?}"),
    }
}
