//! A running ACME reconciler against a real Pebble: feed it `CertRequest`s, await the
//! "certificate written" nudges, inspect its counters.

use std::sync::Arc;
use std::time::Duration;

use dockside::acme::{
    self, AcmeGlobals, Backoff, Challenges, Issuer, OnIssued, OrderSpec, ReconcilerConfig, Stats,
};
use dockside::certs::CertsDir;
use dockside::model::{CertRequest, DesiredState};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::pebble::{Options, Pebble};
use super::responders::{self, Task};

pub struct Harness {
    pub pebble: Pebble,
    pub challenges: Arc<Challenges>,
    pub certs: tempfile::TempDir,
    _responders: (Task, Task),
}

pub struct Running {
    pub issued: mpsc::UnboundedReceiver<String>,
    pub desired: watch::Sender<Arc<DesiredState>>,
    pub stats: Arc<Stats>,
    cancel: CancellationToken,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn harness(opts: Options) -> Harness {
    let challenges = Arc::new(Challenges::default());
    let (http_port, h) = responders::http01(challenges.clone()).await;
    let (tls_port, t) = responders::tls_alpn01(challenges.clone()).await;
    let pebble = Pebble::start(http_port, tls_port, opts).await;
    Harness {
        pebble,
        challenges,
        certs: tempfile::tempdir().unwrap(),
        _responders: (h, t),
    }
}

/// A `CertRequest` as the settings module produces it.
pub fn request(hosts: &[&str], settings: &[(&str, &str)]) -> CertRequest {
    CertRequest {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        source: format!("container-{}", hosts[0]),
    }
}

impl Harness {
    /// One order at a time, without the reconciler.
    pub fn issuer(&self) -> Issuer {
        let store = CertsDir::new(self.certs.path());
        Issuer::new(
            self.pebble.http(),
            store,
            self.challenges.clone(),
            Duration::from_secs(60),
        )
    }

    /// An HTTP-01 order for `hosts` (EC P-256) from this Pebble; the first host names the directory.
    pub fn spec(&self, hosts: &[&str]) -> OrderSpec {
        OrderSpec {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            base_dir_name: hosts[0].to_string(),
            email: Some("ops@example.test".into()),
            ca_url: self.pebble.url.clone(),
            source: format!("container-{}", hosts[0]),
            ..OrderSpec::default()
        }
    }

    pub fn globals(&self) -> AcmeGlobals {
        AcmeGlobals {
            email: Some("ops@example.test".into()),
            ca_url: Some(self.pebble.url.clone()),
            ca_bundle: Some(self.pebble.listener_ca.clone()),
            ..AcmeGlobals::default()
        }
    }

    /// Starts a reconciler over `requests` with test-speed backoff.
    pub fn run(&self, globals: AcmeGlobals, requests: Vec<CertRequest>) -> Running {
        self.run_with(globals, requests, |_| {})
    }

    /// `run`, with `tweak` applied to the reconciler's settings last.
    pub fn run_with(
        &self,
        globals: AcmeGlobals,
        requests: Vec<CertRequest>,
        tweak: impl FnOnce(&mut ReconcilerConfig),
    ) -> Running {
        let (tx, rx) = mpsc::unbounded_channel();
        let on_issued: OnIssued = Arc::new(move |base: &str| {
            let _ = tx.send(base.to_owned());
        });
        let mut cfg = ReconcilerConfig::new(
            globals,
            self.certs.path().to_path_buf(),
            self.challenges.clone(),
            on_issued,
        );
        cfg.backoff = Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
        };
        cfg.http_timeout = Duration::from_secs(10);
        tweak(&mut cfg);
        let stats = cfg.stats.clone();
        let state = DesiredState {
            certificates: requests,
            ..DesiredState::default()
        };
        let (desired, desired_rx) = watch::channel(Arc::new(state));
        let cancel = CancellationToken::new();
        let handle = acme::spawn(cfg, desired_rx, cancel.clone()).expect("CA_BUNDLE loads");
        Running {
            issued: rx,
            desired,
            stats,
            cancel,
            handle: Some(handle),
        }
    }
}

