//! Passive backend health: a backend that refused (or timed out) a connection is skipped for a
//! few seconds. Owned by the proxy, keyed by address, so it survives route-table rebuilds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::model::{Backend, BackendAddr};

/// How long a backend that failed to connect is skipped.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

/// Backends recently seen down, and until when.
#[derive(Debug, Default)]
pub struct PassiveHealth {
    down: Mutex<HashMap<BackendAddr, Instant>>,
    /// Entries in `down`, so the common case (everything up) takes no lock.
    marked: AtomicUsize,
}

impl PassiveHealth {
    /// Records a failed connect: the backend is skipped until `now + DOWN_FOR`. True when
    /// this took it out of rotation (it was not already down): an ejection.
    pub fn mark_down(&self, addr: &BackendAddr) -> bool {
        let mut down = self.lock();
        let now = Instant::now();
        let before = down.insert(addr.clone(), now + DOWN_FOR);
        self.marked.store(down.len(), Ordering::Relaxed);
        before.is_none_or(|until| until <= now)
    }

    /// Records a successful exchange: the backend is eligible again at once.
    pub fn mark_up(&self, addr: &BackendAddr) {
        if self.marked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut down = self.lock();
        down.remove(addr);
        self.marked.store(down.len(), Ordering::Relaxed);
    }

    /// Whether `addr` is currently marked down.
    pub fn is_down(&self, addr: &BackendAddr) -> bool {
        if self.marked.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut down = self.lock();
        let now = Instant::now();
        down.retain(|_, until| *until > now);
        self.marked.store(down.len(), Ordering::Relaxed);
        down.contains_key(addr)
    }

    /// The order to try backends in: the rotation with down backends moved to the end (they
    /// are still tried when nothing else is left, so a recovered backend is found quickly).
    pub fn order<'a>(&self, rotation: impl Iterator<Item = &'a Backend>) -> Vec<&'a Backend> {
        let mut all: Vec<&Backend> = rotation.collect();
        if self.marked.load(Ordering::Relaxed) != 0 {
            all.sort_by_key(|b| self.is_down(&b.addr));
        }
        all
    }

    /// The backends skipped right now, for the dashboard (never called per request).
    pub fn down_now(&self) -> Vec<BackendAddr> {
        if self.marked.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let now = Instant::now();
        let down = self.lock();
        down.iter()
            .filter(|(_, until)| **until > now)
            .map(|(addr, _)| addr.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BackendAddr, Instant>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
