//! Keeps per-request warnings (unknown host, dead backend) from flooding the log under load:
//! the first occurrence of a (host, problem) is logged at once, then at most one line per
//! interval, saying how many were suppressed in between.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Distinct keys remembered; past this the memory is cleared (a flood of random Host headers
/// must not grow it without bound).
const MAX_KEYS: usize = 4096;

/// A per-key rate limit for log lines.
pub struct LogThrottle {
    interval: Duration,
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(suppressed)` when a line for `key` should be written now (with the number of
    /// occurrences swallowed since the last one), `None` when it should be skipped.
    pub fn admit(&self, key: &str, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_KEYS && !seen.contains_key(key) {
            seen.clear();
        }
        match seen.get_mut(key) {
            Some((last, suppressed)) if now.duration_since(*last) < self.interval => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                *last = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
#[path = "log_throttle_tests.rs"]
mod tests;
