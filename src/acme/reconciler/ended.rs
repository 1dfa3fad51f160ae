//! How an order task's end moves its certificate on: written (looked at again at once),
//! failed (backoff, with the CA's `Retry-After` honoured, and the state the admin API shows),
//! ended abnormally, or placed no order because of the shared store (`--store`: another
//! replica orders it, the store had it, or the store is unreachable).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{OrderResult, Reconciler};
use crate::acme::options::CertStatus;
use crate::acme::shared::{Outcome, Skip};
use crate::acme::spec::OrderSpec;

impl Reconciler {
    pub(super) fn finished(
        &mut self,
        done: Result<(tokio::task::Id, OrderResult), tokio::task::JoinError>,
    ) {
        let (base, spec, result) = match done {
            Ok((id, (spec, Outcome::Ordered(result)))) => (self.ids.remove(&id), spec, result),
            Ok((id, (spec, Outcome::Skipped(why)))) => {
                if let Some(base) = self.ids.remove(&id) {
                    self.skipped(&base, &spec, why);
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "ACME order task ended abnormally");
                let base = self.ids.remove(&e.id());
                if let Some((base, entry)) =
                    base.and_then(|b| self.entries.get_mut(&b).map(|e| (b, e)))
                {
                    entry.in_flight = false;
                    entry.failures += 1;
                    let retry_in =
                        self.cfg
                            .backoff
                            .delay(entry.failures, None, false, fastrand::f64());
                    entry.next = Instant::now() + retry_in;
                    let (error, failures) = (
                        format!("ACME order task ended abnormally: {e}"),
                        entry.failures,
                    );
                    self.cfg.stats.set(
                        &base,
                        CertStatus::Failed {
                            error,
                            failures,
                            retry_in,
                        },
                    );
                }
                return;
            }
        };
        let Some(base) = base else { return };
        match result {
            Ok(issued) => {
                self.cfg
                    .stats
                    .orders_succeeded
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    base = %base, hosts = %issued.info.names.join(","), not_after = issued.info.not_after,
                    elapsed_ms = issued.elapsed.as_millis() as u64, "certificate written"
                );
                self.restart(&spec);
                self.ari.forget(&base);
                match self.entries.get_mut(&base) {
                    Some(entry) => {
                        (entry.in_flight, entry.failures, entry.next) = (false, 0, Instant::now())
                    }
                    // Dropped while ordering: the status the order task recorded goes too.
                    None => self.cfg.stats.retain(|b| b != base),
                }
            }
            Err(err) => {
                self.cfg.stats.orders_failed.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = self.entries.get_mut(&base) else {
                    return;
                };
                entry.in_flight = false;
                entry.failures += 1;
                let retry_after = err
                    .retry_after
                    .and_then(|t| t.duration_since(SystemTime::now()).ok());
                let delay = self.cfg.backoff.delay(
                    entry.failures,
                    retry_after,
                    err.is_rate_limited(),
                    fastrand::f64(),
                );
                entry.next = Instant::now() + delay;
                let (error, failures) = (err.to_string(), entry.failures);
                self.cfg.stats.set(
                    &base,
                    CertStatus::Failed {
                        error,
                        failures,
                        retry_in: delay,
                    },
                );
                tracing::warn!(
                    base = %base, hosts = %err.hosts.join(","), ca = %err.ca, step = %err.step,
                    problem = err.problem().map(|p| p.to_string()).unwrap_or_default(),
                    failures = entry.failures, retry_in_s = delay.as_secs_f64(), "{err}"
                );
            }
        }
    }

    /// An order task placed no order (`--store`): its budget token goes back, and the
    /// certificate is looked at again after the lock's TTL (another replica orders it), at once
    /// (the store had it), or after the store's backoff (unreachable).
    fn skipped(&mut self, base: &str, spec: &OrderSpec, why: Skip) {
        self.budgets.give_back(&spec.ca_url, spec.email.as_deref());
        let Some(entry) = self.entries.get_mut(base) else {
            return;
        };
        entry.in_flight = false;
        let ttl = self
            .cfg
            .shared
            .as_ref()
            .map_or(Duration::from_secs(15), |s| s.lock_ttl());
        let (retry_in, reason) = match why {
            Skip::FromStore => {
                entry.store_failures = 0;
                entry.next = Instant::now();
                return;
            }
            Skip::Busy { holder } => {
                entry.store_failures = 0;
                (
                    ttl,
                    format!("replica {holder} is ordering it (shared order lock)"),
                )
            }
            Skip::StoreDown(error) => {
                entry.store_failures += 1;
                // Backoff, but never longer than a lock's lifetime: orders resume soon after
                // etcd is back.
                let delay =
                    crate::store::retry_delay(entry.store_failures, fastrand::f64()).min(ttl);
                (
                    delay,
                    format!("no order while the shared store is unreachable: {error}"),
                )
            }
        };
        tracing::debug!(base, %reason, retry_in_s = retry_in.as_secs_f64(), "not ordering here");
        entry.next = Instant::now() + retry_in;
        self.cfg
            .stats
            .set(base, CertStatus::Waiting { reason, retry_in });
    }
}
