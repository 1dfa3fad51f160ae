//! One writer's counters (a worker thread, the QUIC thread, or the extra listeners): per-site
//! request series found by the site's dense metrics id, connection and TLS handshake counts.
//! Only the owner writes; the scraper reads every shard and adds them up.

use std::sync::OnceLock;
use std::time::Duration;

use super::cell::{Cell, HistogramCells, Writers};
use super::labels::{REQUEST_SERIES, RequestLabels};

/// Sites per lazily allocated chunk: a shard only pays for the ids it has seen.
const CHUNK: usize = 16;
/// Chunks per shard: 65,536 distinct site names over the life of the process. Ids are never
/// reused (a name keeps its id when it comes back), so this bounds names, not churn.
const CHUNKS: usize = 4096;

/// The numbers of one site in one shard.
#[derive(Debug)]
pub(crate) struct SiteCells {
    pub requests: [Cell; REQUEST_SERIES],
    pub bytes_in: Cell,
    pub bytes_out: Cell,
    pub duration: HistogramCells,
    pub upstream_time: HistogramCells,
}

impl SiteCells {
    fn new() -> SiteCells {
        SiteCells {
            requests: std::array::from_fn(|_| Cell::default()),
            bytes_in: Cell::default(),
            bytes_out: Cell::default(),
            duration: HistogramCells::default(),
            upstream_time: HistogramCells::default(),
        }
    }
}

/// Why a TLS handshake failed (`reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeFailure {
    /// The client asked for a name no site serves (or sent none and there is no default).
    UnknownSni,
    /// A TLS protocol error: no shared version or cipher, a bad record, an alert.
    Protocol,
    /// The client did not finish within the handshake timeout.
    Timeout,
    Other,
}

/// `reason` label values, by `HandshakeFailure as usize`.
pub(crate) const FAILURE_REASONS: [&str; 4] = ["unknown_sni", "protocol", "timeout", "other"];

/// `listener` label of the connection gauge: plain TCP, TLS over TCP, QUIC.
pub(crate) const LISTENERS: [&str; 3] = ["http", "https", "quic"];

/// One finished request, as the shard counts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished {
    /// The site's metrics id; `None` when no site took the request.
    pub site: Option<u32>,
    pub labels: RequestLabels,
    pub bytes_out: u64,
    pub duration: Duration,
    pub upstream_time: Option<Duration>,
}

/// One writer's counters.
#[derive(Debug)]
pub struct Shard {
    writers: Writers,
    chunks: Box<[OnceLock<Box<[SiteCells]>>]>,
    /// Requests no site took (unknown host, bad request).
    unrouted: Box<SiteCells>,
    /// Client connections opened and closed, by [`LISTENERS`] kind; open = opened − closed,
    /// summed over shards.
    opened: [Cell; LISTENERS.len()],
    closed: [Cell; LISTENERS.len()],
    handshakes: Cell,
    failures: [Cell; FAILURE_REASONS.len()],
}

impl Shard {
    pub(crate) fn new(writers: Writers) -> Shard {
        Shard {
            writers,
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            unrouted: Box::new(SiteCells::new()),
            opened: Default::default(),
            closed: Default::default(),
            handshakes: Cell::default(),
            failures: Default::default(),
        }
    }

    /// The cells of site `id`, allocating its chunk on first use (`None` past the id bound).
    #[inline]
    fn site_mut(&self, id: Option<u32>) -> Option<&SiteCells> {
        let Some(id) = id else {
            return Some(&self.unrouted);
        };
        let id = id as usize;
        let chunk = self.chunks.get(id / CHUNK)?;
        let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| SiteCells::new()).collect());
        chunk.get(id % CHUNK)
    }

    /// The cells of site `id` if this shard ever counted it (the scraper's read).
    pub(crate) fn site(&self, id: Option<u32>) -> Option<&SiteCells> {
        let Some(id) = id else {
            return Some(&self.unrouted);
        };
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get()?.get(id % CHUNK)
    }

    /// Counts a finished request.
    #[inline]
    pub(crate) fn finished(&self, done: &Finished) {
        let Some(cells) = self.site_mut(done.site) else {
            return;
        };
        let w = self.writers;
        cells.requests[done.labels.index()].add(1, w);
        cells.bytes_out.add(done.bytes_out, w);
        cells.duration.observe(done.duration, w);
        if let Some(t) = done.upstream_time {
            cells.upstream_time.observe(t, w);
        }
    }

    /// Counts request body bytes received for a site.
    #[inline]
    pub(crate) fn bytes_in(&self, site: Option<u32>, n: u64) {
        if let Some(cells) = self.site_mut(site) {
            cells.bytes_in.add(n, self.writers);
        }
    }

    /// A client connection on a listener of kind `listener` (index into [`LISTENERS`]) opened.
    pub(crate) fn connection_opened(&self, listener: usize) {
        self.opened[listener].add(1, self.writers);
    }

    /// A client connection on a listener of kind `listener` closed.
    pub(crate) fn connection_closed(&self, listener: usize) {
        self.closed[listener].add(1, self.writers);
    }

    /// A TLS handshake completed.
    pub(crate) fn handshake_ok(&self) {
        self.handshakes.add(1, self.writers);
    }

    /// A TLS handshake failed.
    pub(crate) fn handshake_failed(&self, why: HandshakeFailure) {
        self.failures[why as usize].add(1, self.writers);
    }

    /// (opened, closed) connections of kind `listener` this shard saw.
    pub(crate) fn connections(&self, listener: usize) -> (u64, u64) {
        (self.opened[listener].get(), self.closed[listener].get())
    }

    pub(crate) fn handshakes(&self) -> u64 {
        self.handshakes.get()
    }

    pub(crate) fn failures(&self, reason: usize) -> u64 {
        self.failures[reason].get()
    }
}
