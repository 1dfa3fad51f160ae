//! Prometheus `/metrics` for the data plane: requests, latencies and bytes per site, client
//! connections, TLS handshakes and upstream failures per backend.
//!
//! Counting is per writer: every worker thread (and the QUIC thread, and the extra listeners
//! together) owns a [`Shard`] that only it writes, so a request pays a few plain stores and no
//! shared atomic. A site's cells are found by its dense metrics id (`SiteRoute::metrics_id`,
//! assigned when the route table is built), never by hashing its name. The scraper adds the
//! shards up and writes OpenMetrics text with the official `prometheus-client` encoder. Only
//! the sites and backends of the live snapshot are written: a removed site stops being exported.

mod backends;
mod cell;
mod encode;
mod labels;
mod received;
mod shard;

use std::sync::{Arc, Mutex, PoisonError};

pub(crate) use backends::{BackendEvent, Backends, IdlePool};
pub(crate) use cell::Writers;
pub(crate) use labels::{RequestLabels, downstream, method_class, status_class, upstream};
pub(crate) use received::count_received;
pub use shard::Shard;
pub(crate) use shard::{Finished, HandshakeFailure};

use crate::live::Live;

/// The data plane's metrics: every shard, the backend failure counts, and the live snapshot
/// that says which sites and backends exist.
pub struct Metrics {
    shards: Mutex<Vec<Arc<Shard>>>,
    backends: Arc<Backends>,
    /// Every worker's upstream pool, asked for its idle connections at scrape time.
    pools: Mutex<Vec<Arc<dyn IdlePool>>>,
    live: Arc<Live>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("shards", &self.lock().len())
            .finish_non_exhaustive()
    }
}

/// One site's totals over every shard, for the dashboard's rates.
#[allow(dead_code, reason = "sampled by the admin dashboard")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTotals {
    pub site: String,
    pub requests: u64,
    /// Requests answered with a 5xx status.
    pub errors_5xx: u64,
}

impl Metrics {
    /// The metrics of the sites `live` serves.
    pub fn new(live: Arc<Live>) -> Arc<Metrics> {
        Arc::new(Metrics {
            shards: Mutex::new(Vec::new()),
            backends: Arc::new(Backends::default()),
            pools: Mutex::new(Vec::new()),
            live,
        })
    }

    /// A new shard for one writer (a worker thread, the QUIC thread, the extra listeners).
    pub(crate) fn shard(&self, writers: Writers) -> Arc<Shard> {
        let shard = Arc::new(Shard::new(writers));
        self.lock().push(shard.clone());
        shard
    }

    /// The per-backend failure counts (connect failures, timeouts, ejections): written on the
    /// failure path only, so one shared map is enough.
    pub(crate) fn backends(&self) -> &Arc<Backends> {
        &self.backends
    }

    /// Adds a worker's upstream pool to the idle-connection gauge.
    pub(crate) fn add_pool(&self, pool: Arc<dyn IdlePool>) {
        self.pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pool);
    }

    /// Writes the data plane's metric families as OpenMetrics text, without the final
    /// `# EOF` line: the admin handler appends other sections, then EOF.
    pub(crate) fn encode(&self, out: &mut String) {
        let shards = self.lock().clone();
        let pools = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let live = self.live.load();
        encode::write(out, &shards, &live, &self.backends, &pools);
    }

    /// Requests and 5xx answers per live site, summed over the shards.
    #[allow(dead_code, reason = "sampled by the admin dashboard")]
    pub(crate) fn site_totals(&self) -> Vec<SiteTotals> {
        let shards = self.lock().clone();
        let live = self.live.load();
        encode::site_totals(&shards, &live)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Shard>>> {
        self.shards.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
