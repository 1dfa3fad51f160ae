//! Every replica's mirror of the store: lists everything under the prefix, then watches it, and
//! writes what changed into the local certificate directory (atomic, keys 0600, then published at
//! once) and the local challenge map. Level-triggered: after any break (etcd gone, watch
//! compacted) it lists again and reconciles, retrying with backoff meanwhile; the local directory
//! keeps serving throughout.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio_util::sync::CancellationToken;

use super::Inner;
use super::bundle::{Answer, Bundle, decode_account};
use super::client::Change;
use super::layout::{Key, segment};
use crate::certs::{CertInfo, CertsDir};

/// At most this long between checks that etcd still answers (what `/status` reports); the
/// presence lease is renewed at the same time.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Longest pause between attempts while etcd is away: a mirror must be back before orders
/// (which retry within the lock TTL) need it to answer challenges.
const MAX_RETRY: Duration = Duration::from_secs(2);

/// Where pending challenge answers go: the local challenge map (`acme` implements it).
pub trait AnswerSink: Send + Sync {
    fn set_http01(&self, host: &str, token: &str, key_authorization: &str);
    fn remove_http01(&self, token: &str);
    /// `digest`: SHA-256 of the key authorization.
    fn set_tls_alpn01(&self, host: &str, digest: &[u8]);
    fn remove_tls_alpn01(&self, host: &str);
}

/// What the mirror writes to.
pub struct SyncTarget {
    pub certs: CertsDir,
    /// Publishes `<certs>/<base>/` at once (`certs::Rescan::now`).
    pub publish: Arc<dyn Fn(&str) + Send + Sync>,
    pub answers: Arc<dyn AnswerSink>,
}

