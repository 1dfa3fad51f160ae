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

fn spki(leaf: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(leaf)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec()
}

fn sans(leaf: &[u8]) -> Vec<String> {
    dockside::acme::certinfo::CertInfo::from_der(leaf)
        .unwrap()
        .names
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
async fn restart_reuses_account_and_valid_certificate() {
    let h = harness(Options::default()).await;
    let account = |h: &common::acme::Harness| {
        let path = dockside::acme::storage::CertsDir::new(h.certs.path())
            .account_path(&h.pebble.url, Some("ops@example.test"));
        std::fs::read(path).expect("account stored")
    };
    {
        let mut run = h.run(h.globals(), vec![request(&["keep.example.test"], &[])]);
        run.next_issued(T).await;
    }
    let first_account = account(&h);
    let cert = std::fs::read(h.certs.path().join("keep.example.test/fullchain.pem")).unwrap();
    // "Restart": a new reconciler over the same directory, now also wanting a second host.
    let mut run = h.run(
        h.globals(),
        vec![
            request(&["keep.example.test"], &[]),
            request(&["new.example.test"], &[]),
        ],
    );
    assert_eq!(run.next_issued(T).await, "new.example.test");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.started(), 1, "only the missing certificate was ordered");
    assert_eq!(
        std::fs::read(h.certs.path().join("keep.example.test/fullchain.pem")).unwrap(),
        cert
    );
    assert_eq!(account(&h), first_account, "the stored account was reused");
    let accounts = std::fs::read_dir(h.certs.path().join("accounts"))
        .unwrap()
        .count();
    assert_eq!(accounts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_down_then_up_backs_off_then_succeeds() {
    let mut h = harness(Options {
        start_down: true,
        ..Options::default()
    })
    .await;
    let mut run = h.run(h.globals(), vec![request(&["late.example.test"], &[])]);
    let deadline = tokio::time::Instant::now() + T;
    let error = loop {
        if let (true, Some(CertStatus::Failed { error, .. })) =
            (run.failed() >= 2, run.stats.status("late.example.test"))
        {
            break error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed attempts while the CA is down"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        error.contains("ACME account failed") && error.contains(&h.pebble.url),
        "{error}"
    );
    assert!(run.started() - run.failed() <= 1, "one order at a time");
    h.pebble.start_ca().await;
    assert_eq!(run.next_issued(T).await, "late.example.test");
    verify_served(
        h.certs.path(),
        "late.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    // A restarted Pebble has forgotten our account: the next order registers again.
    let account_path = dockside::acme::storage::CertsDir::new(h.certs.path())
        .account_path(&h.pebble.url, Some("ops@example.test"));
    let old_account = std::fs::read(&account_path).unwrap();
    h.pebble.stop_ca();
    h.pebble.start_ca().await;
    let both = vec![
        request(&["late.example.test"], &[]),
        request(&["after.example.test"], &[]),
    ];
    let state = dockside::model::DesiredState {
        certificates: both,
        ..Default::default()
    };
    run.desired.send_replace(std::sync::Arc::new(state));
    assert_eq!(run.next_issued(T).await, "after.example.test");
    verify_served(
        h.certs.path(),
        "after.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    let new_account = std::fs::read(&account_path).unwrap();
    assert_ne!(new_account, old_account, "re-registered and stored");
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
async fn short_validity_forces_renewal() {
    let h = harness(Options {
        validity_secs: Some(6),
        ..Options::default()
    })
    .await;
    let mut run = h.run(h.globals(), vec![request(&["short.example.test"], &[])]);
    run.next_issued(T).await;
    let root = h.pebble.issuer_root().await;
    let first = verify_served(h.certs.path(), "short.example.test", &root).await;
    assert_eq!(
        run.next_issued(T).await,
        "short.example.test",
        "renewed at 2/3 of 6 s"
    );
    let second = verify_served(h.certs.path(), "short.example.test", &root).await;
    assert_ne!(first, second);
    assert_ne!(
        spki(&first),
        spki(&second),
        "a new key by default (RENEW_PRIVATE_KEYS)"
    );
    assert_eq!(run.started(), 2);
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
async fn renewal_keeps_the_key_when_asked() {
    let h = harness(Options {
        validity_secs: Some(6),
        ..Options::default()
    })
    .await;
    let keep = request(
        &["pinned.example.test"],
        &[("ACME_RENEW_PRIVATE_KEYS", "false")],
    );
    let mut run = h.run(h.globals(), vec![keep]);
    run.next_issued(T).await;
    let key = std::fs::read(h.certs.path().join("pinned.example.test/key.pem")).unwrap();
    run.next_issued(T).await;
    assert_eq!(
        std::fs::read(h.certs.path().join("pinned.example.test/key.pem")).unwrap(),
        key
    );
    verify_served(
        h.certs.path(),
        "pinned.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_follow_the_containers_without_new_orders() {
    let h = harness(Options::default()).await;
    let both = || {
        vec![
            request(&["stay.example.test"], &[]),
            request(&["gone.example.test"], &[]),
        ]
    };
    let mut run = h.run(h.globals(), both());
    run.issued_n(2, T).await;
    let link = h.certs.path().join("gone.example.test.crt");
    let set = |reqs| {
        let state = dockside::model::DesiredState {
            certificates: reqs,
            ..Default::default()
        };
        run.desired.send_replace(std::sync::Arc::new(state));
    };
    set(vec![request(&["stay.example.test"], &[])]);
    let wait = |want: bool| {
        let link = link.clone();
        async move {
            let deadline = tokio::time::Instant::now() + T;
            while std::fs::symlink_metadata(&link).is_ok() != want {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "link present = {want} never happened"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait(false).await;
    assert!(
        h.certs
            .path()
            .join("gone.example.test/fullchain.pem")
            .exists(),
        "folders are kept"
    );
    set(both());
    wait(true).await;
    verify_served(
        h.certs.path(),
        "gone.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    assert_eq!(
        run.started(),
        2,
        "the still-valid certificate was relinked, not re-ordered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_reconciler_and_withdraws_answers() {
    let h = harness(Options::default()).await;
    let mut run = h.run(h.globals(), vec![request(&["first.example.test"], &[])]);
    run.next_issued(T).await;
    // Stop in the middle of the next orders: their answers must not outlive them.
    let more = (0..4)
        .map(|i| request(&[format!("more{i}.example.test").as_str()], &[]))
        .collect();
    let state = dockside::model::DesiredState {
        certificates: more,
        ..Default::default()
    };
    run.desired.send_replace(std::sync::Arc::new(state));
    tokio::time::sleep(Duration::from_millis(15)).await;
    run.stop(Duration::from_secs(2)).await;
    assert_eq!(
        format!("{:?}", h.challenges),
        "Challenges { http01: 0, tls_alpn01: 0 }"
    );
}
