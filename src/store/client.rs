//! The one file that sees etcd-client types: connects (TLS, user/password), runs each request
//! with a deadline, and records whether etcd answered ([`Health`], what `/status` shows). Callers
//! get plain values: keys as text, values as bytes, leases as ids.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};

use super::settings::StoreSettings;

/// Bound on one request (a healthy cluster answers in milliseconds; a dead one must not hold
/// an order or the sync loop for long).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Why etcd did not do what was asked. The text names the endpoints and what etcd said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("etcd ({endpoints}): {detail}")]
pub struct EtcdError {
    endpoints: String,
    detail: String,
}

/// Whether the store answered lately: what `/status` and the admin API show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    pub endpoints: String,
    pub reachable: bool,
    /// Since when it is in this state.
    pub since: SystemTime,
    /// The last failure while unreachable.
    pub error: Option<String>,
}

/// One key as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    /// The lease it lives on (0: none).
    pub lease: i64,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `lease`: the lease the key lives on (0: none).
    Put {
        key: String,
        value: Vec<u8>,
        lease: i64,
    },
    Delete {
        key: String,
    },
}

/// The connection (made on first use, so a replica starts while etcd is down) and its health.
pub struct Etcd {
    settings: StoreSettings,
    endpoints: String,
    client: tokio::sync::Mutex<Option<Client>>,
    health: Mutex<StoreHealth>,
}

impl Etcd {
    pub fn new(settings: StoreSettings) -> Etcd {
        let endpoints = settings.endpoints.join(",");
        let health = StoreHealth {
            endpoints: endpoints.clone(),
            reachable: false,
            since: SystemTime::now(),
            error: Some("not contacted yet".into()),
        };
        Etcd {
            settings,
            endpoints,
            client: tokio::sync::Mutex::new(None),
            health: Mutex::new(health),
        }
    }

