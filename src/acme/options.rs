//! What the caller hands the ACME reconciler: settings, the shared challenge map, the
//! "certificate written" nudge, and counters it reads back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::acme::challenge::Challenges;
use crate::acme::renew::RenewInbox;
use crate::acme::schedule::Backoff;
use crate::acme::spec::AcmeGlobals;
use crate::certs::FileModes;

/// Called with the base directory name (e.g. `app.example.com`) right after a certificate was
/// written, so it is served without waiting for the directory watch (`app` passes
/// `certs::Rescan::now`). Runs on the order's task, before `ACME_POST_HOOK`: it must return
/// quickly (send on a channel; never read the directory here).
pub type OnIssued = Arc<dyn Fn(&str) + Send + Sync>;

/// Restarts a container by name (`ACME_RESTART_CONTAINER`). The Docker provider supplies it
/// (only it talks to the engine); it must return quickly: queue the request, never wait on it.
pub type RestartContainer = Arc<dyn Fn(&str) + Send + Sync>;

/// Counters and per-certificate state for the status page and `/metrics` (and for tests:
/// "no new order", "failed with the CA's reason").
#[derive(Debug, Default)]
pub struct Stats {
    pub orders_started: AtomicU64,
    pub orders_succeeded: AtomicU64,
    pub orders_failed: AtomicU64,
    /// Base directory name → where that certificate stands.
    certificates: Mutex<BTreeMap<String, CertStatus>>,
}

/// Where one wanted certificate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// On disk and valid; renewal is due at `renew_at` (unix seconds).
    Valid { not_after: i64, renew_at: i64 },
    /// An order is running.
    Ordering,
    /// An order is due but waits `retry_in` for the account's `ACME_MAX_ORDERS_PER_HOUR` budget.
    Deferred { retry_in: Duration },
    /// No order here (`--store`): another replica holds the certificate's order lock, or the
    /// shared store is unreachable (`reason` says which); looked at again in `retry_in`.
    Waiting { reason: String, retry_in: Duration },
    /// The last order failed (`error` is the full log line: hosts, CA, step, CA's problem).
    Failed {
        error: String,
        failures: u32,
        retry_in: Duration,
    },
}

impl Stats {
    /// The state of the certificate in `<certs>/<base>/`, if it is wanted.
    pub fn status(&self, base: &str) -> Option<CertStatus> {
        self.lock().get(base).cloned()
    }

    /// Every wanted certificate's state, by base directory name.
    pub fn snapshot(&self) -> BTreeMap<String, CertStatus> {
        self.lock().clone()
    }

    pub(crate) fn set(&self, base: &str, status: CertStatus) {
        self.lock().insert(base.to_owned(), status);
    }

    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|base, _| keep(base));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CertStatus>> {
        self.certificates.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Everything the reconciler needs; `new` fills in production defaults.
pub struct ReconcilerConfig {
    pub globals: AcmeGlobals,
    pub certs_dir: PathBuf,
    /// Shared with the HTTP listener (HTTP-01) and the TLS acceptor (TLS-ALPN-01).
    pub challenges: Arc<Challenges>,
    pub on_issued: OnIssued,
    /// Orders running at once (2: enough to keep up, few enough to spare a CA's limits).
    pub max_parallel: usize,
    pub backoff: Backoff,
    /// Safety net around one whole order.
    pub order_timeout: Duration,
    /// Each request to the CA, and each wait for validation/issuance.
    pub http_timeout: Duration,
    pub stats: Arc<Stats>,
    /// `FILES_UID`, `FILES_GID`, `FILES_PERMS`, `FOLDERS_PERMS` for what orders write.
    pub files: FileModes,
    /// `None` without Docker: `ACME_RESTART_CONTAINER` is then logged as not possible.
    pub restart: Option<RestartContainer>,
    /// `dockside renew` requests (from `renew_channel`), when the admin listener takes them.
    pub renew: Option<RenewInbox>,
    /// The names obtained on demand (`acme::OnDemand::names`): renewed like the certificates
    /// containers ask for. `None` without `ON_DEMAND_TLS`.
    pub on_demand: Option<watch::Receiver<Arc<BTreeSet<String>>>>,
    /// How long DNS-01 records may take to reach every authoritative server of their zone
    /// before the order fails (2 minutes; tests shorten it).
    pub dns_propagation_max: Duration,
    /// The issuer and order budgets to share with on-demand TLS (`Orders::new(&cfg)`);
    /// `None`: `spawn` builds its own.
    pub orders: Option<crate::acme::Orders>,
    /// `--store`: certificates, accounts and challenge answers shared with other replicas, and
    /// one order per certificate among them (its lock). `None`: this dockside alone.
    pub shared: Option<crate::store::SharedStore>,
}

impl ReconcilerConfig {
    /// Production defaults around the four things only the caller knows.
    pub fn new(
        globals: AcmeGlobals,
        certs_dir: PathBuf,
        challenges: Arc<Challenges>,
        on_issued: OnIssued,
    ) -> Self {
        ReconcilerConfig {
            globals,
            certs_dir,
            challenges,
            on_issued,
            max_parallel: 2,
            backoff: Backoff::default(),
            order_timeout: Duration::from_secs(300),
            http_timeout: Duration::from_secs(30),
            stats: Arc::default(),
            files: FileModes::default(),
            restart: None,
            renew: None,
            on_demand: None,
            dns_propagation_max: crate::acme::dns01::PROPAGATION_MAX,
            orders: None,
            shared: None,
        }
    }
}