impl Running {
    /// Cancels the reconciler and waits for its task to end.
    pub async fn stop(mut self, within: Duration) {
        self.cancel.cancel();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(within, handle)
            .await
            .expect("reconciler stops promptly")
            .unwrap();
    }

    /// The next base directory written, or a panic naming what we waited for.
    pub async fn next_issued(&mut self, within: Duration) -> String {
        match tokio::time::timeout(within, self.issued.recv()).await {
            Ok(Some(base)) => base,
            _ => panic!("no certificate within {within:?} (stats: {:?})", self.stats),
        }
    }

    /// Waits for `n` writes and returns their bases sorted.
    pub async fn issued_n(&mut self, n: usize, within: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.next_issued(within).await);
        }
        out.sort();
        out
    }

    pub fn started(&self) -> u64 {
        self.stats
            .orders_started
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.stats
            .orders_failed
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// dockside itself (real HTTP listener, real TLS acceptor, ACME reconciler from `app::start`)
/// validated by a real Pebble whose `httpPort`/`tlsPort` are dockside's listener ports.
pub struct ThroughDockside {
    pub pebble: Pebble,
    pub certs: tempfile::TempDir,
    pub http: std::net::SocketAddr,
    pub https: std::net::SocketAddr,
    /// Pebble's issuing root (`/roots/0`), what clients verify dockside's chain against.
    pub root: String,
}

/// dockside's config for `certs`, ACME pointed at `ca_url` trusting `ca_bundle`.
pub fn dockside_config(
    certs: &std::path::Path,
    http: std::net::SocketAddr,
    https: std::net::SocketAddr,
    ca_url: &str,
    ca_bundle: &std::path::Path,
) -> dockside::config::Config {
    let mut config = dockside::test_support::config(certs.to_path_buf());
    config.http = http;
    config.https = Some(https);
    config.acme = Some(AcmeGlobals {
        email: Some("ops@example.test".into()),
        ca_url: Some(ca_url.to_owned()),
        ca_bundle: Some(ca_bundle.to_path_buf()),
        ..AcmeGlobals::default()
    });
    config
}

impl ThroughDockside {
    /// Starts dockside on 127.0.0.1:0 (no site yet, so the reconciler has nothing to do), then
    /// Pebble validating against dockside's actual ports. Publish sites afterwards.
    pub async fn start(
        opts: Options,
        tweak: impl FnOnce(&mut dockside::config::Config),
    ) -> (ThroughDockside, dockside::app::Running) {
        let certs = tempfile::tempdir().unwrap();
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        // Pebble prepared but down: its URL and listener CA exist, its validation ports not yet.
        let mut pebble = Pebble::start(
            0,
            0,
            Options {
                start_down: true,
                ..opts
            },
        )
        .await;
        let mut config = dockside_config(
            certs.path(),
            listen,
            listen,
            &pebble.url,
            &pebble.listener_ca,
        );
        tweak(&mut config);
        let running = dockside::app::start(config).await.expect("dockside starts");
        let (http, https) = (running.http_addr, running.https_addr.expect("HTTPS on"));
        pebble.set_validation_ports(http.port(), https.port());
        pebble.start_ca().await;
        let root = pebble.issuer_root().await;
        let this = ThroughDockside {
            pebble,
            certs,
            http,
            https,
            root,
        };
        (this, running)
    }

    /// A second dockside over the same certs dir and ports (a restart).
    pub async fn restart(&self) -> dockside::app::Running {
        let config = dockside_config(
            self.certs.path(),
            self.http,
            self.https,
            &self.pebble.url,
            &self.pebble.listener_ca,
        );
        dockside::app::start(config)
            .await
            .expect("dockside restarts on the same ports")
    }
}
