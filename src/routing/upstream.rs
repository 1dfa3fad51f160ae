//! The servers behind one location and the round-robin cursor over them.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::{Backend, Proto};

/// The eligible backends of one (host, path), built once per route-table snapshot.
#[derive(Debug)]
pub struct Upstream {
    pub proto: Proto,
    /// Only backends that may take traffic (healthy or without healthcheck, see `Health`).
    pub backends: Vec<Backend>,
    /// Backends excluded because they are starting or unhealthy: for the 503 log line.
    pub excluded: Vec<Backend>,
    pub keepalive: bool,
    cursor: AtomicUsize,
}

impl Upstream {
    /// Splits `all` into eligible and excluded by health: unhealthy containers get no traffic
    /// while a healthy one of the same location exists, and none at all otherwise.
    pub fn new(proto: Proto, all: Vec<Backend>, keepalive: bool) -> Upstream {
        let (backends, excluded) = all.into_iter().partition(|b| b.health.is_preferred());
        Upstream {
            proto,
            backends,
            excluded,
            keepalive,
            cursor: AtomicUsize::new(0),
        }
    }

    /// The backends in round-robin order for one request: the first is this request's turn,
    /// the rest are the retry order.
    pub fn rotation(&self) -> impl Iterator<Item = &Backend> {
        let n = self.backends.len();
        let start = if n == 0 {
            0
        } else {
            self.cursor.fetch_add(1, Ordering::Relaxed) % n
        };
        (0..n).map(move |i| &self.backends[(start + i) % n])
    }
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
