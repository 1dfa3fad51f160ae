//! One ACME order at a time (`acme::Issuer`) against real Pebble.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::pebble::{EAB_HMAC, EAB_KID};
use common::pebble::{Options, Pebble};
use common::responders;
use dockside::acme::{ChallengeKind, Challenges, Eab, Issuer, KeyType, OrderSpec, Step};
use dockside::certs::CertsDir;

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
            dns: None,
            challenge: ChallengeKind::Http01,
            renew_after_days: None,
            eab: None,
            reuse_key: false,
            source: "test".into(),
            hooks: Default::default(),
            restart_container: false,
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
    eprintln!(
        "first order (account registration included) took {:?}",
        issued.elapsed
    );
    let again = env
        .issuer()
        .issue(&env.spec(&["two.example.test", "three.example.test"]))
        .await
        .unwrap();
    eprintln!(
        "second order (stored account, 2 hosts) took {:?}",
        again.elapsed
    );
    let root = env.pebble.issuer_root().await;
    responders::verify_served(env.certs.path(), "one.example.test", &root).await;
    assert_eq!(
        format!("{:?}", env.challenges),
        "Challenges { http01: 0, tls_alpn01: 0 }",
        "answers removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_name_fails_with_the_cas_reason() {
    let env = env(Options {
        blocklist: vec!["blocked.example.test".into()],
        ..Options::default()
    })
    .await;
    let err = env
        .issuer()
        .issue(&env.spec(&["blocked.example.test"]))
        .await
        .unwrap_err();
    let problem = err.problem().expect("the CA's problem document");
    assert!(problem.is("rejectedIdentifier"), "{err}");
    assert_eq!(err.step, Step::Order);
    assert_eq!(err.hosts, ["blocked.example.test"]);
    assert_eq!(err.ca, env.pebble.url);
    let line = err.to_string();
    assert!(
        line.contains("blocked.example.test")
            && line.contains("rejectedIdentifier")
            && line.contains("ACME order failed"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eab_required_without_credentials_fails_at_the_account_step() {
    let env = env(Options {
        eab: true,
        ..Options::default()
    })
    .await;
    let err = env
        .issuer()
        .issue(&env.spec(&["noeab.example.test"]))
        .await
        .unwrap_err();
    assert_eq!(err.step, Step::Account, "{err}");
    assert!(
        err.problem()
            .is_some_and(|p| p.is("externalAccountRequired")),
        "{err}"
    );
    let mut spec = env.spec(&["eab.example.test"]);
    spec.eab = Some(Eab {
        kid: EAB_KID.into(),
        hmac_key: EAB_HMAC.into(),
    });
    env.issuer()
        .issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_challenge_names_the_host_and_cleans_up() {
    // A TLS-ALPN-01 order whose validation certificate is withdrawn before Pebble connects:
    // answering the wrong challenge type is the easiest way to make validation fail.
    let env = env(Options::default()).await;
    let mut spec = env.spec(&["nobody.example.test"]);
    spec.challenge = ChallengeKind::TlsAlpn01;
    let challenges = env.challenges.clone();
    // Poison the acceptor: every validation cert lookup misses.
    let sweeper = tokio::spawn(async move {
        loop {
            challenges.remove_tls_alpn01("nobody.example.test");
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    });
    let err = env.issuer().issue(&spec).await.unwrap_err();
    sweeper.abort();
    assert_eq!(err.step, Step::Challenge, "{err}");
    let problem = err.problem().expect("the CA's problem document");
    assert_eq!(
        problem.identifier.as_deref(),
        Some("nobody.example.test"),
        "{err}"
    );
    assert_eq!(
        format!("{:?}", env.challenges),
        "Challenges { http01: 0, tls_alpn01: 0 }"
    );
}
