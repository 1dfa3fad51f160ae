//! One ACME order at a time (`acme::order::Issuer`) against real Pebble.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::pebble::{Options, Pebble};
use common::responders;
use dockside::acme::challenge::Challenges;
use dockside::acme::order::Issuer;
use dockside::acme::spec::{ChallengeKind, KeyType, OrderSpec};
use dockside::acme::storage::CertsDir;

struct Env {
    pebble: Pebble,
    challenges: Arc<Challenges>,
    certs: tempfile::TempDir,
    _responders: (responders::Task, responders::Task),
}

async fn env(opts: Options) -> Env {
    let challenges = Arc::new(Challenges::default());
    let (http_port, h) = responders::http01(challenges.clone()).await;
    let (tls_port, t) = responders::tls_alpn01(challenges.clone()).await;
    let pebble = Pebble::start(http_port, tls_port, opts).await;
    Env {
        pebble,
        challenges,
        certs: tempfile::tempdir().unwrap(),
        _responders: (h, t),
    }
}

impl Env {
    fn issuer(&self) -> Issuer {
        let store = CertsDir::new(self.certs.path());
        Issuer::new(
            self.pebble.http(),
            store,
            self.challenges.clone(),
            Duration::from_secs(20),
        )
    }

    fn spec(&self, hosts: &[&str]) -> OrderSpec {
        OrderSpec {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            base_dir_name: hosts[0].to_string(),
            email: Some("ops@example.test".into()),
            ca_url: self.pebble.url.clone(),
            key_type: KeyType::EcP256,
            challenge: ChallengeKind::Http01,
            renew_after_days: None,
            eab: None,
            source: "test".into(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_order_verifies_against_pebble_root() {
    let env = env(Options::default()).await;
    let issued = env
        .issuer()
        .issue(&env.spec(&["one.example.test"]))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", env.pebble.log()));
    eprintln!("order took {:?}", issued.elapsed);
    let root = env.pebble.issuer_root().await;
    responders::verify_served(env.certs.path(), "one.example.test", &root).await;
    assert_eq!(
        format!("{:?}", env.challenges),
        "Challenges { http01: 0, tls_alpn01: 0 }",
        "answers removed"
    );
}
