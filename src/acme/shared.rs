//! ACME's side of the shared store (`--store`): the order task under the per-certificate lock
//! (another replica's order, or a certificate it already stored, means no order here; a lost
//! lock abandons the order) — the reconciler's and on-demand TLS's alike — publishing what an
//! order produced, and the challenge map as the store's mirror target, so whichever replica
//! the CA reaches answers; and one ACME account registered between the replicas.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::acme::challenge::Challenges;
use crate::acme::error::{Cause, OrderError, Step};
use crate::acme::hooks::{self, Stage};
use crate::acme::options::{CertStatus, OnIssued, Stats};
use crate::acme::order::{Issued, Issuer};
use crate::acme::schedule::{self, Decision, Reason};
use crate::acme::spec::OrderSpec;
use crate::certs::{CertInfo, CertsDir};
use crate::store::{
    AccountLock, AccountTurn, Acquire, AnswerSink, CertLock, SharedStore, retry_delay,
};

/// How one order task ended.
pub(super) enum Outcome {
    /// This replica ordered (successfully or not).
    Ordered(Result<Issued, OrderError>),
    /// This replica did not order.
    Skipped(Skip),
}

/// Why an order task placed no order.
pub(super) enum Skip {
    /// Another replica holds the certificate's lock (it is ordering it now).
    Busy { holder: String },
    /// Another replica already stored a valid certificate: written here instead.
    FromStore,
    /// The shared store did not answer: no order without the lock.
    StoreDown(String),
}

/// Everything one order task needs, moved into it.
pub(super) struct OrderTask {
    pub issuer: Arc<Issuer>,
    pub spec: OrderSpec,
    pub reason: Reason,
    /// `dockside renew --force`: order even if the store holds a valid certificate.
    pub forced: bool,
    pub limit: Duration,
    pub store: CertsDir,
    pub on_issued: OnIssued,
    pub stats: Arc<Stats>,
    pub shared: Option<SharedStore>,
}

impl OrderTask {
    /// Takes the lock (with a store), re-reads the store under it, then orders with the hooks
    /// around, abandoning the order if the lock is lost.
    pub(super) async fn run(self) -> (OrderSpec, Outcome) {
        let base = self.spec.base_dir_name.clone();
        let lock = match &self.shared {
            None => None,
            Some(shared) => match shared.lock(&base).await {
                Ok(Acquire::Held(lock)) => Some(lock),
                Ok(Acquire::Busy { holder }) => return self.skip(Skip::Busy { holder }),
                Err(e) => return self.skip(Skip::StoreDown(e.to_string())),
            },
        };
        if let (Some(shared), Some(_)) = (&self.shared, &lock)
            && !self.forced
        {
            let found = self.stored(shared).await;
            if !matches!(found, Ok(false)) {
                if let Some(lock) = lock {
                    lock.release().await;
                }
                return self.skip(match found {
                    Ok(_) => Skip::FromStore,
                    Err(e) => Skip::StoreDown(e),
                });
            }
        }
        let spec = &self.spec;
        tracing::info!(
            base = %base, hosts = %spec.hosts.join(","), ca = %spec.ca_url, reason = ?self.reason,
            "ordering certificate"
        );
        self.stats.orders_started.fetch_add(1, Ordering::Relaxed);
        let certs = self.store.root().to_path_buf();
        hooks::run_for(spec, Stage::Pre, &certs).await;
        let result = self.issue(lock.as_ref()).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        let ok = result.is_ok();
        // Served first: a slow ACME_POST_HOOK must not delay the new certificate.
        if let Ok(issued) = &result {
            // Recorded before it is announced: whoever reacts to `on_issued` (the TLS reload,
            // the status page, a test) must read `Valid`, not a stale state.
            if let Some(status) = valid_status(spec, &issued.info) {
                self.stats.set(&base, status);
            }
            (self.on_issued)(&base);
        }
        hooks::run_for(spec, Stage::Post { ok }, &certs).await;
        (self.spec, Outcome::Ordered(result))
    }

    /// The order itself, bounded by the order timeout and, under a lock, by the lock.
    async fn issue(&self, lock: Option<&CertLock>) -> Result<Issued, OrderError> {
        issue_under(&self.issuer, &self.spec, lock, self.limit).await
    }

    /// Under the lock: whether the store already holds a valid certificate for this spec (then
    /// written here and published, and no order is placed).
    async fn stored(&self, shared: &SharedStore) -> Result<bool, String> {
        let base = &self.spec.base_dir_name;
        let Some(status) = take_stored(shared, &self.spec, &self.store).await? else {
            return Ok(false);
        };
        self.stats.set(base, status);
        (self.on_issued)(base);
        tracing::info!(base = %base, "certificate already in the shared store: written here, no order placed");
        Ok(true)
    }

    fn skip(self, why: Skip) -> (OrderSpec, Outcome) {
        (self.spec, Outcome::Skipped(why))
    }
}

