use super::*;
use crate::routing::SiteDefaults;
use crate::settings::test_support::source_item;
use std::net::IpAddr;
use std::sync::Arc;

fn container(name: &str, vars: &[(&str, &str)], reach: Reach) -> SourceItem {
    SourceItem {
        reach,
        ..source_item(name, vars)
    }
}

#[test]
fn report_explains_every_item() {
    let ip = IpAddr::from([172, 18, 0, 2]);
    let items = vec![
        container(
            "web",
            &[("VIRTUAL_HOST", "a.tld")],
            Reach::Container {
                ip,
                exposed_ports: vec![8080],
                health: Health::Unhealthy,
            },
        ),
        container(
            "api",
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("VIRTUAL_PATH", "/api/"),
                ("VIRTUAL_PROTO", "uwsgi"),
            ],
            Reach::Unreachable("shares no network with dockside".into()),
        ),
        container(
            "typo",
            &[("VIRTUAL_HOST", "b.tld"), ("VIRTUAL_PORT", "eighty")],
            Reach::Container {
                ip,
                exposed_ports: vec![],
                health: Health::None,
            },
        ),
        container(
            "extras",
            &[
                ("VIRTUAL_HOST", "c.tld"),
                ("EXTERNAL_HTTP_PORT", "8080"),
                ("EXTERNAL_HTTPS_PORT", "8443"),
                ("SERVER_TOKENS", "off"),
                ("com.github.nginx-proxy.nginx-proxy.debug-endpoint", "true"),
                ("com.github.nginx-proxy.nginx-proxy.http3.enable", "true"),
            ],
            Reach::Container {
                ip,
                exposed_ports: vec![],
                health: Health::None,
            },
        ),
        container(
            "db",
            &[],
            Reach::Container {
                ip,
                exposed_ports: vec![5432],
                health: Health::None,
            },
        ),
    ];
    let state = crate::settings::build(&items);
    let text = render(&state, &RouteTable::build(&state, &SiteDefaults::default()));
    for needle in [
        "a.tld  (from api, web)",
        "172.18.0.2:8080  (web) [unhealthy: no traffic]",
        "/api/  uwsgi",
        "(no healthy backend: requests get 503 until one passes its healthcheck)",
        "HTTPS_METHOD=redirect",
        "the backend refused or did not answer",
        "/api/  uwsgi\n    (502: no reachable container — see problems below)",
        "api: no backend for a.tld: shares no network with dockside",
        "typo: skipped: VIRTUAL_PORT=\"eighty\"",
        "db: no VIRTUAL_HOST: not routed",
        "c.tld  (from extras)\n  HTTPS_METHOD=redirect HSTS=max-age=31536000\n  EXTERNAL_HTTP_PORT=8080 (HTTP only there)  EXTERNAL_HTTPS_PORT=8443 (HTTPS only there; redirects go to it)  SERVER_TOKENS=off (Server: dockside)  debug endpoint /nginx-proxy-debug  HTTP/3 not served (QUIC is on the default HTTPS port only)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn several_ports_without_virtual_port_are_flagged() {
    let reach = |ports: Vec<u16>| Reach::Container {
        ip: IpAddr::from([172, 18, 0, 2]),
        exposed_ports: ports,
        health: Health::None,
    };
    let items = vec![
        container(
            "many",
            &[("VIRTUAL_HOST", "a.tld")],
            reach(vec![8080, 9090]),
        ),
        container(
            "chosen",
            &[("VIRTUAL_HOST", "b.tld"), ("VIRTUAL_PORT", "8080")],
            reach(vec![8080, 9090]),
        ),
        container("one", &[("VIRTUAL_HOST", "c.tld")], reach(vec![8080])),
        container("db", &[], reach(vec![5432, 5433])),
    ];
    let text = port_hints(&items);
    assert!(
        text.contains("many: exposes 8080, 9090 and sets no VIRTUAL_PORT, so port 80 is used"),
        "{text}"
    );
    for quiet in ["chosen", "one", "db"] {
        assert!(!text.contains(quiet), "{text}");
    }
    assert!(port_hints(&items[1..]).is_empty());
}

