//! The one file that sees etcd-client types: connects (TLS, user/password), runs each request
//! with a deadline, and records whether etcd answered ([`Health`], what `/status` shows). Callers
//! get plain values: keys as text, values as bytes, leases as ids.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};

use super::settings::StoreSettings;

/// Bound on one request (a healthy cluster answers in milliseconds; a dead one must not hold
/// an order or the sync loop for long).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a request that a member refused or dropped (`member_gone`) is sent again (to whichever member the client
/// picks next) before the store counts as unreachable; with the whole cluster down a call
/// fails after about this long instead of at once.
const RESEND_BUDGET: Duration = Duration::from_secs(1);
const RESEND_FIRST_PAUSE: Duration = Duration::from_millis(5);
const RESEND_MAX_PAUSE: Duration = Duration::from_millis(100);

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
        let opts = GetOptions::new().with_prefix();
        let resp = self
            .run(|mut c| {
                let opts = opts.clone();
                async move { c.get(prefix, Some(opts)).await }
            })
            .await?;
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
        let opts = GetOptions::new().with_prefix().with_keys_only();
        let resp = self
            .run(|mut c| {
                let opts = opts.clone();
                async move { c.get(prefix, Some(opts)).await }
            })
            .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok().map(str::to_owned))
            .collect())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EtcdError> {
        let resp = self
            .run(|mut c| async move { c.get(key, None).await })
            .await?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }

    /// Puts `value`, attached to `lease` when given (gone with it).
    pub async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<i64>,
    ) -> Result<(), EtcdError> {
        let opts = lease.map(|id| PutOptions::new().with_lease(id));
        self.run(|mut c| {
            let (value, opts) = (value.clone(), opts.clone());
            async move { c.put(key, value, opts).await }
        })
        .await
        .map(drop)
    }

    pub async fn delete(&self, key: &str) -> Result<(), EtcdError> {
        self.run(|mut c| async move { c.delete(key, None).await })
            .await
            .map(drop)
    }

    /// A lease of `ttl`; its keys go when it is revoked or not kept alive.
    pub async fn grant(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let resp = self
            .run(|mut c| async move { c.lease_grant(ttl, None).await })
            .await?;
        Ok(resp.id())
    }

    pub async fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        self.run(|mut c| async move { c.lease_revoke(lease).await })
            .await
            .map(drop)
    }

    /// Renews `lease` once; its remaining TTL in seconds (0 or less: it is gone).
    pub async fn renew(&self, lease: i64) -> Result<i64, EtcdError> {
        let call = |mut c: Client| async move {
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
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self
            .run(|mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        if resp.succeeded() {
            return Ok(None);
        }
        let found = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| (kv.lease(), kv.value().to_vec())),
            _ => None,
        });
        match found {
            // Our own put, applied before the member that took it went away and sent again
            // (`run`): the lease is this call's, so the key is ours.
            Some((held_on, _)) if held_on == lease => Ok(None),
            other => Ok(Some(other.map(|(_, v)| v).unwrap_or_default())),
        }
    }

    /// Watches every key under `prefix` from revision `from` on.
    pub async fn watch(&self, prefix: &str, from: i64) -> Result<Watch, EtcdError> {
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(from)
            .with_progress_notify();
        let stream = self
            .run(|mut c| {
                let opts = opts.clone();
                async move { c.watch(prefix, Some(opts)).await }
            })
            .await?;
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
        let client = match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(self.failed(describe(&e))),
            Err(_) => return Err(self.failed(format!("no answer within {REQUEST_TIMEOUT:?}"))),
        };
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

    /// Runs one request with the deadline and records the outcome in the health. A request
    /// that never left (its member refused the connection) is sent again: the client balances
    /// over every endpoint and does not skip a dead one, so with one member of three down a
    /// third of the calls would fail although the cluster has its quorum.
    async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, EtcdError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let started = Instant::now();
        let deadline = started + REQUEST_TIMEOUT;
        let mut pause = RESEND_FIRST_PAUSE;
        loop {
            let client = self.client().await?;
            match tokio::time::timeout_at(deadline, call(client)).await {
                Ok(Ok(v)) => {
                    self.mark_ok();
                    return Ok(v);
                }
                Ok(Err(e)) if member_gone(&e) && started.elapsed() + pause < RESEND_BUDGET => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RESEND_MAX_PAUSE);
                }
                Ok(Err(e)) => return Err(self.failed(describe(&e))),
                Err(_) => return Err(self.failed(format!("no answer within {REQUEST_TIMEOUT:?}"))),
            }
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

/// Whether `e` is a member going away rather than an answer: its connection was refused (the
/// request never reached it), or broken or closed under the request (it may have been applied). Sending
/// it again is safe for every call here: reads, puts of the same value, revokes and renewals
/// are idempotent, a second lease granted just expires, and a create-if-absent that finds the
/// key on its own lease knows it is its own ([`Etcd::create`]).
fn member_gone(e: &etcd_client::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset};
    // etcd-client's error names no source; the gRPC status inside it holds the chain.
    let etcd_client::Error::GRpcStatus(status) = e else {
        return false;
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(status);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ConnectionRefused | BrokenPipe | ConnectionReset | ConnectionAborted
            )
        {
            return true;
        }
        // The connection closed under a request in flight (hyper's "operation was canceled").
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_canceled() || h.is_closed() || h.is_incomplete_message())
        {
            return true;
        }
        next = err.source();
    }
    false
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
