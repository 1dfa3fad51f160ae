//! ACME against a real Pebble, in three layers. The reconciler alone (Pebble validates through
//! stand-in responders): HTTP-01, TLS-ALPN-01, SANs, key types, EAB, bad nonces, parallel orders,
//! each flow ending in a TLS handshake with the written files that verifies against Pebble's
//! issuing root. Its lifecycle: restarts, CA outages, renewal, links following the containers,
//! cancellation. Then dockside end to end: Pebble validates HTTP-01 on dockside's HTTP listener
//! and TLS-ALPN-01 on its HTTPS acceptor (its `httpPort`/`tlsPort` are dockside's ports; no
//! stand-in responder runs), and every issuance ends in an HTTPS request to dockside whose chain
//! verifies against Pebble's root and which the backend answers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::acme::{ThroughDockside, harness, request};
use common::pebble::{EAB_HMAC, EAB_KID, Options};
use common::responders::{HttpsReply, https_get, verify_served};
use common::{TestBackend, site};
use dockside::acme::{CertStatus, Eab};
use dockside::app::Running;
use dockside::model::{AcmeChallengeLocation, CertRequest, DesiredState, Site};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

const T: Duration = Duration::from_secs(20);

fn sans(leaf: &[u8]) -> Vec<String> {
    dockside::certs::CertInfo::from_der(leaf).unwrap().names
}

fn spki(leaf: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(leaf)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec()
}

// The reconciler alone.

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
        dockside::acme::renewal_info_url(&h.pebble.http(), &h.pebble.url)
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
    // The status is recorded before the write is announced, so it is read at once.
    let fine = run.stats.status("fine.example.test");
    assert!(
        matches!(fine, Some(CertStatus::Valid { .. })),
        "fine.example.test is announced but its status is {fine:?}"
    );
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

// Its lifecycle: restarts, outages, renewal, links, cancellation.

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
        "renewed at 2/3 of 6 s, plus its spread (up to 0.6 s)"
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

// dockside end to end: Pebble validates through its real listeners.

fn publish(running: &Running, sites: Vec<Site>, certificates: Vec<CertRequest>) {
    running.publish(DesiredState {
        sites: sites.into_iter().map(std::sync::Arc::new).collect(),
        certificates,
        ..DesiredState::default()
    });
}

