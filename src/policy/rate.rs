//! Per-client request rate limiting, nginx's `limit_req zone=… burst=N nodelay`, in a table of
//! fixed size: the limit itself ([`RateLimiter`]), and the setting's syntax ([`parse_rate`]).
//!
//! The limiter is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per
//! client): a client's state is its "theoretical arrival time" (TAT), the moment its bucket would
//! be full again. A request at `now` conforms when `TAT − now ≤ burst × interval`, and then moves
//! TAT one interval on. A client is admitted `burst + 1` requests at once (nginx's `nodelay`
//! count: its first request leaves `excess` at 0), then one per interval; the others are refused
//! with the wait until the next one would conform, which becomes `Retry-After`.
//!
//! **Bounded memory.** Clients live in a set-associative table allocated once: each address
//! hashes (with a per-limiter random key, so nobody can aim addresses at one set) to a set of
//! [`WAYS`] slots, and a new client takes a slot of its set. The slot given up is, first, one
//! whose TAT has passed — such a client's state is exactly a fresh client's, so forgetting it loses
//! nothing — and only when every slot of the set is still draining, the one closest to drained.
//! Under a flood of distinct addresses the table stays the same size; what a flood can do is make
//! the limiter forget a client that is still draining, which then starts afresh with a full burst
//! (fail open). nginx instead answers 503 to new clients when its zone is full of live states
//! (fail closed); that turns an address flood into a lock-out of every new visitor, while failing
//! open gives the forgotten client no more than the flood's own addresses already get — one burst
//! each — and the eviction order keeps heavy clients (far-away TAT) longest.
//!
//! **IPv6 clients are counted per /64**: one host is normally given a whole /64 and may use any
//! address in it, so per-address counting would let it take a fresh burst per address. IPv4
//! clients (including IPv4-mapped IPv6 ones) are counted per address, like nginx's
//! `$binary_remote_addr`.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::spec::RateLimit;

/// Slots per set: a new client may take any of them.
const WAYS: usize = 8;
/// Independent locks, so worker threads rarely wait for each other.
const SHARDS: usize = 64;
/// Clients a limiter keeps by default: 16384 × 24 bytes = 384 KiB per limited site.
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// Prefix length an IPv6 client is counted by (see the module comment).
const IPV6_CLIENT_PREFIX: u32 = 64;

/// One site's request rate limit, shared by every worker thread (`Send + Sync`); built once per
/// route-table build from the site's [`RateLimit`].
pub struct RateLimiter {
    /// Nanoseconds between two requests at the steady rate (≥ 1).
    interval: u64,
    /// Nanoseconds a client may run ahead of the steady rate: `burst × interval`.
    tolerance: u64,
    /// Times are kept as nanoseconds since this instant (0 marks an empty slot).
    base: Instant,
    hasher: RandomState,
    sets_per_shard: usize,
    shards: Box<[Mutex<Shard>]>,
}

/// `sets_per_shard × WAYS` slots: client keys and their TATs (0: empty).
struct Shard {
    keys: Box<[u128]>,
    tats: Box<[u64]>,
}

impl RateLimiter {
    /// A limiter keeping up to [`DEFAULT_CAPACITY`] clients.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter::with_capacity(limit, DEFAULT_CAPACITY)
    }

    /// A limiter keeping about `clients` clients (rounded up to whole sets; see [`capacity`]).
    ///
    /// [`capacity`]: RateLimiter::capacity
    pub fn with_capacity(limit: RateLimit, clients: usize) -> RateLimiter {
        let interval = (1_000_000_000_000 / limit.millirequests_per_second.max(1)).max(1);
        let sets_per_shard = clients.div_ceil(SHARDS * WAYS).max(1);
        let slots = sets_per_shard * WAYS;
        let shards = (0..SHARDS)
            .map(|_| {
                // Zeroed allocations: the OS maps the pages only when slots are first written.
                Mutex::new(Shard {
                    keys: vec![0u128; slots].into_boxed_slice(),
                    tats: vec![0u64; slots].into_boxed_slice(),
                })
            })
            .collect();
        RateLimiter {
            interval,
            tolerance: interval.saturating_mul(u64::from(limit.burst)),
            base: Instant::now(),
            hasher: RandomState::new(),
            sets_per_shard,
            shards,
        }
    }

    /// Counts a request from `client` at `now`: `Ok` to serve it, or `Err(wait)` to refuse it with
    /// 429 and `Retry-After: ⌈wait⌉` seconds (a refused request is not counted).
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        self.update(client, now, true)
    }

    /// Whether a request from `client` at `now` would be served, without counting it. The basic
    /// auth failure limit asks this before verifying and counts only the failures.
    pub(crate) fn peek(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        self.update(client, now, false)
    }

    /// How many clients the table holds at most: its memory is allocated once, at this size.
    pub fn capacity(&self) -> usize {
        SHARDS * self.sets_per_shard * WAYS
    }

    /// Clients whose state at `now` differs from a fresh client's (for tests and status).
    pub fn tracked(&self, now: Instant) -> usize {
        let t = self.nanos(now);
        self.shards
            .iter()
            .map(|s| lock(s).tats.iter().filter(|&&tat| tat > t).count())
            .sum()
    }

    fn update(&self, client: IpAddr, now: Instant, count: bool) -> Result<(), Duration> {
        let t = self.nanos(now);
        let key = client_key(client);
        let hash = self.hasher.hash_one(key);
        let mut shard = lock(&self.shards[hash as usize % SHARDS]);
        let first = (hash >> 32) as usize % self.sets_per_shard * WAYS;
        let ways = first..first + WAYS;
        let found = ways
            .clone()
            .find(|&i| shard.tats[i] != 0 && shard.keys[i] == key);
        let tat = found.map_or(t, |i| shard.tats[i].max(t));
        let ahead = tat - t;
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
        }
        if count {
            let i = found.unwrap_or_else(|| victim(&shard.tats[ways.clone()], t) + first);
            shard.keys[i] = key;
            shard.tats[i] = tat.saturating_add(self.interval);
        }
        Ok(())
    }

    fn nanos(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.base).as_nanos();
        u64::try_from(since).unwrap_or(u64::MAX)
    }
}

