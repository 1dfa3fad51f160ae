//! Which addresses are asked, and on which port (the servers themselves are driven in
//! tests/acme_dns01.rs with two real knotd).

use super::*;

fn primary() -> Target {
    Target {
        shown: "127.0.0.1:5353".into(),
        addr: "127.0.0.1:5353".parse().unwrap(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ns_addresses_on_port_53_and_the_primary_on_its_own_port() {
    let resolved = [
        ("ns.example.test".to_owned(), vec![ip("127.0.0.1")]),
        (
            "ns2.example.test".to_owned(),
            vec![ip("192.0.2.2"), ip("2001:db8::2")],
        ),
        // The same address under two names is asked once.
        ("alias.example.test".to_owned(), vec![ip("192.0.2.2")]),
        ("gone.example.test".to_owned(), vec![]),
    ];
    let shown: Vec<(String, SocketAddr)> = targets(&primary(), &resolved)
        .unwrap()
        .into_iter()
        .map(|t| (t.shown, t.addr))
        .collect();
    let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(
        shown,
        [
            ("127.0.0.1:5353".to_owned(), sa("127.0.0.1:5353")),
            (
                "ns2.example.test (192.0.2.2:53)".to_owned(),
                sa("192.0.2.2:53")
            ),
            (
                "ns2.example.test ([2001:db8::2]:53)".to_owned(),
                sa("[2001:db8::2]:53")
            ),
        ]
    );
}

#[test]
fn no_ns_address_means_the_primary_alone() {
    assert_eq!(targets(&primary(), &[]), None);
    let unresolved = [("ns.elsewhere.test".to_owned(), vec![])];
    assert_eq!(targets(&primary(), &unresolved), None);
}
