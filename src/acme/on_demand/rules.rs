//! The pure rules of on-demand TLS: its settings, which SNI names may be asked about at all,
//! the global order rate, and the memory of names refused or failed. No IO and no clock:
//! callers pass `now`, so every rule is tested with plain values.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::acme::schedule::Backoff;
use crate::settings::parse_bool;

/// The on-demand TLS settings (`ON_DEMAND_TLS*` on dockside), read once with `from_vars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDemandSettings {
    /// `ON_DEMAND_TLS_ASK`: `GET <ask>?domain=<name>` must answer 2xx before any order.
    pub ask: String,
    /// `ON_DEMAND_TLS_RATE`: orders started per minute, all names together.
    pub rate_per_minute: u32,
    /// `ON_DEMAND_TLS_WAIT`: how long a handshake waits for its certificate.
    pub wait: Duration,
    /// `ON_DEMAND_TLS_DENY_CACHE`: how long a refused name is answered from memory.
    pub deny_for: Duration,
}

/// Why the on-demand settings cannot be used; dockside refuses to start (names the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "ON_DEMAND_TLS=true needs ON_DEMAND_TLS_ASK=<url>: without it any name a client sends would be ordered (set it to an endpoint answering 2xx for the names you serve)"
    )]
    NoAsk,
    #[error("ON_DEMAND_TLS_ASK={0:?} is not an http:// or https:// URL")]
    BadAsk(String),
    #[error("{name}={value:?} is not a whole number between {min} and {max}")]
    OutOfRange {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    #[error("{0}")]
    Flag(String),
    #[error("ON_DEMAND_TLS=true needs ACME (HTTPS on; ACME_CA_URI etc. as for LETSENCRYPT_HOST)")]
    NoAcme,
}

/// Default `ON_DEMAND_TLS_RATE`: a burst of new names cannot turn into a burst of orders. It
/// does not by itself keep within a CA's limits (10 a minute is 1,800 in 3 hours, Let's Encrypt
/// allows 300 new orders per account): the account's `ACME_MAX_ORDERS_PER_HOUR` budget, which
/// on-demand orders share with the reconciler, does.
pub const DEFAULT_RATE: u32 = 10;
/// Default `ON_DEMAND_TLS_WAIT`: a Let's Encrypt order takes a few seconds, rarely more than 20.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Default `ON_DEMAND_TLS_DENY_CACHE`: a refused name costs one ask call per 5 minutes.
pub const DEFAULT_DENY_FOR: Duration = Duration::from_secs(300);

impl OnDemandSettings {
    /// Reads the settings from a key/value source (the environment, once, in `Config`);
    /// `Ok(None)` when `ON_DEMAND_TLS` is unset or false.
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OnDemandSettings>, SettingsError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let on = match get("ON_DEMAND_TLS") {
            None => false,
            Some(v) => parse_bool("ON_DEMAND_TLS", &v).map_err(SettingsError::Flag)?,
        };
        if !on {
            return Ok(None);
        }
        let ask = get("ON_DEMAND_TLS_ASK").ok_or(SettingsError::NoAsk)?;
        if !(ask.starts_with("http://") || ask.starts_with("https://")) || ask.contains('#') {
            return Err(SettingsError::BadAsk(redact_query(&ask)));
        }
        let number = |name: &'static str, default: u64, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or(SettingsError::OutOfRange {
                    name,
                    value: v,
                    min,
                    max,
                }),
        };
        let rate = number("ON_DEMAND_TLS_RATE", DEFAULT_RATE.into(), 1, 600)?;
        Ok(Some(OnDemandSettings {
            ask,
            rate_per_minute: u32::try_from(rate).unwrap_or(DEFAULT_RATE),
            wait: Duration::from_secs(number(
                "ON_DEMAND_TLS_WAIT",
                DEFAULT_WAIT.as_secs(),
                1,
                300,
            )?),
            deny_for: Duration::from_secs(number(
                "ON_DEMAND_TLS_DENY_CACHE",
                DEFAULT_DENY_FOR.as_secs(),
                0,
                86_400,
            )?),
        }))
    }

    /// The `dockside check` lines: what on-demand TLS would do, with every setting's value.
    pub fn describe(&self, default_host: Option<&str>) -> String {
        let served_by = match default_host {
            Some(host) => format!("served by the DEFAULT_HOST site {host}"),
            None => "answered 503 (DEFAULT_HOST is not set)".to_owned(),
        };
        format!(
            "\nOn-demand TLS (ON_DEMAND_TLS): a name no site serves gets a certificate at its first handshake when ON_DEMAND_TLS_ASK={} answers 2xx; {served_by}.\n  ON_DEMAND_TLS_RATE={} orders/min, ON_DEMAND_TLS_WAIT={}s, ON_DEMAND_TLS_DENY_CACHE={}s\n",
            self.ask_redacted(),
            self.rate_per_minute,
            self.wait.as_secs(),
            self.deny_for.as_secs()
        )
    }

    /// `ON_DEMAND_TLS_ASK` for logs and `dockside check`: its query string may carry a token,
    /// so it is shown as `?…`.
    pub fn ask_redacted(&self) -> String {
        redact_query(&self.ask)
    }

    /// The ask URL for `name` (already checked by [`check_name`], so it needs no escaping).
    pub fn ask_url(&self, name: &str) -> String {
        let sep = if self.ask.contains('?') { '&' } else { '?' };
        format!("{}{sep}domain={name}", self.ask)
    }
}

