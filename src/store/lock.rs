//! One order per certificate across replicas: a key `locks/<base>` created only if absent, on a
//! lease of `--store-lock-ttl` that a task keeps alive while the order runs. Released by
//! revoking the lease; a replica that dies stops renewing, etcd drops the key after the TTL and
//! another replica takes the lock. Losing the lease (etcd unreachable past the TTL) fires
//! [`CertLock::lost`] so the order is abandoned rather than finished by two replicas.
//!
//! Registering an ACME account takes a lock of its own ([`AccountLock`]), so that replicas
//! ordering different certificates at once register one account between them, not one each.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bundle::Answer;
use super::client::{Etcd, EtcdError};
use super::layout::Layout;

/// What taking a lock gave.
#[derive(Debug)]
pub enum Acquire {
    /// Ours until released (or lost).
    Held(CertLock),
    /// Another replica orders this certificate now.
    Busy { holder: String },
}

/// A held order lock. Dropping it stops the renewals (the lease then expires); `release`
/// frees it at once.
pub struct CertLock {
    etcd: Arc<Etcd>,
    layout: Layout,
    base: String,
    lease: i64,
    ttl: Duration,
    lost: CancellationToken,
    keeper: JoinHandle<()>,
}

impl std::fmt::Debug for CertLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertLock")
            .field("base", &self.base)
            .field("lease", &self.lease)
            .finish()
    }
}

/// Takes the lock for `base` as `replica`, or says who holds it.
pub(super) async fn acquire(
    etcd: Arc<Etcd>,
    layout: Layout,
    base: &str,
    replica: &str,
    ttl: Duration,
) -> Result<Acquire, EtcdError> {
    let asked = Instant::now();
    let lease = match take(&etcd, &layout.lock(base), replica, ttl).await? {
        Ok(lease) => lease,
        Err(holder) => return Ok(Acquire::Busy { holder }),
    };
    let lost = CancellationToken::new();
    let keeper = tokio::spawn(keep_alive(
        etcd.clone(),
        base.to_owned(),
        lease,
        ttl,
        asked + ttl,
        lost.clone(),
    ));
    Ok(Acquire::Held(CertLock {
        etcd,
        layout,
        base: base.to_owned(),
        lease,
        ttl,
        lost,
        keeper,
    }))
}

/// Creates `key` (value `replica`) on a new lease of `ttl` if it is absent: the lease, or the
/// replica that holds the key.
async fn take(
    etcd: &Etcd,
    key: &str,
    replica: &str,
    ttl: Duration,
) -> Result<Result<i64, String>, EtcdError> {
    let lease = etcd.grant(ttl).await?;
    match etcd.create(key, replica, lease).await {
        Ok(None) => Ok(Ok(lease)),
        other => {
            // Not ours: the lease goes (or expires by itself if etcd just went away).
            let _ = etcd.revoke(lease).await;
            other.map(|holder| {
                Err(String::from_utf8_lossy(&holder.unwrap_or_default()).into_owned())
            })
        }
    }
}

/// Renews the lease every third of its TTL; fires `lost` once the lease may have expired
/// (`valid_until`, counted from before each renewal was sent, so never later than etcd's own).
async fn keep_alive(
    etcd: Arc<Etcd>,
    base: String,
    lease: i64,
    ttl: Duration,
    mut valid_until: Instant,
    lost: CancellationToken,
) {
    let why = loop {
        tokio::time::sleep(ttl / 3).await;
        let sent = Instant::now();
        tokio::select! {
            renewed = etcd.renew(lease) => match renewed {
                Ok(left) if left > 0 => {
                    valid_until = sent + Duration::from_secs(left.unsigned_abs());
                }
                Ok(_) => break "etcd says the lease expired".to_owned(),
                Err(e) if Instant::now() >= valid_until => break e.to_string(),
                Err(_) => {}
            },
            _ = tokio::time::sleep_until(valid_until) => {
                break "no renewal within the lock TTL".to_owned();
            }
        }
    };
    tracing::warn!(
        base = %base, reason = %why,
        "lost the shared order lock: abandoning this order (another replica takes over once etcd is back)"
    );
    lost.cancel();
}

/// What asking to register an account gave.
#[derive(Debug)]
pub enum AccountTurn {
    /// This replica registers it, then releases the lock.
    Ours(AccountLock),
    /// Another replica registers it now: its account appears in the store.
    Theirs { holder: String },
}

