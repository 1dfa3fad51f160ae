//! Shared ACME state for several replicas (`--store etcd://...`): certificates with their keys,
//! ACME accounts, pending challenge answers and a per-certificate order lock, in etcd. The local
//! certificate directory stays the cache every replica serves from; this module mirrors the
//! store into it ([`SharedStore::spawn_sync`]) and lets ACME publish into the store. Only this
//! module sees etcd-client types (in `client`).
//!
//! Inside: `settings` (flags → [`StoreSettings`]), `layout` (pure key names), `bundle` (pure
//! value codec), `seal` (AES-256-GCM of private keys), `client` (etcd, health), `lock` (the
//! lease-backed order lock), `sync` (store → local directory and challenge map).

mod bundle;
mod client;
mod layout;
mod lock;
mod seal;
mod settings;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

pub use bundle::{Answer, Bundle};
pub use client::{EtcdError, StoreHealth};
pub use lock::{AccountLock, AccountTurn, Acquire, CertLock};
pub use seal::SealError;
pub use settings::{StoreFlags, StoreSettings, StoreSettingsError, StoreTls};
pub use sync::{AnswerSink, SyncTarget};

use bundle::{CodecError, decode_account, encode_account};
use client::Etcd;
use layout::Layout;
use seal::Sealer;

/// The handle every part of a replica shares; cheap to clone.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

struct Inner {
    etcd: Arc<Etcd>,
    layout: Layout,
    sealer: Sealer,
    replica: String,
    lock_ttl: Duration,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("replica", &self.inner.replica)
            .field("prefix", &self.inner.layout.root())
            .finish_non_exhaustive()
    }
}

/// A value that could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error("shared store value {key}: {source}")]
    Value {
        key: String,
        #[source]
        source: CodecError,
    },
}

impl SharedStore {
    /// The store for `settings`. Reads the encryption key file (its error is fatal: a replica
    /// that cannot read the others' keys must not start); contacts etcd only on first use, so a
    /// replica starts and serves its cache while etcd is down.
    pub fn new(settings: &StoreSettings) -> Result<SharedStore, SealError> {
        let sealer = match &settings.encryption_key_file {
            Some(path) => Sealer::from_file(path)?,
            None => {
                tracing::warn!(
                    "DOCKSIDE_STORE_ENCRYPTION_KEY_FILE is not set: private keys and ACME account keys are stored in etcd unencrypted; anyone who can read etcd can read them (docs/shared-store.md)"
                );
                Sealer::plain()
            }
        };
        Ok(SharedStore {
            inner: Arc::new(Inner {
                etcd: Arc::new(Etcd::new(settings.clone())),
                layout: Layout::new(&settings.prefix),
                sealer,
                replica: settings.replica.clone(),
                lock_ttl: settings.lock_ttl,
            }),
        })
    }

    /// Whether etcd answered lately.
    pub fn health(&self) -> StoreHealth {
        self.inner.etcd.health()
    }

    /// This replica's name (`--store-replica`).
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// `--store-lock-ttl`: also how long a replica waits before trying a busy lock again.
    pub fn lock_ttl(&self) -> Duration {
        self.inner.lock_ttl
    }

    /// Takes the order lock for `<certs>/<base>/`.
    pub async fn lock(&self, base: &str) -> Result<Acquire, EtcdError> {
        let i = &self.inner;
        lock::acquire(
            i.etcd.clone(),
            i.layout.clone(),
            base,
            &i.replica,
            i.lock_ttl,
        )
        .await
    }

    /// The replica holding the order lock for `base` now, if any.
    pub async fn lock_holder(&self, base: &str) -> Result<Option<String>, EtcdError> {
        let key = self.inner.layout.lock(base);
        let holder = self.inner.etcd.get(&key).await?;
        Ok(holder.map(|h| String::from_utf8_lossy(&h).into_owned()))
    }

    /// The bundle stored for `base`, if any (read under the lock: a certificate another
    /// replica just finished means no order).
    pub async fn bundle(&self, base: &str) -> Result<Option<Bundle>, StoreError> {
        let key = self.inner.layout.cert(base);
        let Some(bytes) = self.inner.etcd.get(&key).await? else {
            return Ok(None);
        };
        Bundle::decode(&bytes, &self.inner.sealer, &key)
            .map(Some)
            .map_err(|source| StoreError::Value { key, source })
    }

    /// Stores a certificate just issued for every replica.
    pub async fn publish_bundle(
        &self,
        base: &str,
        hosts: &[String],
        key_pem: &str,
        chain_pem: &str,
    ) -> Result<(), StoreError> {
        let key = self.inner.layout.cert(base);
        let bundle = Bundle {
            hosts: hosts.to_vec(),
            chain_pem: chain_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            replica: self.inner.replica.clone(),
        };
        let value =
            bundle
                .encode(&self.inner.sealer, &key)
                .map_err(|source| StoreError::Value {
                    key: key.clone(),
                    source,
                })?;
        Ok(self.inner.etcd.put(&key, value, None).await?)
    }

    /// The ACME account file stored at `rel` (its path under `<certs>/accounts/`), if any.
    pub async fn account(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.inner.layout.account(rel);
        let Some(bytes) = self.inner.etcd.get(&key).await? else {
            return Ok(None);
        };
        decode_account(&bytes, &self.inner.sealer, &key)
            .map(Some)
            .map_err(|source| StoreError::Value { key, source })
    }

    /// Takes the right to register the account stored at `rel`, or says who has it.
    pub async fn lock_account(&self, rel: &str) -> Result<AccountTurn, EtcdError> {
        let i = &self.inner;
        lock::account(
            i.etcd.clone(),
            &i.layout.account_lock(rel),
            &i.replica,
            i.lock_ttl,
        )
        .await
    }

    /// Stores an ACME account file; `rel` is its path under `<certs>/accounts/`.
    pub async fn publish_account(&self, rel: &str, credentials: &[u8]) -> Result<(), StoreError> {
        let key = self.inner.layout.account(rel);
        let value = encode_account(credentials, &self.inner.sealer, &key).map_err(|source| {
            StoreError::Value {
                key: key.clone(),
                source,
            }
        })?;
        Ok(self.inner.etcd.put(&key, value, None).await?)
    }

    /// The key and value of an HTTP-01 answer (published under a [`CertLock`]).
    pub fn http01_answer(
        &self,
        host: &str,
        token: &str,
        key_authorization: &str,
    ) -> (String, Answer) {
        let answer = Answer::Http01 {
            host: host.to_ascii_lowercase(),
            key_authorization: key_authorization.to_owned(),
        };
        (self.inner.layout.http01(token), answer)
    }

    /// The key and value of a TLS-ALPN-01 answer for `host`.
    pub fn tls_alpn01_answer(&self, host: &str, digest: &[u8]) -> (String, Answer) {
        let digest = base64::engine::general_purpose::STANDARD.encode(digest);
        (
            self.inner.layout.tls_alpn01(host),
            Answer::TlsAlpn01 { digest },
        )
    }

    /// Starts mirroring the store into `target` until `cancel`.
    pub fn spawn_sync(
        &self,
        target: SyncTarget,
        cancel: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(sync::run(self.inner.clone(), target, cancel))
    }
}

/// Retry delay after `failures` consecutive store failures: 0.5 s doubling to 10 s, ±20 %
/// (`jitter` in [0, 1)), so replicas do not all knock at once when etcd comes back, and are
/// back within seconds when it does.
pub fn retry_delay(failures: u32, jitter: f64) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1 << failures.saturating_sub(1).min(6));
    base.min(Duration::from_secs(10))
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
