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
        sites,
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
        Decision::Refuse => None,
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
        Decision::Refuse => None,
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
