//! Table tests for the §1.6.3 mapping: plain `ContainerInfo` values, no Docker.

use super::*;

fn net(name: &str, ip: &str) -> NetworkInfo {
    NetworkInfo {
        name: name.to_owned(),
        ip: ip.parse().ok(),
        gateway: None,
        ..NetworkInfo::default()
    }
}

fn gw(name: &str, gateway: &str, internal: bool) -> NetworkInfo {
    NetworkInfo {
        gateway: gateway.parse().ok(),
        internal,
        ..net(name, "")
    }
}

fn web(networks: Vec<NetworkInfo>) -> ContainerInfo {
    ContainerInfo {
        id: "abc".into(),
        name: "web1".into(),
        networks,
        network_mode: "bridge".into(),
        ..ContainerInfo::default()
    }
}

fn proxy(networks: Vec<NetworkInfo>) -> ProxyNetworks {
    ProxyNetworks::Container {
        name: "dockside".into(),
        host_mode: false,
        networks,
    }
}

fn ip(reach: &Reach) -> Option<String> {
    match reach {
        Reach::Container { ip, .. } => Some(ip.to_string()),
        _ => None,
    }
}

#[test]
fn address_selection_table() {
    let p = proxy(vec![net("a", "10.0.0.9"), net("b", "10.1.0.9")]);
    let cases: &[(&str, Vec<NetworkInfo>, &ProxyNetworks, Option<&str>)] = &[
        (
            "shared network",
            vec![net("a", "10.0.0.2")],
            &p,
            Some("10.0.0.2"),
        ),
        (
            "first shared network by name wins",
            vec![net("b", "10.1.0.2"), net("a", "10.0.0.2")],
            &p,
            Some("10.0.0.2"),
        ),
        (
            "unshared networks are skipped",
            vec![net("0-other", "10.9.0.2"), net("b", "10.1.0.2")],
            &p,
            Some("10.1.0.2"),
        ),
        (
            "ingress is skipped",
            vec![net("ingress", "10.255.0.2")],
            &ProxyNetworks::Standalone,
            None,
        ),
        ("no shared network", vec![net("c", "10.2.0.2")], &p, None),
        (
            "standalone: first network by name",
            vec![net("z", "10.3.0.2"), net("c", "10.2.0.2")],
            &ProxyNetworks::Standalone,
            Some("10.2.0.2"),
        ),
    ];
    for (what, nets, proxy, want) in cases {
        let item = to_source_item(&web(nets.clone()), proxy, false);
        assert_eq!(ip(&item.reach).as_deref(), *want, "{what}");
    }
}

#[test]
fn unreachable_names_both_sides_and_the_fix() {
    let p = proxy(vec![net("a", "10.0.0.9"), net("b", "10.1.0.9")]);
    let item = to_source_item(&web(vec![net("c", "10.2.0.2")]), &p, false);
    assert_eq!(
        item.reach,
        Reach::Unreachable(
            "container web1 shares no network with dockside (dockside's container dockside is on: \
             a, b; web1 is on: c) — connect it with `docker network connect a web1`"
                .into()
        )
    );
}

#[test]
fn proxy_in_host_mode_reaches_everything() {
    let p = ProxyNetworks::Container {
        name: "dockside".into(),
        host_mode: true,
        networks: vec![net("host", "")],
    };
    let item = to_source_item(&web(vec![net("c", "10.2.0.2")]), &p, false);
    assert_eq!(ip(&item.reach).as_deref(), Some("10.2.0.2"));
}

#[test]
fn host_network_backends() {
    let mut backend = web(vec![net("host", "")]);
    backend.network_mode = "host".into();
    backend.ports = vec![PortInfo {
        port: 8080,
        proto: "tcp".into(),
        host_port: None,
    }];
    let p = proxy(vec![
        gw("a-internal", "10.0.0.1", true),
        gw("b", "10.1.0.1", false),
        gw("c", "10.2.0.1", false),
    ]);
    let want = Reach::Container {
        ip: "10.1.0.1".parse().unwrap(),
        exposed_ports: vec![],
        health: Health::None,
    };
    assert_eq!(
        to_source_item(&backend, &p, false).reach,
        want,
        "first non-internal gateway"
    );
    let item = to_source_item(&backend, &ProxyNetworks::Standalone, false);
    assert_eq!(ip(&item.reach).as_deref(), Some("127.0.0.1"), "standalone");
    let only_internal = proxy(vec![gw("a", "10.0.0.1", true)]);
    let item = to_source_item(&backend, &only_internal, false);
    assert!(matches!(item.reach, Reach::Unreachable(ref r) if r.contains("host network")));
}

#[test]
fn ipv6_only_when_preferred_and_present() {
    let mut n = net("a", "10.0.0.2");
    n.ipv6 = "fd00::2".parse().ok();
    let v4only = net("a", "10.0.0.3");
    let mut v6only = net("a", "");
    v6only.ipv6 = "fd00::4".parse().ok();
    let s = ProxyNetworks::Standalone;
    let cases = [
        (n.clone(), false, "10.0.0.2"),
        (n, true, "fd00::2"),
        (v4only, true, "10.0.0.3"),
        (v6only, false, "fd00::4"),
    ];
    for (n, prefer, want) in cases {
        let item = to_source_item(&web(vec![n]), &s, prefer);
        assert_eq!(
            ip(&item.reach).as_deref(),
            Some(want),
            "prefer_ipv6={prefer}"
        );
    }
}

#[test]
fn labels_win_over_env_and_all_labels_are_kept() {
    let mut c = web(vec![net("a", "10.0.0.2")]);
    c.env = [
        ("VIRTUAL_HOST", "env.test"),
        ("VIRTUAL_PORT", "8080"),
        ("PATH", "/bin"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    c.labels = [
        ("VIRTUAL_HOST", "label.test"),
        ("com.github.nginx-proxy.nginx-proxy.keepalive", "false"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let vars = to_source_item(&c, &ProxyNetworks::Standalone, false).vars;
    assert_eq!(vars["VIRTUAL_HOST"], "label.test");
    assert_eq!(vars["VIRTUAL_PORT"], "8080");
    assert_eq!(
        vars["com.github.nginx-proxy.nginx-proxy.keepalive"],
        "false"
    );
}

#[test]
fn exposed_ports_are_sorted_and_deduplicated() {
    let mut c = web(vec![net("a", "10.0.0.2")]);
    c.ports = [(9090, "udp"), (53, "tcp"), (53, "udp"), (8080, "tcp")]
        .map(|(port, proto)| PortInfo {
            port,
            proto: proto.into(),
            host_port: None,
        })
        .into();
    assert_eq!(c.exposed_ports(), vec![53, 8080, 9090]);
}