#[test]
fn multiports_sites_and_load_balancing_modes_are_shown() {
    let reach = |last| Reach::Container {
        ip: IpAddr::from([172, 18, 0, last]),
        exposed_ports: vec![80, 81],
        health: Health::None,
    };
    let items = vec![
        container(
            "multi",
            &[
                (
                    "VIRTUAL_HOST_MULTIPORTS",
                    "m.tld:\n  /: {port: 8080}\n  /api/: {port: 9000}\n",
                ),
                ("VIRTUAL_HOST", "ignored.tld"),
                (
                    "com.github.nginx-proxy.nginx-proxy.loadbalance",
                    "least_conn;",
                ),
            ],
            reach(2),
        ),
        container("plain", &[("VIRTUAL_HOST", "p.tld")], reach(3)),
        container("bad", &[("VIRTUAL_HOST_MULTIPORTS", "m.tld: [")], reach(4)),
    ];
    let state = crate::settings::build(&items);
    let text = render(&state, &RouteTable::build(&state, &SiteDefaults::default()));
    for needle in [
        "m.tld  (from multi)",
        "  /  http  loadbalance: least_conn\n    172.18.0.2:8080  (multi)",
        "  /api/  http  loadbalance: least_conn\n    172.18.0.2:9000  (multi)",
        "p.tld  (from plain)\n  HTTPS_METHOD=redirect HSTS=max-age=31536000\n  /  http\n",
        "bad: skipped: VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(!text.contains("ignored.tld"), "{text}");
    assert!(
        !port_hints(&items).contains("multi"),
        "MULTIPORTS gives its ports"
    );
}

#[test]
fn client_certificate_lines_name_mode_and_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).unwrap().pem();
    std::fs::write(d.join("a.tld.ca.crt"), &pem).unwrap();
    std::fs::write(d.join("a.tld.crl.pem"), "broken").unwrap();
    std::fs::write(d.join("b.tld.ca.crt"), &pem).unwrap();
    let label = "com.github.nginx-proxy.nginx-proxy.ssl_verify_client";
    let reach = || Reach::Addresses(vec![]);
    let items = vec![
        container("a", &[("VIRTUAL_HOST", "a.tld")], reach()),
        container(
            "b",
            &[("VIRTUAL_HOST", "b.tld"), (label, "optional")],
            reach(),
        ),
        container(
            "c",
            &[("VIRTUAL_HOST", "c.tld"), (label, "optional")],
            reach(),
        ),
        container("d", &[("VIRTUAL_HOST", "d.tld")], reach()),
    ];
    let state = crate::settings::build(&items);
    let table = Arc::new(RouteTable::build(&state, &SiteDefaults::default()));
    let certs = crate::certs::load_initial(d);
    let defaults = (crate::tls::policy::Policy::Intermediate, true);
    let live = Snapshot::build(table, certs, defaults, &mut |_, _, _| {});
    let text = client_cert_lines(&live);
    let a_ca = d.join("a.tld.ca.crt");
    for needle in [
        "client certificates (mTLS):".to_owned(),
        format!(
            "a.tld  required (ssl_verify_client=on), CA {}",
            a_ca.display()
        ),
        "CA UNUSABLE".to_owned(),
        "a.tld.crl.pem".to_owned(),
        "b.tld  optional (an invalid one gets 400) (ssl_verify_client=optional)".to_owned(),
        "c.tld  none asked (ssl_verify_client=optional, but no <host>.ca.crt or ca.crt".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("d.tld"), "{text}");
}

#[test]
fn http3_sites_are_named_in_the_report() {
    let items = [container(
        "h3",
        &[
            ("VIRTUAL_HOST", "h3.tld"),
            ("com.github.nginx-proxy.nginx-proxy.http3.enable", "true"),
        ],
        Reach::Container {
            ip: IpAddr::from([172, 18, 0, 2]),
            exposed_ports: vec![80],
            health: Health::None,
        },
    )];
    let state = crate::settings::build(&items);
    let text = render(&state, &RouteTable::build(&state, &SiteDefaults::default()));
    assert!(
        text.contains("HTTP/3 (QUIC on the HTTPS port, UDP; alt-svc)"),
        "{text}"
    );
}

#[test]
fn store_line_says_whether_etcd_answers() {
    let mut health = crate::store::StoreHealth {
        endpoints: "http://127.0.0.1:2379".into(),
        reachable: true,
        since: std::time::UNIX_EPOCH,
        error: None,
    };
    let up = store_line(&health, "r1");
    assert_eq!(
        up,
        "\nshared store: etcd http://127.0.0.1:2379 reachable since Thu, 01 Jan 1970 00:00:00 GMT (replica r1)\n"
    );
    (health.reachable, health.error) = (false, Some("connection refused".into()));
    let down = store_line(&health, "r1");
    assert!(down.contains("UNREACHABLE"), "{down}");
    assert!(down.contains("connection refused"), "{down}");
    assert!(down.contains("placing no order"), "{down}");
}
