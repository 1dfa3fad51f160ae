//! On-demand TLS (`ON_DEMAND_TLS`) with a shared store: two replicas receiving the first
//! handshake for a new name at the same moment place **one** order between them (the
//! certificate's lock, as for `LETSENCRYPT_HOST` certificates), the CA's HTTP-01 look reaches
//! one fixed replica whichever one ordered, and both serve the same certificate. Real etcd
//! cluster, real Pebble, the real binary.

mod common;

use common::ask::Ask;
use common::etcd::EtcdCluster;
use common::pebble::Pebble;
use common::replica::{Replica, Shared, logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_handshakes_on_two_replicas_place_one_order() {
    let etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        "[[site]]\nVIRTUAL_HOST = \"static.example.test\"\nbackends = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let ask = Ask::start().await;
    let shared = Shared::new(etcd.url(), &pebble, &routes, 5);
    let env = [
        ("ON_DEMAND_TLS", "true"),
        ("ON_DEMAND_TLS_ASK", ask.url.as_str()),
    ];
    let rs: Vec<Replica> = ["r1", "r2"]
        .iter()
        .map(|n| Replica::start_with(n, &shared, &env))
        .collect();
    // The CA always reaches r2: when r1 orders, r2 answers from the store.
    pebble.set_validation_ports(rs[1].http.port(), rs[1].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;

    let name = "od.example.test";
    let (a, b) = tokio::join!(rs[0].serial(name, &root), rs[1].serial(name, &root));
    let logs = || logs(&rs);
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        other => panic!("{other:?}\n{}\n{}", pebble.log(), logs()),
    };
    assert_eq!(a, b, "both serve the one certificate\n{}", logs());
    assert_eq!(
        pebble.log().matches("Added order").count(),
        1,
        "one order for two first handshakes\n{}\n{}",
        pebble.log(),
        logs()
    );
    let ordered = rs
        .iter()
        .filter(|r| r.log().contains("ordering an on-demand certificate"))
        .count();
    assert_eq!(ordered, 1, "{}", logs());
    assert_eq!(ask.calls(name), 2, "each replica asked once");
}
