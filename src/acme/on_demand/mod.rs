//! On-demand TLS (Caddy's feature, `ON_DEMAND_TLS`): a name that no site serves gets a
//! certificate during the first TLS handshake that asks for it. The acceptor calls
//! [`OnDemand::obtain`] only when the live snapshot answered `Decision::OnDemand` (no site, no
//! certificate for the SNI), then decides again.
//!
//! One obtain per name at a time (single flight): concurrent handshakes for a name wait on one
//! `watch` channel, so a name costs one ask call and at most one order. Before any order the
//! ask URL must answer 2xx (`GET <ask>?domain=<name>`, with a timeout); then the global rate
//! (`rules::RateLimit`) must have a slot. Refusals, rate-limit misses and failed orders are
//! remembered (`rules::Memory`) so a flood of handshakes calls neither the ask URL nor the CA.
//! An issued certificate is written like any ACME certificate for that host (`<name>/` and
//! `<name>.crt` links), its name is added to `on_demand_names.txt` in the certificate directory
//! and handed to the reconciler (which renews it), and the handshake waits until the certificate
//! watcher has published it.

mod rules;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::acme::client::RequestError;
use crate::acme::options::Stats;
use crate::acme::orders::Orders;
use crate::acme::shared::{self, OnDemandShared};
use crate::acme::spec::{self, AcmeGlobals};
use crate::certs::{CertsDir, Rescan};
use crate::model::CertRequest;

use rules::{FAILED_BACKOFF, MEMORY_CAPACITY, Memory, RateLimit, redact_query};
pub use rules::{NameError, OnDemandSettings, SettingsError, Verdict, check_name};

/// Names obtained at once at most; past that a new name is refused until one finishes.
const MAX_FLIGHTS: usize = 64;
/// Bound on one ask call (connect, answer and body).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Who asks, in logs and `dockside check`.
const SOURCE: &str = "on-demand TLS (ON_DEMAND_TLS)";

/// Why a handshake gets no on-demand certificate (logged at debug level by the acceptor, which
/// refuses the handshake with `unrecognized_name`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error("{name:?} is not obtainable: {why}")]
    Name { name: String, why: NameError },
    #[error("the ask URL refused {name:?}: {why}")]
    Denied { name: String, why: String },
    #[error("{name:?} is remembered ({verdict:?}) for another {left:?}")]
    Remembered {
        name: String,
        verdict: Verdict,
        left: Duration,
    },
    #[error("ON_DEMAND_TLS_RATE is used up: {name:?} may be ordered in {retry_in:?}")]
    RateLimited { name: String, retry_in: Duration },
    #[error(
        "ACME_MAX_ORDERS_PER_HOUR={per_hour} is used up for this account: {name:?} may be ordered in {retry_in:?}"
    )]
    Budget {
        name: String,
        per_hour: u32,
        retry_in: Duration,
    },
    #[error("{MAX_FLIGHTS} names are being obtained already: {name:?} refused")]
    Busy { name: String },
    #[error("ordering {name:?}: {why}")]
    Failed { name: String, why: String },
    #[error("no certificate for {name:?} within ON_DEMAND_TLS_WAIT ({wait:?})")]
    Timeout { name: String, wait: Duration },
    #[error("{name:?}: shutting down")]
    Stopped { name: String },
}

type Outcome = Result<(), Refusal>;

