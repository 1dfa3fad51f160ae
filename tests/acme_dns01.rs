//! DNS-01 over RFC 2136 against a real authoritative server (knotd, on loopback with a TSIG
//! key) and a real Pebble whose validator asks that server (`pebble -dnsserver`): a wildcard +
//! apex certificate through dockside ends in verified TLS handshakes for both names; a key file
//! with the zone found by SOA works per container; a wrong TSIG secret fails naming the zone and
//! places no certificate; the challenge TXT records are gone afterwards. With a secondary knotd
//! in the zone's NS set, the order waits for it: fed by NOTIFY/IXFR it succeeds; never fed, the
//! order fails naming the zone and the secondary, and Pebble is never asked to validate; a
//! stopped secondary is warned about once and not waited for; an NS without any address makes
//! dockside check the primary alone, with one warning naming the zone.

mod common;

use std::time::Duration;

use common::acme::{Harness, ThroughDockside, harness, request};
use common::knot::{Feed, KEY_NAME, KEY_SECRET, Knot};
use common::pebble::Options;
use common::responders::{HttpsReply, https_get, verify_served};
use common::{TestBackend, site};
use dockside::acme::{AcmeGlobals, CertStatus};
use dockside::app::Running;
use dockside::model::DesiredState;

const T: Duration = Duration::from_secs(30);
const OWNER: &str = "_acme-challenge.example.test";

fn sans(leaf: &[u8]) -> Vec<String> {
    let mut names = dockside::certs::CertInfo::from_der(leaf).unwrap().names;
    names.sort();
    names
}

