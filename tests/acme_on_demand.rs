//! On-demand TLS (`ON_DEMAND_TLS`) end to end: dockside with a real Pebble validating HTTP-01 on
//! dockside's own HTTP listener, a real rustls client verifying the chain against Pebble's
//! issuing root, and the ask URL served by a small HTTP server in the test that counts its calls.
//! Names no site serves get a certificate during their first handshake and are served by the
//! `DEFAULT_HOST` site; refused names fail the handshake without an order; a burst of first
//! handshakes for one name costs one ask call and one order; the certificate is renewed like
//! the others, also after a restart.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::acme::{ThroughDockside, dockside_config};
use common::ask::Ask;
use common::pebble::Options;
use common::responders::{HttpsReply, https_get};
use common::{TestBackend, site};
use dockside::acme::{CertStatus, OnDemandSettings};
use dockside::app::Running;
use dockside::model::DesiredState;

const T: Duration = Duration::from_secs(30);
const DEFAULT_HOST: &str = "main.e2e.test";

fn settings(ask: &Ask) -> OnDemandSettings {
    OnDemandSettings {
        ask: ask.url.clone(),
        rate_per_minute: 10,
        wait: Duration::from_secs(20),
        deny_for: Duration::from_secs(300),
    }
}

/// dockside with on-demand TLS and `DEFAULT_HOST` set, Pebble validating on its ports, and the
/// `DEFAULT_HOST` site (no certificate of its own) on `backend`.
async fn start(ask: &Ask, opts: Options, backend: &TestBackend) -> (ThroughDockside, Running) {
    let on_demand = settings(ask);
    let (t, running) = ThroughDockside::start(opts, |c| {
        c.on_demand = Some(on_demand);
        c.defaults.default_host = Some(DEFAULT_HOST.to_owned());
    })
    .await;
    publish(&running, backend);
    (t, running)
}

fn publish(running: &Running, backend: &TestBackend) {
    running.publish(DesiredState {
        sites: vec![std::sync::Arc::new(site(DEFAULT_HOST, &[backend.addr]))],
        ..DesiredState::default()
    });
}

