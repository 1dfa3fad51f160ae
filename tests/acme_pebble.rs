//! The ACME reconciler end to end against real Pebble: each flow ends in a TLS handshake with
//! the written files that verifies against Pebble's issuing root.

mod common;

use std::time::Duration;

use common::acme::{harness, request};
use common::pebble::{EAB_HMAC, EAB_KID, Options};
use common::responders::verify_served;
use dockside::acme::reconciler::CertStatus;
use dockside::acme::spec::Eab;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

const T: Duration = Duration::from_secs(20);

fn sans(leaf: &[u8]) -> Vec<String> {
    dockside::certs::CertInfo::from_der(leaf).unwrap().names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_certificate_is_written_nudged_and_verifies() {
    let h = harness(Options::default()).await;
    let mut run = h.run(h.globals(), vec![request(&["app.example.test"], &[])]);
    assert_eq!(run.next_issued(T).await, "app.example.test");
    let leaf = verify_served(
        h.certs.path(),
        "app.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    assert_eq!(sans(&leaf), ["app.example.test"]);
    assert_eq!(run.started(), 1);
    // Pebble 2.4 offers no ARI: the directory has no renewalInfo.
    assert_eq!(
        dockside::acme::ari::renewal_info_url(&h.pebble.http(), &h.pebble.url)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn01_certificate_verifies() {
    let h = harness(Options::default()).await;
    let mut run = h.run(
        h.globals(),
        vec![request(
            &["alpn.example.test"],
            &[("ACME_CHALLENGE", "TLS-ALPN-01")],
        )],
    );
    assert_eq!(run.next_issued(T).await, "alpn.example.test");
    verify_served(
        h.certs.path(),
        "alpn.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    assert_eq!(
        format!("{:?}", h.challenges),
        "Challenges { http01: 0, tls_alpn01: 0 }"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_host_san_and_single_domain_certificates() {
    let h = harness(Options::default()).await;
    let san = request(&["a.example.test", "b.example.test", "c.example.test"], &[]);
    // Single-domain mode: the settings module emits one request per host.
    let single = vec![
        request(&["x.example.test"], &[]),
        request(&["y.example.test"], &[]),
    ];
    let mut run = h.run(h.globals(), [vec![san], single].concat());
    let bases = run.issued_n(3, T).await;
    assert_eq!(
        bases,
        ["a.example.test", "x.example.test", "y.example.test"]
    );
    let root = h.pebble.issuer_root().await;
    for host in ["a.example.test", "b.example.test", "c.example.test"] {
        let leaf = verify_served(h.certs.path(), host, &root).await;
        assert_eq!(
            sans(&leaf),
            ["a.example.test", "b.example.test", "c.example.test"]
        );
    }
    for host in ["x.example.test", "y.example.test"] {
        assert_eq!(
            sans(&verify_served(h.certs.path(), host, &root).await),
            [host]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ec_keys() {
    let h = harness(Options::default()).await;
    let reqs = vec![
        request(&["ec256.example.test"], &[]),
        request(&["ec384.example.test"], &[("ACME_KEYSIZE", "ec-384")]),
        request(&["rsa.example.test"], &[("LETSENCRYPT_KEYSIZE", "2048")]),
    ];
    let mut run = h.run(h.globals(), reqs);
    run.issued_n(3, T).await;
    let root = h.pebble.issuer_root().await;
    for (host, want) in [
        ("ec256.example.test", "EC 256"),
        ("ec384.example.test", "EC 384"),
        ("rsa.example.test", "RSA 2048"),
    ] {
        let leaf = verify_served(h.certs.path(), host, &root).await;
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        let got = match cert.public_key().parsed().unwrap() {
            PublicKey::RSA(k) => format!("RSA {}", k.key_size()),
            PublicKey::EC(p) => format!("EC {}", p.key_size()),
            other => format!("{other:?}"),
        };
        assert_eq!(got, want, "{host}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_name_fails_while_other_hosts_get_theirs() {
    let h = harness(Options {
        blocklist: vec!["blocked.example.test".into()],
        ..Options::default()
    })
    .await;
    let reqs = vec![
        request(&["blocked.example.test"], &[]),
        request(&["fine.example.test"], &[]),
    ];
    let mut run = h.run(h.globals(), reqs);
    assert_eq!(run.next_issued(T).await, "fine.example.test");
    verify_served(
        h.certs.path(),
        "fine.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    let deadline = tokio::time::Instant::now() + T;
    let error = loop {
        if let Some(CertStatus::Failed { error, .. }) = run.stats.status("blocked.example.test") {
            break error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            run.stats.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        error.contains("blocked.example.test") && error.contains("rejectedIdentifier"),
        "{error}"
    );
    assert!(matches!(
        run.stats.status("fine.example.test"),
        Some(CertStatus::Valid { .. })
    ));
    assert!(!h.certs.path().join("blocked.example.test").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eab_account_registration() {
    let h = harness(Options {
        eab: true,
        ..Options::default()
    })
    .await;
    let mut globals = h.globals();
    globals.eab = Some(Eab {
        kid: EAB_KID.into(),
        hmac_key: EAB_HMAC.into(),
    });
    let mut run = h.run(globals, vec![request(&["eab.example.test"], &[])]);
    assert_eq!(run.next_issued(T).await, "eab.example.test");
    verify_served(
        h.certs.path(),
        "eab.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_nonces_are_retried() {
    let h = harness(Options {
        nonce_reject: 30,
        ..Options::default()
    })
    .await;
    let reqs = vec![
        request(&["n1.example.test"], &[]),
        request(&["n2.example.test", "n3.example.test"], &[]),
    ];
    let mut run = h.run(h.globals(), reqs);
    assert_eq!(
        run.issued_n(2, T).await,
        ["n1.example.test", "n2.example.test"]
    );
    let root = h.pebble.issuer_root().await;
    verify_served(h.certs.path(), "n3.example.test", &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_certificates_two_orders_at_a_time() {
    use std::sync::atomic::Ordering::Relaxed;
    let h = harness(Options::default()).await;
    let hosts: Vec<String> = (0..10).map(|i| format!("c{i}.example.test")).collect();
    let reqs = hosts
        .iter()
        .map(|host| request(&[host.as_str()], &[]))
        .collect();
    let started = std::time::Instant::now();
    let mut run = h.run(h.globals(), reqs);
    let stats = run.stats.clone();
    let watcher = tokio::spawn(async move {
        let mut max = 0;
        while stats.orders_succeeded.load(Relaxed) + stats.orders_failed.load(Relaxed) < 10 {
            let done = stats.orders_succeeded.load(Relaxed) + stats.orders_failed.load(Relaxed);
            max = max.max(stats.orders_started.load(Relaxed) - done);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        max
    });
    let bases = run.issued_n(10, T).await;
    eprintln!("10 certificates in {:?}", started.elapsed());
    assert_eq!(bases.len(), 10);
    assert!(
        watcher.await.unwrap() <= 2,
        "at most max_parallel orders at once"
    );
    assert_eq!(run.started(), 10);
    let root = h.pebble.issuer_root().await;
    verify_served(h.certs.path(), "c7.example.test", &root).await;
}
