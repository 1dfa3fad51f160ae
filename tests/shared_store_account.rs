//! One ACME account between replicas: three replicas sharing a real three-member etcd cluster
//! each order a certificate of their own at the same moment, and Pebble registers one account
//! for them (the store's account lock), not one per replica. Real Pebble, the real binary.

mod common;

use std::time::Duration;

use common::etcd::EtcdCluster;
use common::pebble::Pebble;
use common::replica::{Replica, Shared, logs, open_gates};
use tokio::time::Instant;

const HOSTS: [&str; 3] = ["a.example.test", "b.example.test", "c.example.test"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_ordering_different_certificates_at_once_register_one_account() {
    let etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let dir = tempfile::tempdir().unwrap();
    // A routes file per replica, so that each one orders (and locks) its own certificate.
    let routes: Vec<_> = HOSTS
        .iter()
        .map(|h| {
            let path = dir.path().join(format!("{h}.toml"));
            let site = format!(
                "[[site]]\nVIRTUAL_HOST = \"{h}\"\nLETSENCRYPT_HOST = \"{h}\"\nbackends = [\"127.0.0.1:9\"]\n"
            );
            std::fs::write(&path, site).unwrap();
            path
        })
        .collect();
    let rs: Vec<Replica> = ["r1", "r2", "r3"]
        .iter()
        .zip(&routes)
        .map(|(name, routes)| Replica::start(name, &Shared::new(etcd.url(), &pebble, routes, 5)))
        .collect();
    // Every replica holds its certificate's lock, waiting in ACME_PRE_HOOK.
    let deadline = Instant::now() + Duration::from_secs(30);
    while etcd.keys("/dockside/locks/").len() < HOSTS.len() {
        assert!(
            Instant::now() < deadline,
            "not every replica took its lock: {:?}\n{}",
            etcd.values("/dockside/locks/"),
            logs(&rs)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (r, host) in rs.iter().zip(HOSTS) {
        let state = r.cert_state(host).await;
        let state = state.unwrap_or_else(|| panic!("{}'s admin API lists no {host}", r.name));
        assert_eq!(state["state"], "ordering", "{}: {state}", r.name);
        let metric = r.state_metric(host, "ordering").await;
        assert_eq!(metric.as_deref(), Some("1"), "{}'s /metrics", r.name);
    }
    // The CA always reaches r1: r2's and r3's answers come to it through the store.
    pebble.set_validation_ports(rs[0].http.port(), rs[0].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    let deadline = Instant::now() + Duration::from_secs(40);
    for (r, host) in rs.iter().zip(HOSTS) {
        while let Err(e) = r.serial(host, &root).await {
            assert!(
                Instant::now() < deadline,
                "{} never served {host}: {e}\n{}\n{}",
                r.name,
                logs(&rs),
                pebble.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let registered = pebble.log().matches("accounts in memory").count();
    assert_eq!(
        registered,
        1,
        "accounts registered at the CA:\n{}\n{}",
        pebble.log(),
        logs(&rs)
    );
    let registrars = rs
        .iter()
        .filter(|r| r.log().contains("registered ACME account"))
        .count();
    assert_eq!(registrars, 1, "{}", logs(&rs));
    // The others waited for its account (or found it mirrored to their directory already).
    assert_eq!(etcd.keys("/dockside/accounts/").len(), 1);
    assert!(
        etcd.keys("/dockside/account-locks/").is_empty(),
        "the account lock is released"
    );
}
