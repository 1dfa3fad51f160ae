//! The choices behind the load-balancing modes other than round-robin, as pure functions over
//! backend indices: rendezvous (highest-random-weight) hashing of the client address for
//! `hash $remote_addr;` / `ip_hash;`, the fewest requests in flight for `least_conn;`, and the
//! power of two choices for `random two least_conn;`.
//!
//! Rendezvous hashing rather than `hash % n`: when a backend joins, only the clients whose
//! highest score is now the new backend move (1/(n+1) of them), where `% n` would move most of
//! them; and no ring has to be built or kept per snapshot.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::BackendAddr;

/// A backend's fixed key for rendezvous hashing: the same address gets the same key in every
/// snapshot and every dockside process (no per-process random seed), so a client keeps its
/// backend across rebuilds, restarts and replicas.
pub fn backend_key(addr: &BackendAddr) -> u64 {
    mix(fnv1a(addr.to_string().as_bytes()))
}

/// A client's key: its address (an IPv4-mapped IPv6 address counts as the IPv4 one); with
/// `per_network` (nginx's `ip_hash`) an IPv4 client is keyed by its first three octets.
pub fn client_key(ip: IpAddr, per_network: bool) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) if per_network => mix(fnv1a(&v4.octets()[..3])),
        IpAddr::V4(v4) => mix(fnv1a(&v4.octets())),
        IpAddr::V6(v6) => mix(fnv1a(&v6.octets())),
    }
}

/// The index with the highest score for `client` among `keys` (the first on a tie); `keys` is
/// not empty.
pub fn rendezvous(client: u64, keys: &[u64]) -> usize {
    let mut best = (0, 0);
    for (i, &key) in keys.iter().enumerate() {
        let score = mix(client ^ key);
        if i == 0 || score > best.1 {
            best = (i, score);
        }
    }
    best.0
}

/// The index with the fewest requests in flight, scanning from `from` so ties go round in turn;
/// `in_flight` is not empty.
pub fn least_loaded(in_flight: &[AtomicUsize], from: usize) -> usize {
    let n = in_flight.len();
    let mut best = (from % n, usize::MAX);
    for step in 0..n {
        let i = (from + step) % n;
        let load = in_flight[i].load(Ordering::Relaxed);
        if load < best.1 {
            best = (i, load);
        }
    }
    best.0
}

/// Two distinct random indices, the one with fewer requests in flight (the first on a tie);
/// `in_flight` is not empty.
pub fn two_choices(in_flight: &[AtomicUsize], rng: &mut fastrand::Rng) -> usize {
    let n = in_flight.len();
    if n == 1 {
        return 0;
    }
    let a = rng.usize(..n);
    let mut b = rng.usize(..n - 1);
    if b >= a {
        b += 1;
    }
    let load = |i: usize| in_flight[i].load(Ordering::Relaxed);
    if load(b) < load(a) { b } else { a }
}

/// 64-bit FNV-1a: a stable hash, the same in every process.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64's finalizer: spreads every input bit over the output, so scores of nearby
/// addresses are independent.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
