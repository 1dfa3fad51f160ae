//! The servers behind one location and how a request picks among them: the round-robin cursor
//! (nginx's default), or the mode of `com.github.nginx-proxy.nginx-proxy.loadbalance`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::balance;
use crate::model::{Backend, Balance, Proto};

/// The eligible backends of one (host, path), built once per route-table snapshot.
#[derive(Debug)]
pub struct Upstream {
    pub proto: Proto,
    /// Only backends that may take traffic (healthy or without healthcheck, see `Health`).
    pub backends: Vec<Backend>,
    /// Backends excluded because they are starting or unhealthy: for the 503 log line.
    pub excluded: Vec<Backend>,
    pub keepalive: bool,
    pub balance: Balance,
    /// `VIRTUAL_ROOT` of the site, for a FastCGI location (`DOCUMENT_ROOT`, the start of
    /// `SCRIPT_FILENAME`); `None` for the other protocols.
    pub root: Option<Arc<str>>,
    cursor: AtomicUsize,
    /// Each backend's rendezvous key, for the client-hash modes (empty otherwise).
    keys: Box<[u64]>,
    /// Requests in flight per backend, for the modes that read them (`least_conn`, `random
    /// two`); `None` otherwise, so round-robin counts nothing.
    in_flight: Option<Arc<[AtomicUsize]>>,
}

impl Upstream {
    /// Splits `all` into eligible and excluded by health: unhealthy containers get no traffic
    /// while a healthy one of the same location exists, and none at all otherwise. Round-robin.
    pub fn new(proto: Proto, all: Vec<Backend>, keepalive: bool) -> Upstream {
        let (backends, excluded) = all.into_iter().partition(|b| b.health.is_preferred());
        Upstream {
            proto,
            backends,
            excluded,
            keepalive,
            balance: Balance::RoundRobin,
            root: None,
            cursor: AtomicUsize::new(0),
            keys: Box::default(),
            in_flight: None,
        }
    }

    /// The same upstream with the site's `VIRTUAL_ROOT` (`None`: nginx-proxy's default), kept
    /// only for a FastCGI location.
    pub fn rooted(mut self, root: Option<&str>) -> Upstream {
        if self.proto == Proto::Fastcgi {
            self.root = Some(Arc::from(
                root.unwrap_or(crate::model::DEFAULT_VIRTUAL_ROOT),
            ));
        }
        self
    }

    /// The same upstream picking its backends by `balance`, with the state that mode reads.
    pub fn balanced(mut self, balance: Balance) -> Upstream {
        self.balance = balance;
        match balance {
            Balance::ClientHash | Balance::IpHash => {
                self.keys = self
                    .backends
                    .iter()
                    .map(|b| balance::backend_key(&b.addr))
                    .collect();
            }
            Balance::LeastConn | Balance::RandomTwo => {
                self.in_flight = Some(self.backends.iter().map(|_| AtomicUsize::new(0)).collect());
            }
            Balance::RoundRobin | Balance::Random => {}
        }
        self
    }

    /// Shares `previous`'s in-flight counts when it had the same backends and mode: a table
    /// rebuilt for an unrelated change (another container, a health change) keeps counting the
    /// requests still running. A changed set starts from zero (indices would not match).
    pub fn keeping_counts(mut self, previous: Option<&Upstream>) -> Upstream {
        if let (Some(_), Some(prev)) = (&self.in_flight, previous)
            && prev.balance == self.balance
            && prev.backends == self.backends
            && let Some(counts) = &prev.in_flight
        {
            self.in_flight = Some(counts.clone());
        }
        self
    }

    /// The backends in order for one request from `client`: the first is the one the mode
    /// picks, the rest (in turn after it) are the retry order.
    pub fn rotation(&self, client: IpAddr) -> impl Iterator<Item = &Backend> {
        let n = self.backends.len();
        let start = match self.balance {
            _ if n == 0 => 0,
            Balance::RoundRobin => self.cursor.fetch_add(1, Ordering::Relaxed) % n,
            _ => self.pick(client, n),
        };
        (0..n).map(move |i| &self.backends[(start + i) % n])
    }

    /// The first backend of a mode other than round-robin; `n` > 0.
    fn pick(&self, client: IpAddr, n: usize) -> usize {
        match (self.balance, &self.in_flight) {
            (Balance::ClientHash, _) => {
                balance::rendezvous(balance::client_key(client, false), &self.keys)
            }
            (Balance::IpHash, _) => {
                balance::rendezvous(balance::client_key(client, true), &self.keys)
            }
            (Balance::LeastConn, Some(in_flight)) => {
                balance::least_loaded(in_flight, self.cursor.fetch_add(1, Ordering::Relaxed))
            }
            (Balance::RandomTwo, Some(in_flight)) => {
                balance::two_choices(in_flight, &mut fastrand::Rng::new())
            }
            _ => fastrand::usize(..n),
        }
    }

    /// Counts `backend` (one of `rotation`'s) as busy until the returned guard drops: the modes
    /// that read the counts need it; for the others this is `None` at no cost.
    pub fn track(&self, backend: &Backend) -> Option<InFlight> {
        let counters = self.in_flight.as_ref()?;
        let index = self
            .backends
            .iter()
            .position(|b| std::ptr::eq(b, backend))?;
        counters[index].fetch_add(1, Ordering::Relaxed);
        Some(InFlight {
            counters: counters.clone(),
            index,
        })
    }

    /// Requests in flight per backend, for `dockside check` and tests (`None`: not counted).
    pub fn in_flight(&self) -> Option<Vec<usize>> {
        let counters = self.in_flight.as_ref()?;
        Some(counters.iter().map(|c| c.load(Ordering::Relaxed)).collect())
    }
}

/// One request counted against its backend until dropped (after the response body ended or
/// the client went away). Counters belong to one snapshot: a request that outlives a rebuild
/// counts against the old one, which no new request reads.
#[derive(Debug)]
pub struct InFlight {
    counters: Arc<[AtomicUsize]>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counters[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