fn backend_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["backend"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

fn sans(reply: &HttpsReply) -> Vec<String> {
    dockside::certs::CertInfo::from_der(&reply.leaf)
        .unwrap()
        .names
}

fn stats(running: &Running) -> &dockside::acme::Stats {
    running.acme.as_deref().expect("ACME on")
}

/// The first handshake for `host`: a verified chain and the DEFAULT_HOST site's answer.
async fn first_get(t: &ThroughDockside, running: &Running, host: &str) -> HttpsReply {
    match https_get(t.https, host, "/", &t.root).await {
        Ok(reply) => reply,
        Err(e) => panic!(
            "first handshake for {host}: {e}; ACME: {:?}; pebble log:\n{}",
            stats(running),
            t.pebble.log()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_handshake_gets_a_verified_certificate_from_pebble() {
    let ask = Ask::start().await;
    let backend = TestBackend::start("main").await;
    let (t, running) = start(&ask, Options::default(), &backend).await;
    let reply = first_get(&t, &running, "new.e2e.test").await;
    assert_eq!(reply.status, 200);
    assert_eq!(backend_of(&reply.body), "main", "served by DEFAULT_HOST");
    assert_eq!(sans(&reply), vec!["new.e2e.test".to_owned()]);
    assert_eq!(ask.calls("new.e2e.test"), 1);
    assert_eq!(stats(&running).orders_succeeded.load(Ordering::Relaxed), 1);
    // Stored like any ACME certificate for that host, and listed for renewal.
    let base = t.certs.path().join("new.e2e.test");
    for f in ["cert.pem", "key.pem", "chain.pem", "fullchain.pem"] {
        assert!(base.join(f).is_file(), "{f} written");
    }
    let link = std::fs::read_link(t.certs.path().join("new.e2e.test.crt")).unwrap();
    assert_eq!(link, std::path::Path::new("./new.e2e.test/fullchain.pem"));
    let listed =
        std::fs::read_to_string(t.certs.path().join(dockside::certs::ON_DEMAND_NAMES)).unwrap();
    assert!(listed.lines().any(|l| l == "new.e2e.test"), "{listed}");
    // The next handshake is served from the snapshot: no ask call, no order.
    let again = first_get(&t, &running, "new.e2e.test").await;
    assert_eq!(again.leaf, reply.leaf);
    assert_eq!(ask.calls("new.e2e.test"), 1);
    assert_eq!(stats(&running).orders_started.load(Ordering::Relaxed), 1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_name_fails_cleanly_without_an_order() {
    let ask = Ask::start().await;
    let backend = TestBackend::start("main").await;
    let (t, running) = start(&ask, Options::default(), &backend).await;
    for _ in 0..3 {
        let refused = https_get(t.https, "no.e2e.test", "/", &t.root)
            .await
            .expect_err("a refused name gets no certificate");
        assert!(refused.contains("UnrecognisedName"), "{refused}");
    }
    assert_eq!(ask.calls("no.e2e.test"), 1, "the refusal is remembered");
    assert_eq!(stats(&running).orders_started.load(Ordering::Relaxed), 0);
    assert!(!t.certs.path().join("no.e2e.test").exists());
    assert!(
        !t.pebble.log().contains("no.e2e.test"),
        "Pebble never heard of the name:\n{}",
        t.pebble.log()
    );
    // A refused name gets what it got before on-demand TLS: the DEFAULT_HOST site's own
    // certificate; without that site, `default.crt`. So does a name a CA would refuse, which
    // is not even asked about (which names those are: rules_tests.rs).
    let pki = common::tls::Pki::new();
    let dir = t.certs.path();
    pki.install_in(dir, DEFAULT_HOST, "default-site", &[DEFAULT_HOST]);
    pki.install_in(dir, "default", "default-crt", &["default.invalid"]);
    let client = common::tls::client::Client::new();
    let names = ["no.e2e.test", "localhost"];
    for name in names {
        let served = client.serves_within(t.https, name, "default-site", T).await;
        assert!(
            served.is_some(),
            "{name}: the DEFAULT_HOST site's certificate: {:?}",
            client.get(t.https, name).await
        );
    }
    running.publish(DesiredState::default());
    for name in names {
        let served = client.serves_within(t.https, name, "default-crt", T).await;
        assert!(
            served.is_some(),
            "{name}: default.crt: {:?}",
            client.get(t.https, name).await
        );
    }
    assert_eq!(
        ask.calls("no.e2e.test"),
        1,
        "the refusal is still remembered"
    );
    assert!(ask.calls.lock().unwrap().keys().all(|k| k == "no.e2e.test"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_first_handshakes_share_one_ask_and_one_order() {
    let ask = Ask::start().await;
    let backend = TestBackend::start("main").await;
    let (t, running) = start(&ask, Options::default(), &backend).await;
    let (https, root) = (t.https, t.root.clone());
    let handshakes: Vec<_> = (0..50)
        .map(|_| {
            let root = root.clone();
            tokio::spawn(async move { https_get(https, "burst.e2e.test", "/", &root).await })
        })
        .collect();
    let mut leaves = Vec::new();
    for h in handshakes {
        let reply = h.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "a parallel first handshake failed: {e}; ACME: {:?}",
                stats(&running)
            )
        });
        assert_eq!(
            (reply.status, backend_of(&reply.body)),
            (200, "main".into())
        );
        leaves.push(reply.leaf);
    }
    leaves.dedup();
    assert_eq!(leaves.len(), 1, "one certificate for all");
    assert_eq!(ask.calls("burst.e2e.test"), 1, "one ask call");
    assert_eq!(
        stats(&running).orders_started.load(Ordering::Relaxed),
        1,
        "one order"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_like_the_others_also_after_a_restart() {
    let ask = Ask::start().await;
    let backend = TestBackend::start("main").await;
    let opts = Options {
        validity_secs: Some(12),
        ..Options::default()
    };
    let (mut t, running) = start(&ask, opts, &backend).await;
    let first = first_get(&t, &running, "renew.e2e.test").await;
    running.shutdown().await;

    // A restart with the same settings: the reconciler finds the name in the certificate
    // directory and renews it at 2/3 of its lifetime, without a handshake asking for it. On
    // fresh reserved ports (the old ones, released, may be another test's by now), so Pebble
    // is restarted to validate there (a new Pebble: dockside registers its account again).
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], common::pebble::free_port()));
    let https = std::net::SocketAddr::from(([127, 0, 0, 1], common::pebble::free_port()));
    t.pebble.stop_ca();
    t.pebble.set_validation_ports(http.port(), https.port());
    t.pebble.start_ca().await;
    let root = t.pebble.issuer_root().await;
    let mut config = dockside_config(
        t.certs.path(),
        http,
        https,
        &t.pebble.url,
        &t.pebble.listener_ca,
    );
    config.on_demand = Some(settings(&ask));
    config.defaults.default_host = Some(DEFAULT_HOST.to_owned());
    let running = dockside::app::start(config)
        .await
        .expect("dockside restarts");
    publish(&running, &backend);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let renewed = stats(&running).orders_succeeded.load(Ordering::Relaxed) >= 1;
        if renewed
            && let Ok(reply) = https_get(https, "renew.e2e.test", "/", &root).await
            && reply.leaf != first.leaf
        {
            assert_eq!(sans(&reply), vec!["renew.e2e.test".to_owned()]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not renewed within {T:?}: {:?}",
            stats(&running).snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        stats(&running).status("renew.e2e.test"),
        Some(CertStatus::Valid { .. } | CertStatus::Ordering)
    ));
    assert_eq!(ask.calls("renew.e2e.test"), 1, "renewals do not ask again");
    running.shutdown().await;
}
