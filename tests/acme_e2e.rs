//! ACME end to end through dockside's real listeners: Pebble validates HTTP-01 on dockside's
//! HTTP listener and TLS-ALPN-01 on its HTTPS acceptor (its `httpPort`/`tlsPort` are dockside's
//! ports; no stand-in responder runs), and every issuance ends in an HTTPS request to dockside
//! whose chain verifies against Pebble's root and which the backend answers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::acme::{ThroughDockside, request};
use common::pebble::Options;
use common::responders::{HttpsReply, https_get};
use common::{TestBackend, site};
use dockside::acme::reconciler::CertStatus;
use dockside::app::Running;
use dockside::model::{AcmeChallengeLocation, CertRequest, DesiredState, Site};

const T: Duration = Duration::from_secs(20);

fn publish(running: &Running, sites: Vec<Site>, certificates: Vec<CertRequest>) {
    running.publish(DesiredState {
        sites,
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

fn acme(running: &Running) -> &dockside::acme::reconciler::Stats {
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