async fn wait_https(t: &ThroughDockside, running: &Running, knot: &Knot, host: &str) -> HttpsReply {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let last = https_get(t.https, host, "/", &t.root).await;
        match last {
            Ok(reply) if reply.status == 200 => return reply,
            _ if tokio::time::Instant::now() > deadline => panic!(
                "no verified HTTPS 200 for {host} within {T:?}: {last:?}; ACME: {:?}\npebble log:\n{}\nknot log:\n{}",
                running.acme.as_ref().map(|s| s.snapshot()),
                t.pebble.log(),
                knot.log()
            ),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_and_apex_certificate_through_dockside() {
    let knot = Knot::start("example.test").await;
    let backend = TestBackend::start("wild").await;
    let opts = Options {
        dns_server: Some(knot.addr),
        ..Options::default()
    };
    let dns_config = knot.dns_api_config(KEY_SECRET);
    let (t, running) = ThroughDockside::start(opts, |c| {
        let acme = c.acme.as_mut().expect("ACME on");
        acme.challenge = Some("DNS-01".into());
        acme.dns_api_config = Some(dns_config);
    })
    .await;
    running.publish(DesiredState {
        sites: vec![
            std::sync::Arc::new(site("a.example.test", &[backend.addr])),
            std::sync::Arc::new(site("example.test", &[backend.addr])),
        ],
        certificates: vec![request(&["*.example.test", "example.test"], &[])],
        ..DesiredState::default()
    });
    for host in ["a.example.test", "example.test"] {
        let reply = wait_https(&t, &running, &knot, host).await;
        assert!(reply.body.contains("wild"), "{host}: {}", reply.body);
        assert_eq!(
            sans(&reply.leaf),
            ["*.example.test", "example.test"],
            "{host}"
        );
    }
    // acme-companion's layout for a wildcard base.
    let base = t.certs.path().join("wildcard_example.test");
    assert!(base.join("fullchain.pem").is_file());
    let link = std::fs::read_link(t.certs.path().join("example.test.crt")).unwrap();
    assert_eq!(
        link,
        std::path::Path::new("./wildcard_example.test/fullchain.pem")
    );
    // Removed before the certificate was written, so already gone.
    assert_eq!(
        knot.txt(OWNER),
        Vec::<String>::new(),
        "challenge records removed"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_container_key_file_and_zone_from_the_soa() {
    let knot = Knot::start("example.test").await;
    let h = harness(Options {
        dns_server: Some(knot.addr),
        ..Options::default()
    })
    .await;
    let key_file = knot.dir.path().join("acme.key");
    std::fs::write(
        &key_file,
        format!(
            "key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{KEY_SECRET}\";\n}};\n"
        ),
    )
    .unwrap();
    // YAML, no NSUPDATE_ZONE: the zone is what the server's SOA names.
    let yaml = format!(
        "DNS_API: dns_nsupdate\nNSUPDATE_SERVER: {}\nNSUPDATE_SERVER_PORT: {}\nNSUPDATE_KEY: {}\n",
        knot.addr.ip(),
        knot.addr.port(),
        key_file.display()
    );
    let req = request(
        &["deep.sub.example.test"],
        &[
            ("ACME_CHALLENGE", "DNS-01"),
            ("ACMESH_DNS_API_CONFIG", &yaml),
        ],
    );
    let mut run = h.run(h.globals(), vec![req]);
    assert_eq!(run.next_issued(T).await, "deep.sub.example.test");
    let leaf = verify_served(
        h.certs.path(),
        "deep.sub.example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    assert_eq!(sans(&leaf), ["deep.sub.example.test"]);
    assert!(knot.txt("_acme-challenge.deep.sub.example.test").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tsig_secret_fails_naming_the_zone() {
    let knot = Knot::start("example.test").await;
    // A valid key, but not the server's.
    let (h, globals) = dns01_harness(&knot, "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==").await;
    let run = h.run(
        globals,
        vec![request(&["*.example.test", "example.test"], &[])],
    );
    let deadline = tokio::time::Instant::now() + T;
    let error = loop {
        if let Some(CertStatus::Failed { error, .. }) = run.stats.status("wildcard_example.test") {
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
        error.contains("zone example.test")
            && error.contains(&knot.addr.to_string())
            && error.contains("BadSig"),
        "zone, server and TSIG error in: {error}"
    );
    assert!(!error.contains("d3Jvbmct"), "never the secret: {error}");
    assert!(!h.certs.path().join("wildcard_example.test").exists());
    assert!(!h.certs.path().join("example.test.crt").exists());
    assert_eq!(
        run.stats
            .orders_succeeded
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(knot.txt(OWNER).is_empty());
}

/// Pebble validating against `knot`, and dockside's ACME settings for DNS-01 through it with
/// the TSIG `secret`.
async fn dns01_harness(knot: &Knot, secret: &str) -> (Harness, AcmeGlobals) {
    let h = harness(Options {
        dns_server: Some(knot.addr),
        ..Options::default()
    })
    .await;
    let mut globals = h.globals();
    globals.challenge = Some("DNS-01".into());
    globals.dns_api_config = Some(knot.dns_api_config(secret));
    (h, globals)
}

/// What Pebble's validator logs when a challenge is handed to it (the CA told to validate).
const PEBBLE_VALIDATES: &str = "Pulled a task from the Tasks queue";

fn wildcard_and_apex() -> Vec<dockside::model::CertRequest> {
    vec![request(&["*.example.test", "example.test"], &[])]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_fed_by_notify_is_waited_for_and_the_order_succeeds() {
    let (primary, secondary) = Knot::start_with_secondary("example.test", Feed::Transfers).await;
    let (h, globals) = dns01_harness(&primary, KEY_SECRET).await;
    let mut run = h.run(globals, wildcard_and_apex());
    assert_eq!(run.next_issued(T).await, "wildcard_example.test");
    let leaf = verify_served(
        h.certs.path(),
        "example.test",
        &h.pebble.issuer_root().await,
    )
    .await;
    assert_eq!(sans(&leaf), ["*.example.test", "example.test"]);
    assert!(
        h.pebble.log().contains(PEBBLE_VALIDATES),
        "the marker the failing case looks for:\n{}",
        h.pebble.log()
    );
    // The secondary follows the primary's removal of the records too (by the next NOTIFY).
    let removed = tokio::time::Instant::now() + T;
    while !secondary.txt(OWNER).is_empty() {
        assert!(
            tokio::time::Instant::now() < removed,
            "records left on the secondary:\n{}",
            secondary.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_that_never_gets_the_record_fails_the_order_before_validation() {
    let (primary, secondary) = Knot::start_with_secondary("example.test", Feed::Never).await;
    let (h, globals) = dns01_harness(&primary, KEY_SECRET).await;
    let run = h.run_with(globals, wildcard_and_apex(), |cfg| {
        cfg.dns_propagation_max = Duration::from_secs(2);
    });
    let deadline = tokio::time::Instant::now() + T;
    let error = loop {
        match run.stats.status("wildcard_example.test") {
            Some(CertStatus::Failed { error, .. }) => break error,
            Some(CertStatus::Valid { .. }) => panic!(
                "issued although {} never had the records: the CA was told to validate too early",
                secondary.addr
            ),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}\nprimary log:\n{}",
            run.stats.snapshot(),
            primary.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let lagging = format!("ns2.example.test ({})", secondary.addr);
    assert!(
        error.contains("zone example.test") && error.contains(&lagging),
        "zone and lagging server {lagging} in: {error}"
    );
    assert!(
        !error.contains(&primary.addr.to_string()),
        "the primary answered: {error}"
    );
    assert!(
        !h.pebble.log().contains(PEBBLE_VALIDATES),
        "Pebble was asked to validate:\n{}",
        h.pebble.log()
    );
    assert!(!h.certs.path().join("wildcard_example.test").exists());
    // The primary had the records (what the old check looked at), and they are removed.
    let removed = tokio::time::Instant::now() + T;
    while !primary.txt(OWNER).is_empty() {
        assert!(tokio::time::Instant::now() < removed, "records left behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.stop(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_ns_address_the_primary_alone_is_checked_with_one_warning() {
    common::logs::capture();
    let knot = Knot::start_with_unresolvable_ns("lame.test").await;
    let (h, globals) = dns01_harness(&knot, KEY_SECRET).await;
    let mut run = h.run(globals, vec![request(&["lame.test"], &[])]);
    assert_eq!(run.next_issued(T).await, "lame.test");
    let fallback: Vec<String> = common::logs::text()
        .lines()
        .filter(|l| {
            l.contains("cannot find the zone's authoritative servers") && l.contains("lame.test")
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(
        fallback.len(),
        1,
        "one warning naming the zone: {fallback:?}\n{}",
        common::logs::text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_secondary_is_warned_about_and_not_waited_for() {
    common::logs::capture();
    let (primary, secondary) = Knot::start_with_secondary("gone.test", Feed::Never).await;
    let gone = secondary.addr;
    drop(secondary); // knotd killed: its address refuses connections
    let (h, globals) = dns01_harness(&primary, KEY_SECRET).await;
    let mut run = h.run(globals, vec![request(&["gone.test"], &[])]);
    assert_eq!(run.next_issued(T).await, "gone.test");
    let shown = format!("ns2.gone.test ({gone})");
    let warned = common::logs::text()
        .lines()
        .filter(|l| l.contains("is unreachable") && l.contains(&shown))
        .count();
    assert_eq!(
        warned,
        1,
        "one warning naming {shown}:\n{}",
        common::logs::text()
    );
}