/// `spec` ordered by `issuer`, bounded by `limit` and, under a lock, by the lock: a lost lock
/// abandons the order.
async fn issue_under(
    issuer: &Issuer,
    spec: &OrderSpec,
    lock: Option<&CertLock>,
    limit: Duration,
) -> Result<Issued, OrderError> {
    let fail = |step, cause| OrderError {
        hosts: spec.hosts.clone(),
        ca: spec.ca_url.clone(),
        step,
        cause,
        retry_after: None,
    };
    let order = tokio::time::timeout(limit, issuer.issue_locked(spec, lock));
    let lost = async {
        match lock {
            Some(lock) => lock.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        done = order => match done {
            Ok(result) => result,
            Err(_) => Err(fail(Step::Order, Cause::Timeout)),
        },
        _ = lost => {
            let lost = "the order lock's lease expired (etcd unreachable past --store-lock-ttl)";
            Err(fail(Step::Order, Cause::Unusable(lost.into())))
        }
    }
}

/// The certificate the store holds for `spec`, written into `store` when it is valid for it;
/// its status then (`None`: nothing usable stored).
async fn take_stored(
    shared: &SharedStore,
    spec: &OrderSpec,
    store: &CertsDir,
) -> Result<Option<CertStatus>, String> {
    let base = &spec.base_dir_name;
    let Some(bundle) = shared.bundle(base).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let Ok(info) = CertInfo::from_pem(bundle.chain_pem.as_bytes()) else {
        return Ok(None);
    };
    let Some(status) = valid_status(spec, &info) else {
        return Ok(None);
    };
    let (store, b) = (store.clone(), base.clone());
    let written = tokio::task::spawn_blocking(move || {
        store.write_certificate(&b, &bundle.hosts, &bundle.key_pem, &bundle.chain_pem)
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(Some(status)),
        Ok(Err(e)) => Err(format!("writing the stored certificate: {e}")),
        Err(e) => Err(format!("writing the stored certificate: {e}")),
    }
}

/// How an on-demand order with `--store` ended.
pub(super) enum OnDemandShared {
    /// Ordered here.
    Ordered(Result<Issued, OrderError>),
    /// Another replica stored it (before this one took the lock, or while it waited on that
    /// replica's lock): written here, no order.
    FromStore,
    /// No order placed: the store did not answer, or the replica holding the lock stored
    /// nothing within the wait.
    NotOrdered(String),
}

/// How often a replica waiting on another's on-demand order looks for its certificate.
const ON_DEMAND_POLL: Duration = Duration::from_millis(250);

/// An on-demand order with `--store`: under the certificate's lock like the reconciler's, so
/// replicas receiving the first handshakes for a new name at once order it once, with the
/// challenge answers published for every replica. A replica finding the lock taken waits, up
/// to `limit`, for the certificate the holder stores (or for the lock to free, then orders).
pub(super) async fn on_demand_order(
    issuer: &Issuer,
    shared: &SharedStore,
    spec: &OrderSpec,
    store: &CertsDir,
    limit: Duration,
) -> OnDemandShared {
    let base = &spec.base_dir_name;
    let deadline = tokio::time::Instant::now() + limit;
    let down = |e: &dyn std::fmt::Display| {
        OnDemandShared::NotOrdered(format!(
            "no order while the shared store is unreachable: {e}"
        ))
    };
    loop {
        let holder = match shared.lock(base).await {
            Err(e) => return down(&e),
            Ok(Acquire::Held(lock)) => {
                let found = take_stored(shared, spec, store).await;
                if !matches!(found, Ok(None)) {
                    lock.release().await;
                    return match found {
                        Ok(_) => OnDemandShared::FromStore,
                        Err(e) => OnDemandShared::NotOrdered(e),
                    };
                }
                tracing::info!(name = %spec.hosts.join(","), ca = %spec.ca_url, "ordering an on-demand certificate");
                let result = issue_under(issuer, spec, Some(&lock), limit).await;
                lock.release().await;
                return OnDemandShared::Ordered(result);
            }
            Ok(Acquire::Busy { holder }) => holder,
        };
        tracing::debug!(base = %base, holder = %holder, "another replica orders this on-demand certificate: waiting for it");
        loop {
            if tokio::time::Instant::now() >= deadline {
                return OnDemandShared::NotOrdered(format!(
                    "replica {holder} is ordering it (shared order lock) and stored nothing within {limit:?}"
                ));
            }
            tokio::time::sleep(ON_DEMAND_POLL).await;
            match take_stored(shared, spec, store).await {
                Ok(Some(_)) => return OnDemandShared::FromStore,
                Ok(None) => {}
                Err(e) => return OnDemandShared::NotOrdered(e),
            }
            // The holder failed or gave up when its lock is gone: take it and order here.
            match shared.lock_holder(base).await {
                Ok(None) => break,
                Ok(Some(_)) => {}
                Err(e) => return down(&e),
            }
        }
    }
}

/// The status of a certificate just written for `spec`, as the next pass would record it (no
/// ARI answer yet); `None` when it would be ordered again at once.
pub(super) fn valid_status(spec: &OrderSpec, info: &CertInfo) -> Option<CertStatus> {
    let decision = schedule::decide(
        crate::acme::reconciler::unix_now(),
        Some(info),
        &spec.hosts,
        spec.renew_after_days,
        None,
    );
    match decision {
        Decision::ValidUntil(renew_at) => Some(CertStatus::Valid {
            not_after: info.not_after,
            renew_at,
        }),
        Decision::Order(_) => None,
    }
}

/// Stores a certificate just written for the other replicas; retried a few times (they would
/// otherwise order it again once the lock is free), then a warning.
pub(super) async fn publish_certificate(
    shared: &SharedStore,
    spec: &OrderSpec,
    key_pem: &str,
    chain_pem: &str,
) {
    let base = &spec.base_dir_name;
    for attempt in 1..=3 {
        match shared
            .publish_bundle(base, &spec.hosts, key_pem, chain_pem)
            .await
        {
            Ok(()) => {
                tracing::info!(base = %base, "certificate stored in the shared store for the other replicas");
                return;
            }
            Err(e) if attempt == 3 => tracing::warn!(
                base = %base, error = %e,
                "certificate written here but not stored in the shared store: other replicas order their own once they can"
            ),
            Err(_) => tokio::time::sleep(retry_delay(attempt, fastrand::f64())).await,
        }
    }
}

/// Where a replica's ACME account comes from when it has none on disk.
pub(super) enum AccountSource {
    /// Another replica registered it: its credentials (account JSON).
    Stored(Vec<u8>),
    /// This replica registers it, holding the account lock when it got one (released after).
    Register(Option<AccountLock>),
}

/// The account another replica registered for `path` (under `<root>/accounts/`), or this
/// replica's turn to register it: replicas ordering different certificates at once register
/// one account between them. One replica registers while the others wait for its account to
/// appear in the store, for up to twice the lock TTL (the lock's lease is the TTL); a store
/// that does not answer leaves each replica to register its own, as without a store.
pub(super) async fn account_source(
    shared: &SharedStore,
    root: &Path,
    path: &Path,
) -> AccountSource {
    let Ok(rel) = path.strip_prefix(root.join("accounts")) else {
        return AccountSource::Register(None);
    };
    let rel = rel.to_string_lossy();
    let deadline = tokio::time::Instant::now() + 2 * shared.lock_ttl();
    let mut waiting_for = None;
    loop {
        match shared.account(&rel).await {
            Ok(Some(creds)) => return AccountSource::Stored(creds),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the ACME account from the shared store: registering one on this replica");
                return AccountSource::Register(None);
            }
        }
        match shared.lock_account(&rel).await {
            Ok(AccountTurn::Ours(lock)) => {
                // Another replica may have stored one between the read above and the lock.
                return match shared.account(&rel).await {
                    Ok(Some(creds)) => {
                        lock.release().await;
                        AccountSource::Stored(creds)
                    }
                    _ => AccountSource::Register(Some(lock)),
                };
            }
            Ok(AccountTurn::Theirs { holder }) if tokio::time::Instant::now() < deadline => {
                if waiting_for.as_ref() != Some(&holder) {
                    tracing::info!(path = %path.display(), holder = %holder, "another replica is registering the ACME account: waiting for it in the shared store");
                    waiting_for = Some(holder);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(AccountTurn::Theirs { holder }) => {
                tracing::warn!(path = %path.display(), holder = %holder, "the ACME account another replica is registering did not reach the shared store in time: registering one on this replica");
                return AccountSource::Register(None);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot take the shared ACME account lock: registering one on this replica");
                return AccountSource::Register(None);
            }
        }
    }
}

/// Stores an ACME account just registered (`path` under `<root>/accounts/`).
pub(super) async fn publish_account(shared: &SharedStore, root: &Path, path: &Path, json: &[u8]) {
    let Ok(rel) = path.strip_prefix(root.join("accounts")) else {
        return;
    };
    if let Err(e) = shared.publish_account(&rel.to_string_lossy(), json).await {
        tracing::warn!(path = %path.display(), error = %e, "ACME account not stored in the shared store: other replicas register their own");
    }
}

/// The store's mirror writes pending answers of other replicas' orders here.
impl AnswerSink for Challenges {
    fn set_http01(&self, host: &str, token: &str, key_authorization: &str) {
        Challenges::set_http01(self, host, token, key_authorization);
    }

    fn remove_http01(&self, token: &str) {
        Challenges::remove_http01(self, token);
    }

    fn set_tls_alpn01(&self, host: &str, digest: &[u8]) {
        match crate::acme::alpn::validation_key(host, digest) {
            Ok(cert) => Challenges::set_tls_alpn01(self, host, cert),
            Err(e) => {
                tracing::warn!(host, error = %e, "cannot answer another replica's TLS-ALPN-01 challenge")
            }
        }
    }

    fn remove_tls_alpn01(&self, host: &str) {
        Challenges::remove_tls_alpn01(self, host);
    }
}