/// The slot of a set a new client takes: an empty or drained one (nothing is lost), else the one
/// closest to drained.
fn victim(tats: &[u64], now: u64) -> usize {
    if let Some(free) = tats.iter().position(|&tat| tat <= now) {
        return free;
    }
    let (i, _) = tats
        .iter()
        .enumerate()
        .min_by_key(|&(_, tat)| *tat)
        .expect("a set has slots");
    i
}

/// What a client is counted by: an IPv4 address (mapped or not), or an IPv6 /64.
fn client_key(client: IpAddr) -> u128 {
    match client.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6) & (u128::MAX << (128 - IPV6_CLIENT_PREFIX)),
    }
}

/// A poisoned shard only means a thread panicked between two plain integer writes: the slots are
/// still valid limiter state.
fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `Retry-After` seconds for a wait from [`RateLimiter::check`] or a throttled basic auth:
/// rounded up, and at least 1 (a `0` would invite an immediate retry that is refused again).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    u64::try_from(wait.as_nanos().div_ceil(1_000_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Parses a rate setting: `10r/s` or `600r/m` (nginx's `rate=`; the `rate=` itself may be
/// written), then optionally `burst=N` and `nodelay` (accepted for nginx's sake: the burst is
/// always served at once). The rate is kept as nginx keeps it, in whole milli-requests per second,
/// so `1r/m` is 16 mr/s, one request per 62.5 s, exactly as nginx rounds it.
pub fn parse_rate(s: &str) -> Result<RateLimit, String> {
    let mut words = s.split_whitespace();
    let first = words
        .next()
        .ok_or("an empty rate (write e.g. `10r/s burst=20`)")?;
    let millirequests_per_second = parse_requests(first.strip_prefix("rate=").unwrap_or(first))?;
    let mut burst = None;
    for word in words {
        if let Some(n) = word.strip_prefix("burst=") {
            let n = n
                .parse::<u32>()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("`{word}`: burst must be a whole number"))?;
            if burst.replace(n).is_some() {
                return Err("burst= is given twice".to_string());
            }
        } else if word != "nodelay" {
            return Err(format!(
                "`{word}` is not understood (after the rate: `burst=N`, `nodelay`)"
            ));
        }
    }
    Ok(RateLimit {
        millirequests_per_second,
        burst: burst.unwrap_or(0),
    })
}

/// `10r/s` / `600r/m` → milli-requests per second (nginx's integer arithmetic).
fn parse_requests(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a rate like `10r/s` or `600r/m`");
    let (count, per_minute) = match (text.strip_suffix("r/s"), text.strip_suffix("r/m")) {
        (Some(n), _) => (n, false),
        (_, Some(n)) => (n, true),
        _ => return Err(bad()),
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = count.parse().map_err(|_| bad())?;
    let milli = count.checked_mul(1000).ok_or_else(bad)?;
    let milli = if per_minute { milli / 60 } else { milli };
    if milli == 0 {
        return Err(format!("`{text}`: the rate must be above zero"));
    }
    Ok(milli)
}

#[cfg(test)]
#[path = "rate_tests.rs"]
mod tests;