/// `url` without its query string (`?…` in its place), for logs.
pub fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((path, _)) => format!("{path}?…"),
        None => url.to_owned(),
    }
}

/// Why an SNI is not even asked about: a CA would refuse it, or it cannot be a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty or longer than 253 characters")]
    Length,
    #[error("a wildcard cannot be obtained on demand")]
    Wildcard,
    #[error("an IP address, not a DNS name")]
    IpAddress,
    #[error("a single label (not a public DNS name)")]
    SingleLabel,
    #[error("label {0:?} is not letters, digits and inner hyphens of at most 63 characters")]
    Label(String),
}

/// Whether a lower-case SNI may be obtained on demand: a DNS name of at least two labels, each
/// of letters, digits and inner hyphens (LDH, 1–63 characters), 253 characters at most, no
/// wildcard, not an IP address (a last label of digits only).
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > 253 {
        return Err(NameError::Length);
    }
    if name.contains('*') {
        return Err(NameError::Wildcard);
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(NameError::IpAddress);
    }
    let mut labels = 0;
    for label in name.split('.') {
        let ldh = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.bytes().all(ldh)
        {
            return Err(NameError::Label(label.to_owned()));
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(NameError::SingleLabel);
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::IpAddress);
    }
    Ok(())
}

/// At most `per_minute` orders in any 60 s window, across all names.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: usize,
    /// Start times of the orders in the current window, oldest first (at most `per_minute`).
    started: VecDeque<Instant>,
}

const MINUTE: Duration = Duration::from_secs(60);

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        let per_minute = (per_minute as usize).max(1);
        RateLimit {
            per_minute,
            started: VecDeque::with_capacity(per_minute),
        }
    }

    /// Takes a slot for an order starting at `now`, or says how long until one frees up.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        while self
            .started
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= MINUTE)
        {
            self.started.pop_front();
        }
        if self.started.len() >= self.per_minute {
            let oldest = self.started.front().copied().unwrap_or(now);
            return Err((oldest + MINUTE).saturating_duration_since(now));
        }
        self.started.push_back(now);
        Ok(())
    }
}

/// What is remembered about a name that did not get a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The ask URL refused it (or could not be asked).
    Denied,
    /// The global rate was used up.
    RateLimited,
    /// The order failed `failures` times in a row.
    Failed { failures: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Remembered {
    verdict: Verdict,
    until: Instant,
}

/// Names answered from memory until their time is up: refusals for `deny_for`, failed orders
/// with exponential backoff, so a flood of handshakes costs neither ask calls nor CA orders.
/// Bounded: when full, expired entries go first, then the one expiring soonest.
#[derive(Debug)]
pub struct Memory {
    names: HashMap<String, Remembered>,
    capacity: usize,
    backoff: Backoff,
}

/// Names remembered at most (a few hundred KiB).
pub const MEMORY_CAPACITY: usize = 10_000;

/// Backoff of a name whose order failed: 1 min, doubling, at most 1 h.
pub const FAILED_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(60),
    max: Duration::from_secs(3600),
};

impl Memory {
    pub fn new(capacity: usize, backoff: Backoff) -> Memory {
        Memory {
            names: HashMap::new(),
            capacity: capacity.max(1),
            backoff,
        }
    }

    /// What is remembered about `name` and until when, if that is still in the future.
    pub fn recall(&self, name: &str, now: Instant) -> Option<(Verdict, Instant)> {
        self.names
            .get(name)
            .filter(|r| r.until > now)
            .map(|r| (r.verdict, r.until))
    }

    /// The ask URL refused `name`: answered from memory for `for_`.
    pub fn deny(&mut self, name: &str, now: Instant, for_: Duration) {
        self.insert(name, Verdict::Denied, now + for_, now);
    }

    /// No order slot was free: try again once one is (`retry_in`).
    pub fn rate_limited(&mut self, name: &str, now: Instant, retry_in: Duration) {
        self.insert(name, Verdict::RateLimited, now + retry_in, now);
    }

    /// The order failed: backs off exponentially from the previous failures (`jitter` in [0, 1)).
    pub fn failed(&mut self, name: &str, now: Instant, jitter: f64) -> Duration {
        let failures = match self.names.get(name).map(|r| r.verdict) {
            Some(Verdict::Failed { failures }) => failures + 1,
            _ => 1,
        };
        let delay = self.backoff.delay(failures, None, false, jitter);
        self.insert(name, Verdict::Failed { failures }, now + delay, now);
        delay
    }

    /// Forgets `name` (its certificate was obtained).
    pub fn forget(&mut self, name: &str) {
        self.names.remove(name);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    fn insert(&mut self, name: &str, verdict: Verdict, until: Instant, now: Instant) {
        if !self.names.contains_key(name) && self.names.len() >= self.capacity {
            // Expired failures are dropped too: a name seen again long after starts over.
            self.names.retain(|_, r| r.until > now);
            if self.names.len() >= self.capacity
                && let Some(soonest) = self
                    .names
                    .iter()
                    .min_by_key(|(_, r)| r.until)
                    .map(|(n, _)| n.clone())
            {
                self.names.remove(&soonest);
            }
        }
        self.names
            .insert(name.to_owned(), Remembered { verdict, until });
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