/// The one on-demand TLS service of a dockside (shared by the HTTPS acceptors).
pub struct OnDemand {
    settings: OnDemandSettings,
    globals: AcmeGlobals,
    /// Shared with the reconciler: one issuer (one account registration) and one order
    /// budget per account.
    orders: Orders,
    store: CertsDir,
    rescan: Rescan,
    stats: Arc<Stats>,
    order_timeout: Duration,
    /// Every name obtained on demand (persisted); the reconciler renews them.
    names: watch::Sender<Arc<BTreeSet<String>>>,
    state: Mutex<State>,
    cancel: CancellationToken,
    /// The runtime flights run on (the main one, where `new` was called): not the worker
    /// thread of the handshake that started them, whose connections they would slow down.
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemand")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

struct State {
    /// Names being obtained; every handshake for one waits on its channel.
    flights: HashMap<String, watch::Receiver<Option<Outcome>>>,
    memory: Memory,
    rate: RateLimit,
    /// Names whose certificate is live: a handshake that decided on an older snapshot is
    /// told to decide again instead of starting a second order.
    live: BTreeSet<String>,
}

/// What `OnDemand::new` needs besides the settings.
pub struct OnDemandParts {
    pub globals: AcmeGlobals,
    /// The reconciler's (`ReconcilerConfig::orders`).
    pub orders: Orders,
    pub rescan: Rescan,
    pub stats: Arc<Stats>,
    pub order_timeout: Duration,
    pub cancel: CancellationToken,
}

impl OnDemand {
    /// Loads the names obtained before (a restart) from the certificate directory. Must be
    /// called on the runtime that should run the orders.
    pub fn new(settings: OnDemandSettings, parts: OnDemandParts) -> Arc<OnDemand> {
        let store = parts.orders.store.clone();
        let names: BTreeSet<String> = match store.read_on_demand_names() {
            Ok(lines) => lines
                .into_iter()
                .filter(|name| match check_name(name) {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::warn!(file = crate::certs::ON_DEMAND_NAMES, name = %name, "ignoring a line: {why}");
                        false
                    }
                })
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %store.root().display(), "cannot read {}: {e}; earlier on-demand names are not renewed", crate::certs::ON_DEMAND_NAMES);
                BTreeSet::new()
            }
        };
        // Only a name whose certificate is on disk is live: one listed without (removed by
        // hand, or its first write failed) is obtained again at its next handshake.
        let live = names
            .iter()
            .filter(|name| {
                let root = store.root();
                root.join(format!("{name}.crt")).is_file()
                    && root.join(format!("{name}.key")).is_file()
            })
            .cloned()
            .collect();
        let state = State {
            flights: HashMap::new(),
            memory: Memory::new(MEMORY_CAPACITY, FAILED_BACKOFF),
            rate: RateLimit::new(settings.rate_per_minute),
            live,
        };
        Arc::new(OnDemand {
            names: watch::channel(Arc::new(names)).0,
            settings,
            globals: parts.globals,
            orders: parts.orders,
            store,
            rescan: parts.rescan,
            stats: parts.stats,
            order_timeout: parts.order_timeout,
            state: Mutex::new(state),
            cancel: parts.cancel,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The names obtained on demand, for the reconciler (renewals, links).
    pub fn names(&self) -> watch::Receiver<Arc<BTreeSet<String>>> {
        self.names.subscribe()
    }

    /// How long a handshake may wait in [`OnDemand::obtain`] (`ON_DEMAND_TLS_WAIT`).
    pub fn wait(&self) -> Duration {
        self.settings.wait
    }

    /// Makes a certificate for `name` (a lower-case SNI) live, or says why not, within
    /// `ON_DEMAND_TLS_WAIT`. `Ok` means: decide again, the certificate is in the snapshot.
    pub async fn obtain(self: &Arc<Self>, name: &str) -> Outcome {
        check_name(name).map_err(|why| Refusal::Name {
            name: name.to_owned(),
            why,
        })?;
        let mut done = self.join(name)?;
        let wait = self.settings.wait;
        match tokio::time::timeout(wait, done.wait_for(Option::is_some)).await {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or(Ok(())),
            Ok(Err(_)) => Err(Refusal::Stopped {
                name: name.to_owned(),
            }),
            Err(_) => Err(Refusal::Timeout {
                name: name.to_owned(),
                wait,
            }),
        }
    }

    /// The flight for `name`: the one running, or a new one — unless memory answers first.
    fn join(self: &Arc<Self>, name: &str) -> Result<watch::Receiver<Option<Outcome>>, Refusal> {
        let mut state = self.lock();
        if state.live.contains(name) {
            return Ok(watch::channel(Some(Ok(()))).1);
        }
        if let Some(flight) = state.flights.get(name) {
            return Ok(flight.clone());
        }
        let now = Instant::now();
        if let Some((verdict, until)) = state.memory.recall(name, now) {
            return Err(Refusal::Remembered {
                name: name.to_owned(),
                verdict,
                left: until - now,
            });
        }
        if state.flights.len() >= MAX_FLIGHTS {
            return Err(Refusal::Busy {
                name: name.to_owned(),
            });
        }
        let (tx, rx) = watch::channel(None);
        state.flights.insert(name.to_owned(), rx.clone());
        drop(state);
        self.runtime.spawn(self.clone().fly(name.to_owned(), tx));
        Ok(rx)
    }

    /// One flight: ask, take a rate slot, order, publish; then remember the outcome and wake
    /// every waiting handshake. Ends with the process (`cancel`).
    async fn fly(self: Arc<Self>, name: String, done: watch::Sender<Option<Outcome>>) {
        // Removes the flight however this ends (a panic, or the runtime dropping the task), so
        // later handshakes for the name start a new one instead of waiting on a dead channel.
        let flight = Flight {
            on_demand: &self,
            name: &name,
        };
        let outcome = tokio::select! {
            () = self.cancel.cancelled() => Err(Refusal::Stopped { name: name.clone() }),
            outcome = self.obtain_now(&name) => outcome,
        };
        {
            let mut state = self.lock();
            state.flights.remove(&name);
            std::mem::forget(flight);
            let now = Instant::now();
            match &outcome {
                Ok(()) => {
                    state.memory.forget(&name);
                    state.live.insert(name.clone());
                }
                Err(Refusal::Denied { .. }) => {
                    state.memory.deny(&name, now, self.settings.deny_for);
                }
                Err(Refusal::RateLimited { retry_in, .. } | Refusal::Budget { retry_in, .. }) => {
                    state.memory.rate_limited(&name, now, *retry_in);
                }
                Err(Refusal::Failed { .. }) => {
                    let delay = state.memory.failed(&name, now, fastrand::f64());
                    tracing::info!(name = %name, retry_in_s = delay.as_secs(), "on-demand certificate: backing off");
                }
                Err(_) => {}
            }
        }
        match &outcome {
            Ok(()) => tracing::info!(name = %name, "on-demand certificate live"),
            Err(e) => tracing::warn!(name = %name, "on-demand certificate not obtained: {e}"),
        }
        done.send_replace(Some(outcome));
    }

    async fn obtain_now(&self, name: &str) -> Outcome {
        self.ask(name).await?;
        let slot = self.lock().rate.try_take(Instant::now());
        slot.map_err(|retry_in| Refusal::RateLimited {
            name: name.to_owned(),
            retry_in,
        })?;
        let failed = |why: String| Refusal::Failed {
            name: name.to_owned(),
            why,
        };
        let request = CertRequest {
            hosts: vec![name.to_owned()],
            settings: Default::default(),
            source: SOURCE.to_owned(),
        };
        let (spec, _) =
            spec::resolve(&request, &self.globals).map_err(|e| failed(e.to_string()))?;
        // The reconciler's budget: on-demand orders count against the same account bound.
        let budgets = &self.orders.budgets;
        let now = tokio::time::Instant::now();
        if let Err((at, _)) = budgets.take(&spec.ca_url, spec.email.as_deref(), now) {
            return Err(Refusal::Budget {
                name: name.to_owned(),
                per_hour: budgets.per_hour(),
                retry_in: at - now,
            });
        }
        let issuer = &self.orders.issuer;
        let issued = match issuer.shared() {
            // `--store`: one order among the replicas, under the certificate's lock.
            Some(shared) => {
                let limit = self.order_timeout;
                match shared::on_demand_order(issuer, shared, &spec, &self.store, limit).await {
                    OnDemandShared::Ordered(result) => {
                        self.stats.orders_started.fetch_add(1, Ordering::Relaxed);
                        result.map_err(|e| e.to_string())
                    }
                    OnDemandShared::FromStore => {
                        budgets.give_back(&spec.ca_url, spec.email.as_deref());
                        tracing::info!(name = %name, "on-demand certificate from the shared store: written here, no order placed");
                        self.remember_name(name);
                        self.rescan.live(&spec.base_dir_name).await;
                        return Ok(());
                    }
                    OnDemandShared::NotOrdered(why) => {
                        budgets.give_back(&spec.ca_url, spec.email.as_deref());
                        return Err(failed(why));
                    }
                }
            }
            None => {
                tracing::info!(name = %name, ca = %spec.ca_url, "ordering an on-demand certificate");
                self.stats.orders_started.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(self.order_timeout, issuer.issue(&spec)).await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err("the order timed out".to_owned()),
                }
            }
        };
        let issued = issued.map_err(|why| self.order_failed(name, why))?;
        self.stats.orders_succeeded.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            base = %issued.base_dir_name, not_after = issued.info.not_after,
            elapsed_ms = issued.elapsed.as_millis() as u64, "on-demand certificate written"
        );
        self.remember_name(name);
        self.rescan.live(&issued.base_dir_name).await;
        Ok(())
    }

    fn order_failed(&self, name: &str, why: String) -> Refusal {
        self.stats.orders_failed.fetch_add(1, Ordering::Relaxed);
        Refusal::Failed {
            name: name.to_owned(),
            why,
        }
    }

    /// `GET <ask>?domain=<name>`: 2xx allows; any other answer, or none, refuses.
    async fn ask(&self, name: &str) -> Outcome {
        let url = self.settings.ask_url(name);
        let denied = |why: String| Refusal::Denied {
            name: name.to_owned(),
            why,
        };
        let answer = tokio::time::timeout(ASK_TIMEOUT, self.orders.http.get(&url)).await;
        // Errors may quote the URL: its query string may carry a token.
        let url = self.settings.ask_redacted();
        match answer {
            Ok(Ok(answer)) if answer.status().is_success() => Ok(()),
            Ok(Ok(answer)) => Err(denied(format!("{url} answered {}", answer.status()))),
            // `RequestError` words a failed connection for CAs; this is the ask endpoint.
            Ok(Err(RequestError::Transport(e))) => Err(denied(format!(
                "{url}: cannot connect: {}",
                redact_urls(&e.to_string())
            ))),
            Ok(Err(e)) => Err(denied(format!("{url}: {}", redact_urls(&e.to_string())))),
            Err(_) => Err(denied(format!("{url}: no answer within {ASK_TIMEOUT:?}"))),
        }
    }

    /// Adds `name` to the persisted list and hands the list to the reconciler (renewals).
    fn remember_name(&self, name: &str) {
        let mut added = false;
        self.names.send_if_modified(|names| {
            if names.contains(name) {
                return false;
            }
            Arc::make_mut(names).insert(name.to_owned());
            added = true;
            true
        });
        if added {
            let names = self.names.borrow().clone();
            if let Err(e) = self.store.write_on_demand_names(names.iter()) {
                tracing::warn!(dir = %self.store.root().display(), name = %name, "cannot write {}: {e}; this certificate is renewed only until dockside restarts", crate::certs::ON_DEMAND_NAMES);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `text` with the query string of every URL in it redacted (an error may quote the ask URL).
fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| match word.contains("://") {
            true => redact_query(word),
            false => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running flight's entry in `State::flights`; dropped without `forget` (the flight did not
/// finish), it removes the entry.
struct Flight<'a> {
    on_demand: &'a OnDemand,
    name: &'a str,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.on_demand.lock().flights.remove(self.name);
    }
}
