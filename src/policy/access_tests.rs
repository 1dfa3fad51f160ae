use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rule(allow: bool, net: &str) -> AccessRule {
    AccessRule {
        allow,
        net: parse_net(net).unwrap(),
    }
}

#[test]
fn parses_addresses_blocks_and_all() {
    let table = [
        ("10.0.0.0/8", "10.0.0.0", 8),
        ("1.2.3.4", "1.2.3.4", 32),
        (" 1.2.3.4/32 ", "1.2.3.4", 32),
        ("0.0.0.0/0", "0.0.0.0", 0),
        ("::1", "::1", 128),
        ("fc00::/7", "fc00::", 7),
        ("2001:db8::/32", "2001:db8::", 32),
        ("::/0", "::", 0),
        // IPv4-mapped blocks are the IPv4 blocks they carry.
        ("::ffff:10.0.0.0/104", "10.0.0.0", 8),
        ("::ffff:1.2.3.4", "1.2.3.4", 32),
    ];
    for (text, addr, prefix) in table {
        let net = parse_net(text).unwrap();
        assert_eq!(
            (net.addr, net.prefix, net.all),
            (ip(addr), prefix, false),
            "{text}"
        );
    }
    let all = parse_net("all").unwrap();
    assert!(all.all);
    assert_eq!(all.prefix, 0);
    assert!(all.addr.is_unspecified());
}

#[test]
fn host_bits_are_cleared_with_nginx_warning() {
    let (net, note) = parse_net_noting("10.1.2.3/8").unwrap();
    assert_eq!((net.addr, net.prefix), (ip("10.0.0.0"), 8));
    assert_eq!(
        note.as_deref(),
        Some("low address bits of 10.1.2.3/8 are meaningless")
    );
    let (net, note) = parse_net_noting("fd12:3456::1/7").unwrap();
    assert_eq!((net.addr, net.prefix), (ip("fc00::"), 7));
    assert!(note.is_some());
    assert_eq!(parse_net_noting("10.0.0.0/8").unwrap().1, None);
    assert_eq!(parse_net_noting("all").unwrap().1, None);
}

#[test]
fn refuses_what_is_not_a_block() {
    for bad in [
        "",
        "ALL",
        "localhost",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/+8",
        "10.0.0.0/-1",
        "10.0.0.0/8/8",
        "::1/129",
        "10.0.0",
        "unix:",
        "300.0.0.1",
    ] {
        assert!(parse_net(bad).is_err(), "{bad:?} parsed");
    }
    let err = parse_net("10.0.0.0/33").unwrap_err();
    assert!(err.contains("0 to 32"), "{err}");
}

#[test]
fn first_match_wins_and_no_match_allows() {
    let rules = [
        rule(false, "10.1.0.0/16"),
        rule(true, "10.0.0.0/8"),
        rule(false, "all"),
    ];
    assert!(!allowed(&rules, ip("10.1.2.3")));
    assert!(allowed(&rules, ip("10.2.2.3")));
    assert!(!allowed(&rules, ip("11.0.0.1")));
    assert!(!allowed(&rules, ip("2001:db8::1")));

    let no_deny = [rule(false, "192.0.2.0/24")];
    assert!(allowed(&no_deny, ip("198.51.100.1")));
    assert!(!allowed(&no_deny, ip("192.0.2.200")));
    assert!(allowed(&[], ip("192.0.2.200")));
}

#[test]
fn families_do_not_cross_but_mapped_clients_are_ipv4() {
    let v4_only = [rule(true, "0.0.0.0/0"), rule(false, "all")];
    assert!(allowed(&v4_only, ip("203.0.113.9")));
    assert!(allowed(&v4_only, ip("::ffff:203.0.113.9")));
    assert!(!allowed(&v4_only, ip("2001:db8::1")));

    let v6_only = [rule(true, "::/0"), rule(false, "all")];
    assert!(allowed(&v6_only, ip("2001:db8::1")));
    assert!(!allowed(&v6_only, ip("203.0.113.9")));
    // A dual-stack listener's view of an IPv4 peer is matched as IPv4, not by `::/0`.
    assert!(!allowed(&v6_only, ip("::ffff:203.0.113.9")));

    let block = [rule(false, "10.0.0.0/8")];
    assert!(!allowed(&block, ip("::ffff:10.1.2.3")));
}

#[test]
fn prefix_edges() {
    let single = [rule(true, "192.0.2.7"), rule(false, "all")];
    assert!(allowed(&single, ip("192.0.2.7")));
    assert!(!allowed(&single, ip("192.0.2.6")));
    assert!(!allowed(&single, ip("192.0.2.8")));

    let twelve = [rule(true, "172.16.0.0/12"), rule(false, "all")];
    assert!(allowed(&twelve, ip("172.16.0.0")));
    assert!(allowed(&twelve, ip("172.31.255.255")));
    assert!(!allowed(&twelve, ip("172.32.0.0")));
    assert!(!allowed(&twelve, ip("172.15.255.255")));

    let seven = [rule(true, "fc00::/7"), rule(false, "all")];
    assert!(allowed(&seven, ip("fc00::1")));
    assert!(allowed(&seven, ip("fdff:ffff::1")));
    assert!(!allowed(&seven, ip("fe00::1")));
    assert!(!allowed(&seven, ip("fbff::1")));
}

#[test]
fn internal_is_nginx_proxys_list() {
    let rules = internal();
    assert_eq!(rules.len(), 6);
    assert_eq!(rules.last(), Some(&rule(false, "all")));
    for inside in [
        "127.0.0.1",
        "127.255.0.9",
        "10.200.1.1",
        "172.16.5.5",
        "172.31.0.1",
        "192.168.1.10",
        "fd00::5",
        "::ffff:192.168.1.10",
    ] {
        assert!(allowed(&rules, ip(inside)), "{inside} refused");
    }
    // 198.18.0.0/15 is the range the integration test puts its outside client in.
    for outside in [
        "198.18.0.2",
        "172.32.0.1",
        "8.8.8.8",
        "2001:db8::1",
        "::1",
        "fe80::1",
    ] {
        assert!(!allowed(&rules, ip(outside)), "{outside} allowed");
    }
}
