//! ARI under load: at start every ACME certificate is due, and each valid one with an ARI
//! identifier costs a `renewalInfo` GET that a slow CA may hold for the whole HTTP timeout.
//! The reconciler must run those lookups a few at a time beside its loop and keep answering
//! `dockside renew` meanwhile. The CA side is a small double of ONLY the directory and the
//! renewalInfo endpoint (Pebble 2.4 offers no ARI); it holds every renewalInfo answer until
//! the test opens its gate, so the test asserts on order and counts, never on timings.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dockside::acme::{self, AcmeGlobals, CertStatus, Challenges, ReconcilerConfig, renew_channel};
use dockside::model::{CertRequest, DesiredState};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const CERTS: usize = 2_000;
/// Bound of every poll below (a hung reconciler fails the test instead of hanging it).
const BOUND: Duration = Duration::from_secs(120);
/// The window the double suggests: far in the future, so every certificate stays valid.
const WINDOW: (&str, &str) = ("2090-01-01T00:00:00Z", "2090-01-02T00:00:00Z");
const WINDOW_UNIX: (i64, i64) = (3_786_912_000, 3_786_998_400);

fn host(i: usize) -> String {
    format!("h{i}.ari.test")
}

/// Counts of the renewalInfo requests the double saw.
#[derive(Default)]
struct Counts {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    answered: AtomicUsize,
}

/// `GET /directory` names the renewalInfo URL at once; `GET /renewalInfo/<id>` waits until
/// `gate` is true, then suggests `WINDOW`.
async fn ca_double(
    counts: Arc<Counts>,
    gate: watch::Receiver<bool>,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let directory = Bytes::from(format!(r#"{{"renewalInfo":"{origin}/renewalInfo"}}"#));
    let window = Bytes::from(format!(
        r#"{{"suggestedWindow":{{"start":"{}","end":"{}"}}}}"#,
        WINDOW.0, WINDOW.1
    ));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (counts, gate, directory, window) = (
                counts.clone(),
                gate.clone(),
                directory.clone(),
                window.clone(),
            );
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (counts, mut gate, directory, window) = (
                        counts.clone(),
                        gate.clone(),
                        directory.clone(),
                        window.clone(),
                    );
                    async move {
                        let body = if req.uri().path() == "/directory" {
                            directory
                        } else {
                            let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            counts.max_in_flight.fetch_max(now, Ordering::SeqCst);
                            let _ = gate.wait_for(|open| *open).await;
                            counts.in_flight.fetch_sub(1, Ordering::SeqCst);
                            counts.answered.fetch_add(1, Ordering::SeqCst);
                            window
                        };
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("{origin}/directory"), task)
}

/// CERTS valid certificates in acme-companion's layout (`<host>/fullchain.pem`, `key.pem`),
/// each with an Authority Key Identifier so it has an ARI identifier. One leaf key for all:
/// this is set-up, and signing is what makes each certificate (and serial) its own.
fn fill(dir: &std::path::Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let key_pem = key.serialize_pem();
    for i in 0..CERTS {
        let host = host(i);
        let mut leaf = rcgen::CertificateParams::new(vec![host.clone()]).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let base = dir.join(&host);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("fullchain.pem"), cert.pem()).unwrap();
        std::fs::write(base.join("key.pem"), &key_pem).unwrap();
    }
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_is_answered_while_many_ari_lookups_wait_on_a_slow_ca() {
    let certs = tempfile::tempdir().unwrap();
    fill(certs.path());
    let counts = Arc::new(Counts::default());
    let (open, gate) = watch::channel(false);
    let (directory, double) = ca_double(counts.clone(), gate).await;

    let globals = AcmeGlobals {
        ca_url: Some(directory),
        ..AcmeGlobals::default()
    };
    let mut cfg = ReconcilerConfig::new(
        globals,
        certs.path().to_path_buf(),
        Arc::new(Challenges::default()),
        Arc::new(|_: &str| {}),
    );
    // The gate is the slow CA: no request may time out while the test holds it.
    cfg.http_timeout = BOUND;
    let (renewer, inbox) = renew_channel();
    cfg.renew = Some(inbox);
    let stats = cfg.stats.clone();
    let requests = (0..CERTS)
        .map(|i| CertRequest {
            hosts: vec![host(i)],
            settings: Default::default(),
            source: format!("container-{i}"),
        })
        .collect();
    let state = DesiredState {
        certificates: requests,
        ..DesiredState::default()
    };
    let (_desired, desired_rx) = watch::channel(Arc::new(state));
    let cancel = CancellationToken::new();
    let reconciler = acme::spawn(cfg, desired_rx, cancel.clone()).unwrap();

    // Lookups run side by side, and a bounded number of them.
    until("several renewalInfo requests in flight", || {
        counts.in_flight.load(Ordering::SeqCst) > 1
    })
    .await;

    // `dockside renew` is answered while every lookup still waits on the CA.
    let last = host(CERTS - 1);
    let outcome = tokio::time::timeout(BOUND, renewer.renew(vec![last.clone()], false))
        .await
        .expect("renew answered while ARI lookups wait")
        .unwrap();
    assert_eq!(outcome.scheduled, [last]);
    assert_eq!(
        counts.answered.load(Ordering::SeqCst),
        0,
        "the renew reply came before any ARI answer"
    );

    // Then the CA answers: every certificate is looked up and scheduled inside its window.
    open.send(true).unwrap();
    until("every certificate scheduled by its ARI window", || {
        let snapshot = stats.snapshot();
        snapshot.len() == CERTS
            && snapshot.values().all(|s| {
                matches!(s, CertStatus::Valid { renew_at, .. }
                    if (WINDOW_UNIX.0..WINDOW_UNIX.1).contains(renew_at))
            })
    })
    .await;
    assert!(counts.answered.load(Ordering::SeqCst) >= CERTS);
    let max = counts.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=8).contains(&max),
        "renewalInfo requests at once: {max} (expected a few, at most 8)"
    );
    assert_eq!(stats.orders_started.load(Ordering::Relaxed), 0);

    cancel.cancel();
    tokio::time::timeout(BOUND, reconciler)
        .await
        .unwrap()
        .unwrap();
    double.abort();
}
