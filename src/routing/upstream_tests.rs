use super::*;
use crate::model::{BackendAddr, Health};

const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn backend(port: u16, health: Health) -> Backend {
    Backend {
        addr: BackendAddr::Tcp(([127, 0, 0, 1], port).into()),
        source: format!("b{port}"),
        health,
    }
}

#[test]
fn rotation_alternates_and_covers_all() {
    let up = Upstream::new(
        Proto::Http,
        vec![backend(1, Health::None), backend(2, Health::Healthy)],
        true,
    );
    let firsts: Vec<_> = (0..4)
        .map(|_| up.rotation(CLIENT).next().unwrap().source.clone())
        .collect();
    assert_eq!(firsts, ["b1", "b2", "b1", "b2"]);
    assert_eq!(up.rotation(CLIENT).count(), 2);
}

#[test]
fn unhealthy_and_starting_are_excluded() {
    let up = Upstream::new(
        Proto::Http,
        vec![
            backend(1, Health::Unhealthy),
            backend(2, Health::Starting),
            backend(3, Health::Healthy),
        ],
        true,
    );
    assert_eq!(
        up.rotation(CLIENT)
            .map(|b| b.source.as_str())
            .collect::<Vec<_>>(),
        ["b3"]
    );
    assert_eq!(up.excluded.len(), 2);
}

fn three(balance: Balance) -> Upstream {
    Upstream::new(
        Proto::Http,
        (1..=3).map(|p| backend(p, Health::None)).collect(),
        true,
    )
    .balanced(balance)
}

fn first(up: &Upstream, client: IpAddr) -> String {
    up.rotation(client).next().unwrap().source.clone()
}

#[test]
fn round_robin_and_random_count_nothing() {
    for mode in [Balance::RoundRobin, Balance::Random, Balance::ClientHash] {
        let up = three(mode);
        let b = up.rotation(CLIENT).next().unwrap();
        assert!(up.track(b).is_none(), "{mode}");
        assert_eq!(up.in_flight(), None);
    }
}

#[test]
fn client_hash_keeps_a_client_and_the_retry_order_covers_all() {
    let up = three(Balance::ClientHash);
    let clients: Vec<IpAddr> = (1..=50).map(|i| IpAddr::from([10, 0, 7, i])).collect();
    for &c in &clients {
        let once = first(&up, c);
        assert!((0..20).all(|_| first(&up, c) == once), "{c} moved");
        assert_eq!(up.rotation(c).count(), 3);
    }
    // The same addresses in a rebuilt snapshot keep their clients.
    let again = three(Balance::ClientHash);
    assert!(clients.iter().all(|&c| first(&up, c) == first(&again, c)));
    // 50 clients reach every backend.
    let mut seen: Vec<String> = clients.iter().map(|&c| first(&up, c)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
}

#[test]
fn ip_hash_keys_ipv4_clients_by_their_24() {
    let up = three(Balance::IpHash);
    for net in 0..30u8 {
        let a = first(&up, IpAddr::from([192, 168, net, 1]));
        assert_eq!(a, first(&up, IpAddr::from([192, 168, net, 254])));
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(192, 168, net, 9).to_ipv6_mapped());
        assert_eq!(
            a,
            first(&up, mapped),
            "an IPv4-mapped client is the IPv4 one"
        );
    }
}

#[test]
fn least_conn_prefers_the_idle_backend_until_its_response_ends() {
    let up = three(Balance::LeastConn);
    // All idle: ties go in turn.
    let firsts: Vec<String> = (0..3).map(|_| first(&up, CLIENT)).collect();
    assert_eq!(firsts, ["b1", "b2", "b3"]);
    let busy1 = up.track(&up.backends[0]).unwrap();
    let busy3 = up.track(&up.backends[2]).unwrap();
    let _busy3b = up.track(&up.backends[2]).unwrap();
    assert_eq!(up.in_flight(), Some(vec![1, 0, 2]));
    assert!((0..10).all(|_| first(&up, CLIENT) == "b2"));
    let busy2 = up.track(&up.backends[1]).unwrap();
    let _busy2b = up.track(&up.backends[1]).unwrap();
    assert!((0..10).all(|_| first(&up, CLIENT) == "b1"));
    drop((busy1, busy2, busy3));
    assert_eq!(up.in_flight(), Some(vec![0, 1, 1]));
    assert_eq!(first(&up, CLIENT), "b1");
}

#[test]
fn random_two_never_picks_the_busiest_of_three() {
    let up = three(Balance::RandomTwo);
    let _a = up.track(&up.backends[0]).unwrap();
    let _b = up.track(&up.backends[0]).unwrap();
    let _c = up.track(&up.backends[1]).unwrap();
    let picks: Vec<String> = (0..300).map(|_| first(&up, CLIENT)).collect();
    assert!(!picks.iter().any(|p| p == "b1"));
    // b3 (idle) wins every draw it is in: 2 of the 3 pairs.
    let b3 = picks.iter().filter(|p| *p == "b3").count();
    assert!((150..=250).contains(&b3), "b3 picked {b3} of 300");
}

#[test]
fn a_rebuild_with_the_same_backends_keeps_the_counts() {
    let old = three(Balance::LeastConn);
    let busy = old.track(&old.backends[1]).unwrap();
    let same = three(Balance::LeastConn).keeping_counts(Some(&old));
    assert_eq!(same.in_flight(), Some(vec![0, 1, 0]));
    drop(busy);
    assert_eq!(same.in_flight(), Some(vec![0, 0, 0]));
    let _busy = old.track(&old.backends[1]).unwrap();
    let two = Upstream::new(
        Proto::Http,
        (1..=2).map(|p| backend(p, Health::None)).collect(),
        true,
    )
    .balanced(Balance::LeastConn)
    .keeping_counts(Some(&old));
    assert_eq!(
        two.in_flight(),
        Some(vec![0, 0]),
        "another set starts at zero"
    );
    let other_mode = three(Balance::RandomTwo).keeping_counts(Some(&old));
    assert_eq!(other_mode.in_flight(), Some(vec![0, 0, 0]));
    let round_robin = three(Balance::RoundRobin).keeping_counts(Some(&old));
    assert_eq!(round_robin.in_flight(), None);
}
