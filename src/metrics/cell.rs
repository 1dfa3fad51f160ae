//! The storage of one number: a relaxed atomic that only its shard's thread writes, so an
//! increment is a plain load and store (no locked instruction), read by the scraper at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a shard's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writers {
    /// Only one thread ever writes (a worker's or the QUIC thread's single-threaded runtime):
    /// load + store, which cannot lose an increment when nobody else stores.
    One,
    /// Tasks of a multi-threaded runtime write (the extra listeners on the control runtime):
    /// a real `fetch_add`.
    Many,
}

/// One counter cell.
#[derive(Debug, Default)]
pub(crate) struct Cell(AtomicU64);

impl Cell {
    #[inline]
    pub(crate) fn add(&self, n: u64, writers: Writers) {
        match writers {
            Writers::One => self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed),
            Writers::Many => {
                self.0.fetch_add(n, Relaxed);
            }
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Bucket bounds in seconds (Prometheus' defaults, which fit request latencies); one more
/// bucket, `+Inf`, follows.
pub(crate) const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram: per-bucket (not cumulative) counts and the sum in microseconds.
#[derive(Debug, Default)]
pub(crate) struct HistogramCells {
    buckets: [Cell; BUCKETS.len() + 1],
    sum_micros: Cell,
}

impl HistogramCells {
    #[inline]
    pub(crate) fn observe(&self, value: Duration, writers: Writers) {
        let secs = value.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].add(1, writers);
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.add(micros, writers);
    }

    /// Adds this histogram's counts into `into` (scrape-time merge).
    pub(crate) fn merge_into(&self, into: &mut Histogram) {
        for (total, cell) in into.buckets.iter_mut().zip(&self.buckets) {
            *total += cell.get();
        }
        into.sum_micros += self.sum_micros.get();
    }
}

/// A merged histogram, as the encoder writes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Histogram {
    pub buckets: [u64; BUCKETS.len() + 1],
    pub sum_micros: u64,
}

impl Histogram {
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `(upper bound, count)` pairs as prometheus-client takes them (the last, `f64::INFINITY`, is `+Inf`).
    pub(crate) fn pairs(&self) -> Vec<(f64, u64)> {
        BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.buckets.iter().copied())
            .collect()
    }
}
