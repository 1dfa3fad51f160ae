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
    /// Records a failed connect: the backend is skipped until `now + DOWN_FOR`.
    pub fn mark_down(&self, addr: &BackendAddr) {
        let mut down = self.lock();
        down.insert(addr.clone(), Instant::now() + DOWN_FOR);
        self.marked.store(down.len(), Ordering::Relaxed);
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BackendAddr, Instant>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    fn backend(port: u16) -> Backend {
        Backend {
            addr: BackendAddr::Tcp(([127, 0, 0, 1], port).into()),
            source: format!("b{port}"),
            health: Health::None,
        }
    }

    #[test]
    fn down_backends_go_last_and_come_back() {
        let h = PassiveHealth::default();
        let all = [backend(1), backend(2), backend(3)];
        h.mark_down(&all[0].addr);
        let order: Vec<_> = h
            .order(all.iter())
            .iter()
            .map(|b| b.source.clone())
            .collect();
        assert_eq!(order, ["b2", "b3", "b1"]);
        h.mark_up(&all[0].addr);
        assert!(!h.is_down(&all[0].addr));
        let order: Vec<_> = h
            .order(all.iter())
            .iter()
            .map(|b| b.source.clone())
            .collect();
        assert_eq!(order, ["b1", "b2", "b3"]);
    }
}