/// Polls HTTPS until a verified 200 (the certificate is live), within `T`.
async fn wait_https(t: &ThroughDockside, running: &Running, host: &str) -> HttpsReply {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let last = https_get(t.https, host, "/", &t.root).await;
        match last {
            Ok(reply) if reply.status == 200 => return reply,
            _ if tokio::time::Instant::now() > deadline => panic!(
                "no verified HTTPS 200 for {host} within {T:?}: {last:?}; ACME: {:?}; pebble log:\n{}",
                running.acme.as_ref().map(|s| s.snapshot()),
                t.pebble.log()
            ),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Plain-HTTP GET to dockside's HTTP listener with this Host: (status, body).
async fn http_get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let req = http::Request::get(format!("http://{addr}{path}"))
        .header("host", host)
        .body(common::empty_body())
        .unwrap();
    let reply = tokio::time::timeout(common::WAIT, common::client().request(req))
        .await
        .expect("answer within WAIT")
        .expect("HTTP answer");
    let status = reply.status().as_u16();
    let body = http_body_util::BodyExt::collect(reply.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn backend_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["backend"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

fn acme(running: &Running) -> &dockside::acme::Stats {
    running.acme.as_deref().expect("ACME on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_through_the_http_listener_then_https_to_the_backend() {
    let backend = TestBackend::start("web").await;
    let (t, running) = ThroughDockside::start(Options::default(), |_| {}).await;
    let web = site("web.e2e.test", &[backend.addr]);
    // `ACME_HTTP_CHALLENGE_LOCATION=false` + `HTTPS_METHOD=nohttp`: no ACME location, no HTTP
    // server — yet dockside answers its own pending tokens, so its own order still succeeds.
    let mut quiet = site("quiet.e2e.test", &[backend.addr]);
    quiet.acme_http_challenge = Some(AcmeChallengeLocation::Disabled);
    quiet.https_method = Some(dockside::model::HttpsMethod::NoHttp);
    let mut plain = site("plain.e2e.test", &[backend.addr]);
    plain.acme_http_challenge = Some(AcmeChallengeLocation::Disabled);
    publish(
        &running,
        vec![web, quiet, plain],
        vec![
            request(&["web.e2e.test"], &[]),
            request(&["quiet.e2e.test"], &[]),
        ],
    );
    for host in ["web.e2e.test", "quiet.e2e.test"] {
        let reply = wait_https(&t, &running, host).await;
        assert_eq!(backend_of(&reply.body), "web", "{host}: {}", reply.body);
    }
    assert_eq!(acme(&running).orders_succeeded.load(Ordering::Relaxed), 2);
    // acme-companion's layout.
    let base = t.certs.path().join("web.e2e.test");
    for f in ["cert.pem", "key.pem", "chain.pem", "fullchain.pem"] {
        assert!(base.join(f).is_file(), "{f} written");
    }
    let link = std::fs::read_link(t.certs.path().join("web.e2e.test.crt")).unwrap();
    assert_eq!(link, std::path::Path::new("./web.e2e.test/fullchain.pem"));
    // The challenge path on the real listener for tokens that are not ours (port ignored):
    let (status, body) = http_get(
        t.http,
        "web.e2e.test:80",
        "/.well-known/acme-challenge/not-ours",
    )
    .await;
    assert_eq!(
        (status, backend_of(&body)),
        (404, String::new()),
        "ACME location answers 404 itself"
    );
    let (status, body) = http_get(t.http, "plain.e2e.test", "/.well-known/acme-challenge/x").await;
    assert_eq!(
        (status, backend_of(&body)),
        (200, "web".into()),
        "location off: the backend answers"
    );
    let (status, _) = http_get(t.http, "nobody.e2e.test", "/.well-known/acme-challenge/x").await;
    assert_eq!(status, 503, "unknown host without ACCEPT_UNKNOWN_HOST");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hosts_get_the_acme_location_when_accepted() {
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.acme_accept_unknown_host = true;
    })
    .await;
    let (status, body) = http_get(t.http, "nobody.e2e.test", "/.well-known/acme-challenge/x").await;
    assert_eq!((status, body.as_str()), (404, "404 Not Found\n"));
    let (status, _) = http_get(t.http, "nobody.e2e.test", "/other").await;
    assert_eq!(status, 503, "only the challenge path");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn01_through_the_https_acceptor() {
    let backend = TestBackend::start("alpn").await;
    let (mut t, running) = ThroughDockside::start(Options::default(), |_| {}).await;
    // Prove the path: Pebble's HTTP-01 port now leads nowhere, only dockside's HTTPS answers.
    t.pebble.stop_ca();
    t.pebble
        .set_validation_ports(common::dead_addr().port(), t.https.port());
    t.pebble.start_ca().await;
    t.root = t.pebble.issuer_root().await;
    publish(
        &running,
        vec![site("alpn.e2e.test", &[backend.addr])],
        vec![request(
            &["alpn.e2e.test"],
            &[("ACME_CHALLENGE", "TLS-ALPN-01")],
        )],
    );
    let reply = wait_https(&t, &running, "alpn.e2e.test").await;
    assert_eq!(backend_of(&reply.body), "alpn");
    assert_eq!(acme(&running).orders_succeeded.load(Ordering::Relaxed), 1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_name_fails_with_the_ca_reason_and_stays_on_http() {
    let backend = TestBackend::start("b").await;
    let opts = Options {
        blocklist: vec!["blocked.e2e.test".into()],
        ..Options::default()
    };
    let (t, running) = ThroughDockside::start(opts, |_| {}).await;
    publish(
        &running,
        vec![
            site("ok.e2e.test", &[backend.addr]),
            site("blocked.e2e.test", &[backend.addr]),
        ],
        vec![
            request(&["ok.e2e.test"], &[]),
            request(&["blocked.e2e.test"], &[]),
        ],
    );
    wait_https(&t, &running, "ok.e2e.test").await;
    let deadline = tokio::time::Instant::now() + T;
    let error = loop {
        if let Some(CertStatus::Failed { error, .. }) = acme(&running).status("blocked.e2e.test") {
            break error;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failure status");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        error.contains("blocked.e2e.test")
            && error.contains(&t.pebble.url)
            && error.contains("urn:ietf:params:acme:error:rejectedIdentifier"),
        "hosts, CA and the CA's problem in: {error}"
    );
    // No certificate: served over HTTP (ENABLE_HTTP_ON_MISSING_CERT), TLS refused cleanly —
    // never with ok.e2e.test's certificate.
    let (status, body) = http_get(t.http, "blocked.e2e.test", "/").await;
    assert_eq!((status, backend_of(&body)), (200, "b".into()));
    let refused = https_get(t.https, "blocked.e2e.test", "/", &t.root)
        .await
        .expect_err("no TLS without a certificate");
    assert!(refused.contains("UnrecognisedName"), "{refused}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_while_requests_keep_flowing() {
    let backend = TestBackend::start("r").await;
    let opts = Options {
        validity_secs: Some(6),
        ..Options::default()
    };
    let (t, running) = ThroughDockside::start(opts, |_| {}).await;
    publish(
        &running,
        vec![site("renew.e2e.test", &[backend.addr])],
        vec![request(&["renew.e2e.test"], &[])],
    );
    let first = wait_https(&t, &running, "renew.e2e.test").await.leaf;
    let (mut leaves, mut requests, mut failures) = (vec![first], 0u32, Vec::new());
    let deadline = tokio::time::Instant::now() + T;
    // New connection per request: each handshake picks up whatever certificate is live.
    while leaves.len() < 3 && tokio::time::Instant::now() < deadline {
        requests += 1;
        match https_get(t.https, "renew.e2e.test", "/", &t.root).await {
            Ok(r) if r.status == 200 => {
                if leaves.last() != Some(&r.leaf) {
                    leaves.push(r.leaf);
                }
            }
            other => failures.push(format!("{other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(
        leaves.len(),
        3,
        "two renewals of a 6 s certificate in {T:?}"
    );
    assert!(acme(&running).orders_succeeded.load(Ordering::Relaxed) >= 3);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reuses_account_and_certificate() {
    let backend = TestBackend::start("k").await;
    let (t, running) = ThroughDockside::start(Options::default(), |_| {}).await;
    let want = || {
        (
            vec![site("keep.e2e.test", &[backend.addr])],
            vec![request(&["keep.e2e.test"], &[])],
        )
    };
    let (sites, certs) = want();
    publish(&running, sites, certs);
    let leaf = wait_https(&t, &running, "keep.e2e.test").await.leaf;
    let accounts = t.certs.path().join("accounts");
    let account_files = |dir: &std::path::Path| -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                match e.file_type().unwrap().is_dir() {
                    true => stack.push(e.path()),
                    false => files.push(std::fs::read(e.path()).unwrap()),
                }
            }
        }
        files.sort();
        files
    };
    let before = account_files(&accounts);
    assert!(!before.is_empty(), "account stored under the certs dir");
    running.shutdown().await;

    let running = t.restart().await;
    let (sites, certs) = want();
    publish(&running, sites, certs);
    let again = wait_https(&t, &running, "keep.e2e.test").await;
    assert_eq!(again.leaf, leaf, "the stored certificate is served at once");
    let deadline = tokio::time::Instant::now() + T;
    while !matches!(
        acme(&running).status("keep.e2e.test"),
        Some(CertStatus::Valid { .. })
    ) {
        assert!(tokio::time::Instant::now() < deadline, "never judged valid");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        acme(&running).orders_started.load(Ordering::Relaxed),
        0,
        "no new order for a valid certificate"
    );
    assert_eq!(account_files(&accounts), before, "the account was reused");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_per_hour_bound_defers_the_third_certificate() {
    let h = harness(Options::default()).await;
    let globals = dockside::acme::AcmeGlobals {
        max_orders_per_hour: Some(2),
        ..h.globals()
    };
    let hosts = ["q0.example.test", "q1.example.test", "q2.example.test"];
    let reqs = hosts.iter().map(|host| request(&[host], &[])).collect();
    let mut run = h.run(globals, reqs);
    assert_eq!(run.issued_n(2, T).await.len(), 2);
    // The third is due at once but the account's bucket (2) is empty: it waits for a token
    // (30 minutes at 2 an hour) instead of ordering.
    let deferred = common::tls::within(T, || async {
        hosts.iter().any(|b| {
            matches!(
                run.stats.status(b),
                Some(CertStatus::Deferred { retry_in }) if retry_in > Duration::from_secs(60)
            )
        })
    })
    .await;
    assert!(deferred.is_some(), "{:?}", run.stats.snapshot());
    assert_eq!(run.started(), 2, "no third order within the hour's budget");
}