    pub fn health(&self) -> StoreHealth {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every key under `prefix` with its value and lease, and the revision they were read at.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<Entry>, i64), EtcdError> {
        let mut c = self.client().await?;
        let opts = GetOptions::new().with_prefix();
        let resp = self.run(c.get(prefix, Some(opts))).await?;
        let rev = resp.header().map_or(0, |h| h.revision());
        let kvs = resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                Some(Entry {
                    key: kv.key_str().ok()?.to_owned(),
                    value: kv.value().to_vec(),
                    lease: kv.lease(),
                })
            })
            .collect();
        Ok((kvs, rev))
    }

    /// The keys under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, EtcdError> {
        let mut c = self.client().await?;
        let opts = GetOptions::new().with_prefix().with_keys_only();
        let resp = self.run(c.get(prefix, Some(opts))).await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok().map(str::to_owned))
            .collect())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EtcdError> {
        let mut c = self.client().await?;
        let resp = self.run(c.get(key, None)).await?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }

    /// Puts `value`, attached to `lease` when given (gone with it).
    pub async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<i64>,
    ) -> Result<(), EtcdError> {
        let mut c = self.client().await?;
        let opts = lease.map(|id| PutOptions::new().with_lease(id));
        self.run(c.put(key, value, opts)).await.map(drop)
    }

    pub async fn delete(&self, key: &str) -> Result<(), EtcdError> {
        let mut c = self.client().await?;
        self.run(c.delete(key, None)).await.map(drop)
    }

    /// A lease of `ttl`; its keys go when it is revoked or not kept alive.
    pub async fn grant(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let mut c = self.client().await?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        Ok(self.run(c.lease_grant(ttl, None)).await?.id())
    }

    pub async fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        let mut c = self.client().await?;
        self.run(c.lease_revoke(lease)).await.map(drop)
    }

    /// Renews `lease` once; its remaining TTL in seconds (0 or less: it is gone).
    pub async fn renew(&self, lease: i64) -> Result<i64, EtcdError> {
        let mut c = self.client().await?;
        let call = async {
            let (mut keeper, mut stream) = c.lease_keep_alive(lease).await?;
            keeper.keep_alive().await?;
            stream.message().await
        };
        match self.run(call).await? {
            Some(resp) => Ok(resp.ttl()),
            None => Err(self.failed("the lease keep-alive stream closed")),
        }
    }

    /// Creates `key` = `value` on `lease` unless it exists: `None` when created, else the
    /// value found (who holds it).
    pub async fn create(
        &self,
        key: &str,
        value: &str,
        lease: i64,
    ) -> Result<Option<Vec<u8>>, EtcdError> {
        let mut c = self.client().await?;
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.run(c.txn(txn)).await?;
        if resp.succeeded() {
            return Ok(None);
        }
        let found = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.value().to_vec()),
            _ => None,
        });
        Ok(Some(found.unwrap_or_default()))
    }

    /// Watches every key under `prefix` from revision `from` on.
    pub async fn watch(&self, prefix: &str, from: i64) -> Result<Watch, EtcdError> {
        let mut c = self.client().await?;
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(from)
            .with_progress_notify();
        let stream = self.run(c.watch(prefix, Some(opts))).await?;
        Ok(Watch { stream })
    }

    /// The client, connecting first when there is none yet.
    async fn client(&self) -> Result<Client, EtcdError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let options = self.options().map_err(|e| self.failed(e))?;
        let connect = Client::connect(&self.settings.endpoints, Some(options));
        let client = self.run(connect).await?;
        *slot = Some(client.clone());
        Ok(client)
    }

    fn options(&self) -> Result<ConnectOptions, String> {
        let mut o = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        if let Some((user, password)) = &self.settings.user {
            o = o.with_user(user, password).with_auto_token_refresh(true);
        }
        if let Some(tls) = &self.settings.tls {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))
            };
            let mut t = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca)?));
            if let Some((cert, key)) = &tls.client {
                t = t.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            o = o.with_tls(t);
        }
        Ok(o)
    }

    /// Runs one request with the deadline and records the outcome in the health.
    async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
            Ok(Ok(v)) => {
                self.mark_ok();
                Ok(v)
            }
            Ok(Err(e)) => Err(self.failed(describe(&e))),
            Err(_) => Err(self.failed(format!("no answer within {REQUEST_TIMEOUT:?}"))),
        }
    }

    /// Notes a success (logs the recovery once).
    pub fn mark_ok(&self) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if !h.reachable {
            tracing::info!(store = %self.endpoints, "shared store (etcd) reachable: orders and sync resume");
            (h.reachable, h.since, h.error) = (true, SystemTime::now(), None);
        }
    }

    /// Notes a failure (logs the change once) and returns it as an error.
    pub fn failed(&self, detail: impl Into<String>) -> EtcdError {
        let detail = detail.into();
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if h.reachable {
            tracing::warn!(
                store = %self.endpoints, error = %detail,
                "shared store (etcd) unreachable: serving from the local certificate directory, placing no order, retrying"
            );
            (h.reachable, h.since) = (false, SystemTime::now());
        }
        h.error = Some(detail.clone());
        EtcdError {
            endpoints: self.endpoints.clone(),
            detail,
        }
    }
}

/// etcd-client's error with its gRPC status message when it has one.
fn describe(e: &etcd_client::Error) -> String {
    match e {
        etcd_client::Error::GRpcStatus(s) => format!("{:?}: {}", s.code(), s.message()),
        other => other.to_string(),
    }
}

/// A running watch.
pub struct Watch {
    stream: etcd_client::WatchStream,
}

impl Watch {
    /// The next batch of changes (empty for a progress notification); an error when the watch
    /// ended (etcd gone, or the revision compacted away): the caller lists again.
    pub async fn next(&mut self) -> Result<Vec<Change>, String> {
        let resp = match self.stream.message().await {
            Ok(Some(resp)) => resp,
            Ok(None) => return Err("the watch stream closed".into()),
            Err(e) => return Err(describe(&e)),
        };
        if resp.canceled() {
            return Err(format!(
                "the watch was cancelled ({}; compacted at {})",
                resp.cancel_reason(),
                resp.compact_revision()
            ));
        }
        let changes = resp
            .events()
            .iter()
            .filter_map(|ev| {
                let kv = ev.kv()?;
                let key = kv.key_str().ok()?.to_owned();
                Some(match ev.event_type() {
                    EventType::Put => Change::Put {
                        key,
                        value: kv.value().to_vec(),
                        lease: kv.lease(),
                    },
                    EventType::Delete => Change::Delete { key },
                })
            })
            .collect();
        Ok(changes)
    }
}
