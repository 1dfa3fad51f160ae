//! The ACME control loop. Demands = certificates wanted by `DesiredState` − valid ones on disk
//! (exact host set, outside the renewal window) − orders in flight. At most one order per
//! certificate, at most `max_parallel` at once, at most `ACME_MAX_ORDERS_PER_HOUR` new orders
//! per account (`budget`), exponential backoff with jitter per certificate,
//! `Retry-After`/`rateLimited` honoured. Runs as its own task: nothing here can
//! block serving, and a valid certificate is never re-ordered.
//!
//! This file decides when to look at a certificate and when to order it; what an order task's
//! end does to its certificate is in `ended`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::acme::ari;
use crate::acme::budget::Budgets;
use crate::acme::client::{AcmeHttp, ClientSetupError};
use crate::acme::order::Issuer;
use crate::acme::orders::Orders;
use crate::acme::renew::{self, RenewInbox, RenewRequest};
use crate::acme::schedule::{self, Decision, Reason};
use crate::acme::shared::{OrderTask, Outcome};
use crate::acme::spec::{self, OrderSpec};
use crate::certs::{CertInfo, CertsDir};
use crate::model::DesiredState;

use crate::acme::options::{CertStatus, ReconcilerConfig};

mod ended;

/// Starts the reconciler on `desired.certificates` until `cancel`; in-flight orders are
/// aborted on cancel (their challenge answers are removed). Fails only on a bad `CA_BUNDLE`.
pub fn spawn(
    cfg: ReconcilerConfig,
    desired: watch::Receiver<Arc<DesiredState>>,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, ClientSetupError> {
    let orders = match cfg.orders.clone() {
        Some(orders) => orders,
        None => Orders::new(&cfg)?,
    };
    let on_demand = cfg.on_demand.clone();
    let r = Reconciler {
        cfg,
        issuer: orders.issuer,
        store: orders.store,
        http: orders.http,
        budgets: orders.budgets,
        entries: BTreeMap::new(),
        running: JoinSet::new(),
        ids: HashMap::new(),
        lookups: JoinSet::new(),
        lookup_ids: HashMap::new(),
        ari: ari::AriCache::default(),
        deferred: HashMap::new(),
        warned: Default::default(),
        on_demand_names: Arc::default(),
    };
    Ok(tokio::spawn(r.run(desired, on_demand, cancel)))
}

/// Longest sleep between looks at a valid certificate (the files may change under us).
const MAX_SLEEP: Duration = Duration::from_secs(12 * 3600);

/// Due certificates looked at per pass of the loop (each a file read): between passes the
/// loop answers changes, finished orders and `dockside renew`, even when 10,000 certificates
/// are due at once, as at start.
const LOOKS_PER_TICK: usize = 256;

/// ARI lookups in flight at once. Each may wait on the CA up to the HTTP timeout, so they run
/// beside the loop, not in it; a few at a time spare the CA.
const ARI_PARALLEL: usize = 8;

/// When a certificate whose ARI lookup task died is looked at again.
const LOOKUP_RETRY: Duration = Duration::from_secs(60);

struct Entry {
    spec: OrderSpec,
    failures: u32,
    next: Instant,
    in_flight: bool,
    /// Its ARI lookup runs (`Reconciler::lookups`): not looked at again until it answers.
    looking: bool,
    /// An order is due but every order slot was taken: looked at again when one frees.
    queued: bool,
    /// `dockside renew --force` asked for a new certificate although this one is valid.
    forced: bool,
    /// Consecutive order attempts the shared store did not answer (`--store`).
    store_failures: u32,
}

impl Entry {
    /// To be looked at now: idle, its time come, and not only waiting for a taken order slot.
    fn due(&self, now: Instant, orders_full: bool) -> bool {
        !(self.in_flight || self.looking || self.next > now || (self.queued && orders_full))
    }
}

type OrderResult = (OrderSpec, Outcome);

/// A finished ARI lookup: the spec it was started for, the certificate read then, the answer.
type Lookup = (OrderSpec, Option<CertInfo>, ari::Answer);

/// An ACME account as orders are budgeted: (CA directory, email).
type Account = (String, Option<String>);

struct Reconciler {
    cfg: ReconcilerConfig,
    issuer: Arc<Issuer>,
    store: CertsDir,
    http: AcmeHttp,
    entries: BTreeMap<String, Entry>,
    running: JoinSet<OrderResult>,
    ids: HashMap<tokio::task::Id, String>,
    /// ARI lookups in flight (at most `ARI_PARALLEL`), by base directory name.
    lookups: JoinSet<Lookup>,
    lookup_ids: HashMap<tokio::task::Id, String>,
    ari: ari::AriCache,
    /// Per account, the last wake time handed to an order deferred for its budget: the next
    /// deferred one queues behind it instead of all re-reading their files at every refill.
    deferred: HashMap<Account, Instant>,
    /// Settings warnings already logged: each once per process, not once per snapshot.
    warned: std::collections::HashSet<String>,
    /// New-order budget per ACME account, shared with on-demand TLS.
    budgets: Budgets,
    /// The names obtained on demand (`ON_DEMAND_TLS`): wanted like containers' certificates.
    on_demand_names: Arc<BTreeSet<String>>,
}

impl Reconciler {
    async fn run(
        mut self,
        mut desired: watch::Receiver<Arc<DesiredState>>,
        mut on_demand: Option<watch::Receiver<Arc<BTreeSet<String>>>>,
        cancel: CancellationToken,
    ) {
        if let Some(names) = on_demand.as_mut() {
            self.on_demand_names = names.borrow_and_update().clone();
        }
        let mut state = desired.borrow_and_update().clone();
        self.update(&state);
        let mut open = true;
        let mut inbox = self.cfg.renew.take();
        loop {
            let more = self.tick();
            let wake = if more {
                Instant::now()
            } else {
                self.next_wake()
            };
            // Biased: with more due certificates than one pass looks at, the wake is "now",
            // and requests, changes and finished work go first.
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                Some(req) = next_request(&mut inbox) => self.renew(req),
                Some(names) = changed_names(on_demand.as_mut()) => {
                    self.on_demand_names = names;
                    self.update(&state);
                }
                changed = desired.changed(), if open => match changed {
                    Ok(()) => {
                        state = desired.borrow_and_update().clone();
                        self.update(&state);
                        // Only on a published change: the channel's initial value may be a
                        // placeholder from before discovery listed anything.
                        self.cleanup_links(&state);
                    }
                    Err(_) => open = false,
                },
                Some(done) = self.running.join_next_with_id(), if !self.running.is_empty() => self.finished(done),
                Some(done) = self.lookups.join_next_with_id(), if !self.lookups.is_empty() => self.looked(done),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        self.lookups.abort_all();
        while self.lookups.join_next().await.is_some() {}
        self.running.abort_all();
        while self.running.join_next().await.is_some() {}
    }

    /// Replaces the wanted set; a changed spec for the same directory starts over.
    fn update(&mut self, state: &DesiredState) {
        let mut wanted: BTreeMap<String, OrderSpec> = BTreeMap::new();
        for req in &state.certificates {
            match spec::resolve(req, &self.cfg.globals) {
                Ok((spec, warnings)) => {
                    for w in warnings
                        .into_iter()
                        .filter(|w| self.warned.insert(w.clone()))
                    {
                        tracing::warn!("{w}");
                    }
                    if let Some(other) = wanted.get(&spec.base_dir_name) {
                        tracing::warn!(
                            base = %spec.base_dir_name, first = %other.source, second = %spec.source,
                            "two containers want the same certificate directory: the first wins"
                        );
                    } else {
                        wanted.insert(spec.base_dir_name.clone(), spec);
                    }
                }
                Err(e) if self.warned.insert(e.to_string()) => {
                    tracing::warn!(error = %e, "certificate not requested")
                }
                Err(_) => {}
            }
        }
        self.want_on_demand(&mut wanted);
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|b| !wanted.contains_key(*b))
            .cloned()
            .collect();
        for base in gone {
            self.entries.remove(&base);
            self.ari.forget(&base);
        }
        self.cfg.stats.retain(|base| wanted.contains_key(base));
        let now = Instant::now();
        for (base, spec) in wanted {
            match self.entries.get_mut(&base) {
                Some(e) if e.spec == spec => {}
                Some(e) => {
                    // A lookup still running for the old spec is ignored when it answers.
                    (e.spec, e.failures, e.next) = (spec, 0, now);
                    (e.looking, e.queued) = (false, false);
                    self.ari.forget(&base);
                }
                None => {
                    // An order from before this certificate was dropped may still run: one
                    // order per directory at a time, so wait for it.
                    let in_flight = self.ids.values().any(|b| *b == base);
                    let entry = Entry {
                        spec,
                        failures: 0,
                        next: now,
                        in_flight,
                        looking: false,
                        queued: false,
                        forced: false,
                        store_failures: 0,
                    };
                    self.entries.insert(base, entry);
                }
            }
        }
    }

    /// Adds the names obtained on demand that no container's certificate already covers: a
    /// name a container lists later (`LETSENCRYPT_HOST=a,b`) is then renewed once, in the
    /// container's certificate, and its `<name>.crt` link stays there.
    fn want_on_demand(&mut self, wanted: &mut BTreeMap<String, OrderSpec>) {
        let covered: BTreeSet<&str> = wanted
            .values()
            .flat_map(|spec| spec.hosts.iter().map(String::as_str))
            .collect();
        let covers = |name: &str| {
            covered.contains(name)
                || name
                    .split_once('.')
                    .is_some_and(|(_, parent)| covered.contains(format!("*.{parent}").as_str()))
        };
        let names: Vec<String> = self
            .on_demand_names
            .iter()
            .filter(|name| !covers(name))
            .cloned()
            .collect();
        for name in names.iter() {
            let request = crate::model::CertRequest {
                hosts: vec![name.clone()],
                settings: Default::default(),
                source: "on-demand TLS (ON_DEMAND_TLS)".to_owned(),
            };
            match spec::resolve(&request, &self.cfg.globals) {
                Ok((spec, _)) => {
                    wanted.entry(spec.base_dir_name.clone()).or_insert(spec);
                }
                Err(e) if self.warned.insert(e.to_string()) => {
                    tracing::warn!(error = %e, "on-demand certificate not renewed")
                }
                Err(_) => {}
            }
        }
    }

    /// Looks at up to `LOOKS_PER_TICK` due certificates: schedules the next look, starts an
    /// order, or starts an ARI lookup whose answer `looked` decides on. Never waits on the
    /// network. True when more certificates are due than it looked at.
    fn tick(&mut self) -> bool {
        let now = Instant::now();
        let orders_full = self.orders_full();
        let due: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.due(now, orders_full))
            .map(|(b, _)| b.clone())
            .take(LOOKS_PER_TICK + 1)
            .collect();
        let more = due.len() > LOOKS_PER_TICK;
        for base in due.into_iter().take(LOOKS_PER_TICK) {
            // Woken again when a lookup answers (see `next_wake`).
            if self.lookups.len() >= ARI_PARALLEL {
                return false;
            }
            let disk = match self.store.read_certificate(&base) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(base = %base, error = %e, "unusable certificate on disk: ordering a new one");
                    None
                }
            };
            let Some(entry) = self.entries.get_mut(&base) else {
                continue;
            };
            let ari_id = disk.as_ref().and_then(|d| d.ari_id.clone());
            let ari_at = match ari_id.map(|id| self.ari.cached(&base, &entry.spec.ca_url, &id)) {
                None => None,
                Some(ari::Cached::Known(at)) => at,
                Some(ari::Cached::Ask(query)) => {
                    entry.looking = true;
                    let (http, spec) = (self.http.clone(), entry.spec.clone());
                    let handle = self.lookups.spawn(async move {
                        let answer = query.ask(&http).await;
                        (spec, disk, answer)
                    });
                    self.lookup_ids.insert(handle.id(), base);
                    continue;
                }
            };
            self.decide(&base, disk.as_ref(), ari_at, now);
        }
        more
    }

    /// An ARI lookup answered: remember it and decide on its certificate, unless the
    /// certificate changed or went away meanwhile.
    fn looked(&mut self, done: Result<(tokio::task::Id, Lookup), tokio::task::JoinError>) {
        let now = Instant::now();
        let (id, (spec, disk, answer)) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "ARI lookup task ended abnormally");
                let base = self.lookup_ids.remove(&e.id());
                if let Some(entry) = base.and_then(|b| self.entries.get_mut(&b)) {
                    (entry.looking, entry.next) = (false, now + LOOKUP_RETRY);
                }
                return;
            }
        };
        let Some(base) = self.lookup_ids.remove(&id) else {
            return;
        };
        match self.entries.get_mut(&base) {
            Some(entry) if entry.looking && entry.spec == spec => entry.looking = false,
            _ => return,
        }
        let ari_at = self.ari.record(&base, answer, unix_now());
        self.decide(&base, disk.as_ref(), ari_at, now);
    }

    /// Acts on one looked-at certificate: `disk` as read, `ari_at` the CA's renewal time.
    fn decide(&mut self, base: &str, disk: Option<&CertInfo>, ari_at: Option<i64>, now: Instant) {
        let unix = unix_now();
        let base = base.to_owned();
        let Some(entry) = self.entries.get_mut(&base) else {
            return;
        };
        let decision = schedule::decide(
            unix,
            disk,
            &entry.spec.hosts,
            entry.spec.renew_after_days,
            ari_at,
        );
        let decision = match decision {
            Decision::ValidUntil(_) if entry.forced => Decision::Order(Reason::Forced),
            d => d,
        };
        entry.queued = false;
        match decision {
            Decision::ValidUntil(at) => {
                // acme-companion relinks on every loop: a host that came back, or a
                // certificate it wrote, gets its `<host>.crt` links without an order.
                if let Err(e) = self.store.link_hosts(&base, &entry.spec.hosts) {
                    tracing::warn!(base = %base, error = %e, "cannot link certificate");
                }
                let mut next =
                    now + Duration::from_secs(u64::try_from(at - unix).unwrap_or(0)).min(MAX_SLEEP);
                if let Some(recheck) = self.ari.recheck(&base) {
                    next = next.min(recheck);
                }
                entry.next = next;
                let not_after = disk.map_or(at, |d| d.not_after);
                self.cfg.stats.set(
                    &base,
                    CertStatus::Valid {
                        not_after,
                        renew_at: at,
                    },
                );
            }
            Decision::Order(reason) if self.running.len() < self.cfg.max_parallel => {
                let per_hour = self.budgets.per_hour();
                let account = (entry.spec.ca_url.clone(), entry.spec.email.clone());
                let taken = self
                    .budgets
                    .take(&entry.spec.ca_url, entry.spec.email.as_deref(), now);
                if let Err((at, interval)) = taken {
                    // Queued behind those deferred before it: each wakes for its own token
                    // instead of all re-reading their files at every refill.
                    let tail = self.deferred.entry(account).or_insert(now);
                    let next = if *tail >= at {
                        *tail + interval
                    } else {
                        tracing::info!(
                            base = %base, ca = %entry.spec.ca_url, retry_in_s = (at - now).as_secs(),
                            "order deferred: ACME_MAX_ORDERS_PER_HOUR={per_hour} reached for this account"
                        );
                        at
                    };
                    (*tail, entry.next) = (next, next);
                    let retry_in = next - now;
                    self.cfg.stats.set(&base, CertStatus::Deferred { retry_in });
                    return;
                }
                let forced = entry.forced;
                (entry.in_flight, entry.forced) = (true, false);
                // Until the task says how it ended (with `--store`, maybe `waiting` at once).
                self.cfg.stats.set(&base, CertStatus::Ordering);
                let task = OrderTask {
                    issuer: self.issuer.clone(),
                    spec: entry.spec.clone(),
                    reason,
                    forced,
                    limit: self.cfg.order_timeout,
                    store: self.store.clone(),
                    on_issued: self.cfg.on_issued.clone(),
                    stats: self.cfg.stats.clone(),
                    shared: self.cfg.shared.clone(),
                };
                let handle = self.running.spawn(task.run());
                self.ids.insert(handle.id(), base);
            }
            // No free slot: stays due; looked at again when an order finishes.
            Decision::Order(_) => (entry.next, entry.queued) = (now, true),
        }
    }

    fn orders_full(&self) -> bool {
        self.running.len() >= self.cfg.max_parallel
    }

    /// `dockside renew`: the named (or all) certificates are looked at now; `force` orders
    /// them even while valid. A certificate with an order running gets no second one.
    fn renew(&mut self, req: RenewRequest) {
        let certs = self
            .entries
            .iter()
            .map(|(b, e)| (b, e.spec.hosts.as_slice()));
        let outcome = renew::select(&req.hosts, certs);
        let now = Instant::now();
        for base in &outcome.scheduled {
            if let Some(e) = self.entries.get_mut(base) {
                (e.next, e.failures) = (now, 0);
                e.forced |= req.force && !e.in_flight;
            }
        }
        tracing::info!(
            force = req.force, scheduled = ?outcome.scheduled, unknown = ?outcome.unknown,
            "renew requested"
        );
        let _ = req.reply.send(outcome);
    }

    /// `ACME_RESTART_CONTAINER`: the container asking for `spec` restarts to load its new
    /// certificate (acme-companion restarts it after every issuance or renewal).
    fn restart(&self, spec: &OrderSpec) {
        if !spec.restart_container {
            return;
        }
        match &self.cfg.restart {
            Some(restart) => {
                tracing::info!(container = %spec.source, base = %spec.base_dir_name, "ACME_RESTART_CONTAINER: restarting the container for its new certificate");
                restart(&spec.source);
            }
            None => tracing::warn!(
                container = %spec.source, base = %spec.base_dir_name,
                "ACME_RESTART_CONTAINER=true but dockside is not watching a Docker engine: restart it yourself"
            ),
        }
    }

    /// Unlinks managed `<host>.crt` links of hosts no container asks for any more.
    fn cleanup_links(&self, state: &DesiredState) {
        let enabled = state
            .certificates
            .iter()
            .flat_map(|c| c.hosts.iter().flat_map(|h| h.split(',')))
            .map(|h| {
                h.trim()
                    .trim_end_matches('.')
                    .trim_start_matches("*.")
                    .to_ascii_lowercase()
            })
            .chain(self.on_demand_names.iter().cloned())
            .collect();
        match self.store.cleanup_links(&enabled) {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(?removed, "unlinked certificates no container asks for")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cleaning up certificate links"),
        }
    }

    /// The earliest `next` among idle certificates; ones waiting only for a free order slot
    /// are woken by the order that frees it, due ones while every lookup slot is taken by the
    /// lookup that frees one.
    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let (orders_full, lookups_full) = (self.orders_full(), self.lookups.len() >= ARI_PARALLEL);
        self.entries
            .values()
            .filter(|e| e.due(now, orders_full) || e.next > now)
            .filter(|e| !(lookups_full && e.next <= now))
            .filter(|e| !(e.in_flight || e.looking))
            .map(|e| e.next)
            .min()
            .unwrap_or(now + MAX_SLEEP)
    }
}

/// The next renew request, or never when there is no inbox (or it closed).
async fn next_request(inbox: &mut Option<RenewInbox>) -> Option<RenewRequest> {
    match inbox {
        Some(rx) => match rx.recv().await {
            Some(req) => Some(req),
            None => {
                *inbox = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// The next list of on-demand names; never, without on-demand TLS or once its sender is gone.
async fn changed_names(
    names: Option<&mut watch::Receiver<Arc<BTreeSet<String>>>>,
) -> Option<Arc<BTreeSet<String>>> {
    if let Some(rx) = names
        && rx.changed().await.is_ok()
    {
        return Some(rx.borrow_and_update().clone());
    }
    std::future::pending().await
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