/// The right to register one ACME account. Its lease is not renewed: a registration is one or
/// two requests to the CA, and one that outlives the TTL only lets another replica register an
/// account of its own, which is what happened without the lock.
pub struct AccountLock {
    etcd: Arc<Etcd>,
    lease: i64,
}

impl std::fmt::Debug for AccountLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountLock")
            .field("lease", &self.lease)
            .finish()
    }
}

/// Takes the account lock at `key` as `replica`, on a lease of `ttl`.
pub(super) async fn account(
    etcd: Arc<Etcd>,
    key: &str,
    replica: &str,
    ttl: Duration,
) -> Result<AccountTurn, EtcdError> {
    Ok(match take(&etcd, key, replica, ttl).await? {
        Ok(lease) => AccountTurn::Ours(AccountLock { etcd, lease }),
        Err(holder) => AccountTurn::Theirs { holder },
    })
}

impl AccountLock {
    /// Frees the lock (else it expires after the TTL).
    pub async fn release(self) {
        if let Err(e) = self.etcd.revoke(self.lease).await {
            tracing::debug!(error = %e, "account lock left to expire");
        }
    }
}

impl CertLock {
    /// Resolves when the lock is lost; the order holding it must stop.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }

    /// Publishes a challenge answer for every replica, on this lock's lease: it goes with the
    /// lock even if this replica dies before withdrawing it. The order is already placed at the
    /// CA, so a failed put (etcd electing a new leader, a member restarting) is tried again
    /// for as long as the lock holds rather than throwing the order away; the put is
    /// idempotent.
    pub async fn publish_answer(&self, key: &str, answer: &Answer) -> Result<(), EtcdError> {
        let value = answer.encode().map_err(|e| {
            self.etcd
                .failed(format!("encoding a challenge answer: {e}"))
        })?;
        let mut failures = 0;
        loop {
            let error = match self.etcd.put(key, value.clone(), Some(self.lease)).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            failures += 1;
            let pause = super::retry_delay(failures, fastrand::f64()).min(self.ttl / 3);
            tracing::debug!(
                base = %self.base, error = %error, retry_in_s = pause.as_secs_f64(),
                "challenge answer not stored yet: trying again while the order lock holds"
            );
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.lost.cancelled() => return Err(error),
            }
        }
    }

    /// Waits until every replica whose mirror is live (`replicas/`) confirmed the answer at
    /// `key` (`acks/`), so whichever one the CA reaches answers. Bounded by the TTL plus a
    /// second: by then a replica that cannot confirm has also lost its presence. Missing
    /// confirmations are logged, and the order goes on.
    pub async fn confirm(&self, key: &str) {
        let Some(acks) = self.layout.acks(key) else {
            return;
        };
        let replicas = self.layout.replicas();
        let deadline = Instant::now() + self.ttl + Duration::from_secs(1);
        loop {
            let missing = match (self.etcd.keys(&replicas).await, self.etcd.keys(&acks).await) {
                (Ok(present), Ok(acked)) => {
                    let acked: Vec<&str> =
                        acked.iter().filter_map(|k| k.strip_prefix(&acks)).collect();
                    present
                        .iter()
                        .filter_map(|k| k.strip_prefix(&replicas))
                        .filter(|r| !acked.contains(r))
                        .map(str::to_owned)
                        .collect()
                }
                (Err(e), _) | (_, Err(e)) => vec![e.to_string()],
            };
            if missing.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    base = %self.base, missing = ?missing,
                    "not every replica confirmed the challenge answer: if the CA reaches one of them, this validation fails and is retried"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Withdraws an answer the CA no longer needs.
    pub async fn withdraw_answer(&self, key: &str) {
        if let Err(e) = self.etcd.delete(key).await {
            tracing::debug!(key, error = %e, "challenge answer left to expire with the lock");
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Frees the lock now (its answers go with the lease). If etcd cannot be reached the lease
    /// expires by itself after the TTL.
    pub async fn release(self) {
        self.keeper.abort();
        if let Err(e) = self.etcd.revoke(self.lease).await {
            tracing::warn!(base = %self.base, error = %e, "could not release the shared order lock: it expires after its TTL");
        }
    }
}

impl Drop for CertLock {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}
