//! Upstream failures per backend: connect failures, timeouts and passive-health ejections.
//! They happen on the failure path only, so one shared map (keyed by the backend's address as
//! the routes name it) costs a request that succeeds nothing.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::model::BackendAddr;

/// A worker's upstream pool as the idle-connection gauge reads it (at scrape time only).
pub(crate) trait IdlePool: Send + Sync + 'static {
    /// Calls `out` with each backend's idle connections (a backend may come more than once).
    fn idle_counts(&self, out: &mut dyn FnMut(&BackendAddr, usize));
}

/// What went wrong with a backend (`event` of the failure families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackendEvent {
    /// The TCP (or unix socket) connect failed or timed out.
    ConnectFailure,
    /// The backend did not answer within the upstream timeout.
    Timeout,
    /// Passive health took the backend out of rotation.
    Ejection,
}

/// Counts per backend address: `[connect failures, timeouts, ejections]`.
#[derive(Debug, Default)]
pub(crate) struct Backends(Mutex<HashMap<String, [u64; 3]>>);

impl Backends {
    /// Counts one event for `backend`.
    pub(crate) fn record(&self, backend: &str, event: BackendEvent) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(backend) {
            Some(counts) => counts[event as usize] += 1,
            None => {
                let mut counts = [0; 3];
                counts[event as usize] = 1;
                map.insert(backend.to_owned(), counts);
            }
        }
    }

    /// The counts of `backend`, zero when nothing happened to it.
    pub(crate) fn get(&self, backend: &str) -> [u64; 3] {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(backend).copied().unwrap_or_default()
    }
}
