//! Many certificates (issue 17): a directory of 2,000 pairs and 2,000 sites, the shape of a
//! large fleet at a size a test can afford. Every sampled host is served its own certificate,
//! and one changed pair among them is published without disturbing the others. The figures at
//! 10,000 (start time, memory, handshake rate, publish time) are scripts/bench-10k-certs.sh's.

mod common;

use std::time::Duration;

use common::tls::client::Client;
use common::tls::{Pki, Server, s_client, site};

const PAIRS: usize = 2_000;
/// Generous: one rescan of the directory after the write (events are debounced 150 ms).
const LIMIT: Duration = Duration::from_secs(10);

fn host(i: usize) -> String {
    format!("h{i}.many.test")
}

/// Writes PAIRS pairs straight into the directory (no fsync per file: this is set-up).
fn fill(pki: &Pki) {
    for i in 0..PAIRS {
        let host = host(i);
        let leaf = pki.leaf(&host, &[&host], &rcgen::PKCS_ECDSA_P256_SHA256);
        std::fs::write(pki.certs().join(format!("{host}.key")), leaf.key).unwrap();
        std::fs::write(pki.certs().join(format!("{host}.crt")), leaf.chain).unwrap();
    }
}

/// Every 37th host, and the first and last: each must get its own certificate (CN = host) and
/// be answered as its own site.
async fn check_sample(server: &Server, client: &Client, renewed: (&str, &str)) {
    for i in (0..PAIRS).step_by(37).chain([PAIRS - 1]) {
        let host = host(i);
        let want = if host == renewed.0 { renewed.1 } else { &host };
        let seen = client.get(server.addr, &host).await.unwrap();
        assert_eq!(seen.cn, want, "certificate served for {host}");
        assert!(
            seen.body.contains(&format!("site={host} cert={host} ")),
            "{host}: {}",
            seen.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_pairs_each_host_its_own_and_a_changed_one_published() {
    let pki = Pki::new();
    fill(&pki);
    let sites = (0..PAIRS).map(|i| site(&host(i))).collect();
    let server = Server::start(&pki.certs(), sites).await;
    assert_eq!(
        server.state.load().certs().entries().count(),
        PAIRS,
        "every pair loaded at start"
    );
    let client = Client::new();
    check_sample(&server, &client, ("", "")).await;

    // A real client verifying the chain and the name, for one host deep in the set.
    let middle = host(PAIRS / 2);
    let ca = pki.ca_pem().display().to_string();
    let (verified, out) = s_client(
        server.addr,
        &[
            "-servername",
            &middle,
            "-verify_hostname",
            &middle,
            "-CAfile",
            &ca,
            "-verify_return_error",
        ],
    )
    .await;
    assert!(
        verified && out.contains("Verify return code: 0 (ok)"),
        "{out}"
    );

    // One pair renewed in place (key, then certificate, atomically, as ACME writes it).
    let renewed = host(37 * 33);
    pki.install(&renewed, "renewed", &[&renewed]);
    assert!(
        client
            .serves_within(server.addr, &renewed, "renewed", LIMIT)
            .await
            .is_some(),
        "the changed pair for {renewed} was not served within {LIMIT:?}"
    );
    check_sample(&server, &client, (&renewed, "renewed")).await;

    // A second change to the same host, once the first is settled, is seen too (the rescan
    // that published the first must not vouch for the files it read).
    pki.install(&renewed, "renewed again", &[&renewed]);
    assert!(
        client
            .serves_within(server.addr, &renewed, "renewed again", LIMIT)
            .await
            .is_some(),
        "the second change for {renewed} was not served within {LIMIT:?}"
    );
}