/// Mirrors until `cancel`.
pub(super) async fn run(inner: Arc<Inner>, target: SyncTarget, cancel: CancellationToken) {
    let mut mirror = Mirror {
        inner,
        target,
        answers: HashSet::new(),
    };
    let mut failures = 0;
    loop {
        let err = tokio::select! {
            _ = cancel.cancelled() => return,
            r = mirror.cycle(&mut failures) => r,
        };
        failures += 1;
        let delay = super::retry_delay(failures, fastrand::f64()).min(MAX_RETRY);
        tracing::debug!(error = %err, retry_in_s = delay.as_secs_f64(), "shared store sync interrupted");
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

struct Mirror {
    inner: Arc<Inner>,
    target: SyncTarget,
    /// Answer keys mirrored into the challenge map, so a relist removes the ones gone meanwhile.
    answers: HashSet<Key>,
}

impl Mirror {
    /// List, reconcile, then watch until something breaks (the error says what).
    async fn cycle(&mut self, failures: &mut u32) -> String {
        let root = self.inner.layout.root().to_owned();
        let (all, rev) = match self.inner.etcd.list(&root).await {
            Ok(listed) => listed,
            Err(e) => return e.to_string(),
        };
        *failures = 0;
        let present: HashSet<Key> = all
            .iter()
            .filter_map(|e| self.inner.layout.parse(&e.key))
            .collect();
        let gone: Vec<Key> = self.answers.difference(&present).cloned().collect();
        for key in gone {
            self.remove(&key);
        }
        let mut watch = match self.inner.etcd.watch(&root, rev + 1).await {
            Ok(w) => w,
            Err(e) => return e.to_string(),
        };
        for entry in all {
            self.put(&entry.key, &entry.value, entry.lease).await;
        }
        let presence = match self.present().await {
            Ok(lease) => lease,
            Err(e) => return e,
        };
        let mut beat = tokio::time::interval(HEARTBEAT.min(self.inner.lock_ttl / 3));
        loop {
            tokio::select! {
                changes = watch.next() => match changes {
                    Ok(changes) => {
                        self.inner.etcd.mark_ok();
                        for change in changes {
                            match change {
                                Change::Put { key, value, lease } => {
                                    self.put(&key, &value, lease).await
                                }
                                Change::Delete { key } => {
                                    if let Some(key) = self.inner.layout.parse(&key) {
                                        self.remove(&key);
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => return self.inner.etcd.failed(e).to_string(),
                },
                _ = beat.tick() => match self.inner.etcd.renew(presence).await {
                    Ok(left) if left > 0 => {}
                    Ok(_) => return "this replica's presence lease expired".into(),
                    Err(e) => return e.to_string(),
                },
            }
        }
    }

    /// Announces this replica's live mirror (`replicas/<name>` on a lease the heartbeat
    /// renews): an order waits for the answers' confirmations of every present replica.
    async fn present(&self) -> Result<i64, String> {
        let etcd = &self.inner.etcd;
        let lease = etcd
            .grant(self.inner.lock_ttl)
            .await
            .map_err(|e| e.to_string())?;
        let key = self.inner.layout.replica(&self.inner.replica);
        etcd.put(&key, Vec::new(), Some(lease))
            .await
            .map_err(|e| e.to_string())?;
        Ok(lease)
    }

    async fn put(&mut self, name: &str, value: &[u8], lease: i64) {
        let Some(key) = self.inner.layout.parse(name) else {
            return;
        };
        match &key {
            Key::Cert(base) => self.cert(name, base, value).await,
            Key::Account(rel) => self.account(name, rel, value).await,
            Key::Http01(_) | Key::TlsAlpn01(_) => {
                if self.answer(name, key, value) {
                    self.confirm(name, lease).await;
                }
            }
            Key::Lock(_) => {}
        }
    }

    /// Confirms an answer is mirrored here (`acks/.../<replica>`, on the answer's lease so it
    /// goes with the order's lock).
    async fn confirm(&self, name: &str, lease: i64) {
        let Some(acks) = self.inner.layout.acks(name) else {
            return;
        };
        if lease == 0 {
            return;
        }
        let key = format!("{acks}{}", self.inner.replica);
        if let Err(e) = self.inner.etcd.put(&key, Vec::new(), Some(lease)).await {
            tracing::debug!(key, error = %e, "could not confirm a challenge answer");
        }
    }

    fn remove(&mut self, key: &Key) {
        let sink = &self.target.answers;
        match key {
            Key::Http01(token) => sink.remove_http01(token),
            Key::TlsAlpn01(host) => sink.remove_tls_alpn01(host),
            // Certificates and accounts stay in the local cache when removed from the store.
            _ => return,
        }
        self.answers.remove(key);
    }

    /// Mirrors one answer; false when it is unusable.
    fn answer(&mut self, name: &str, key: Key, value: &[u8]) -> bool {
        let answer = match Answer::decode(value) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(key = name, error = %e, "shared store: ignoring an unreadable challenge answer");
                return false;
            }
        };
        let sink = &self.target.answers;
        match (&key, answer) {
            (
                Key::Http01(token),
                Answer::Http01 {
                    host,
                    key_authorization,
                },
            ) => sink.set_http01(&host, token, &key_authorization),
            (Key::TlsAlpn01(host), Answer::TlsAlpn01 { digest }) => {
                match base64::engine::general_purpose::STANDARD.decode(digest) {
                    Ok(d) => sink.set_tls_alpn01(host, &d),
                    Err(_) => {
                        tracing::warn!(
                            key = name,
                            "shared store: ignoring a TLS-ALPN-01 answer whose digest is not base64"
                        );
                        return false;
                    }
                }
            }
            _ => {
                tracing::warn!(
                    key = name,
                    "shared store: ignoring a challenge answer of the wrong kind for its key"
                );
                return false;
            }
        }
        self.answers.insert(key);
        true
    }

    /// Writes a bundle into `<certs>/<base>/` unless the local copy is the same certificate or
    /// a newer one, then publishes it.
    async fn cert(&self, name: &str, base: &str, value: &[u8]) {
        let bundle = match Bundle::decode(value, &self.inner.sealer, name) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(key = name, error = %e, "shared store: ignoring an unreadable certificate bundle (the local copy, if any, keeps serving)");
                return;
            }
        };
        let remote = match CertInfo::from_pem(bundle.chain_pem.as_bytes()) {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(key = name, error = %e, "shared store: ignoring a bundle whose certificate does not parse");
                return;
            }
        };
        if let Some(bad) = bundle
            .hosts
            .iter()
            .find(|h| !segment(h) || h.contains(['\\', ' ']))
        {
            tracing::warn!(key = name, host = %bad, "shared store: ignoring a bundle with an unusable host name");
            return;
        }
        if let Ok(Some(local)) = self.target.certs.read_certificate(base)
            && (same(&local, &remote) || local.not_after > remote.not_after)
        {
            return;
        }
        let (certs, base_owned) = (self.target.certs.clone(), base.to_owned());
        let (hosts, key, chain) = (bundle.hosts, bundle.key_pem, bundle.chain_pem);
        let written = tokio::task::spawn_blocking(move || {
            certs.write_certificate(&base_owned, &hosts, &key, &chain)
        })
        .await;
        match written {
            Ok(Ok(())) => {
                (self.target.publish)(base);
                tracing::info!(
                    base, from = %bundle.replica, not_after = remote.not_after,
                    "certificate from the shared store written to the local directory"
                );
            }
            Ok(Err(e)) => {
                tracing::warn!(base, error = %e, "cannot write a certificate from the shared store")
            }
            Err(e) => {
                tracing::warn!(base, error = %e, "writing a certificate from the shared store failed")
            }
        }
    }

    /// Writes an ACME account file (0600) unless it is already there.
    async fn account(&self, name: &str, rel: &str, value: &[u8]) {
        let creds = match decode_account(value, &self.inner.sealer, name) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(key = name, error = %e, "shared store: ignoring an unreadable ACME account");
                return;
            }
        };
        let certs = &self.target.certs;
        let path = certs.root().join("accounts").join(rel);
        if certs.load_account(&path).ok().flatten().as_deref() == Some(creds.as_slice()) {
            return;
        }
        if let Err(e) = certs.save_account(&path, &creds) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write an ACME account from the shared store");
        }
    }
}

/// The same certificate: same names, expiry and ARI id (which carries the serial).
fn same(a: &CertInfo, b: &CertInfo) -> bool {
    a.names == b.names && a.not_after == b.not_after && a.ari_id == b.ari_id
}
