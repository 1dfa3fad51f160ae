//! Certificate lifecycle against real Pebble: restarts, CA outages, renewal, links following
//! the containers, cancellation. Each issuance is verified by a TLS handshake against Pebble's root.

mod common;

use std::time::Duration;

use common::acme::{harness, request};
use common::pebble::Options;
use common::responders::verify_served;
use dockside::acme::reconciler::CertStatus;
use x509_parser::prelude::{FromDer, X509Certificate};

const T: Duration = Duration::from_secs(20);

fn spki(leaf: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(leaf)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reuses_account_and_valid_certificate() {
    let h = harness(Options::default()).await;
    let account = |h: &common::acme::Harness| {
        let path = dockside::certs::CertsDir::new(h.certs.path())
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
    let account_path = dockside::certs::CertsDir::new(h.certs.path())
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
