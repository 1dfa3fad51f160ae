//! Pure scheduling rules: when a certificate on disk is due for renewal (spread per
//! certificate, so certificates issued together are not all renewed at one instant), whether a
//! wanted certificate needs an order now, and how long to back off after a failure. No IO, no
//! clock: callers pass `now` (unix seconds) and randomness.

use std::time::Duration;

use crate::certs::CertInfo;

/// When to renew, from the certificate's own dates (unix seconds).
///
/// Default: at 2/3 of its lifetime (60 days into a 90-day certificate, like acme-companion's
/// default `ACME_RENEW_AFTER=60`; also right for 6-day and 45-day profiles). With
/// `ACME_RENEW_AFTER=N`: acme.sh's `Le_NextRenewTime` = issuance + N days − 1 day, clamped to
/// the middle 80 % of the lifetime so a too-small value cannot loop on the rate limit and a
/// too-large one cannot let the certificate expire.
pub fn renew_at(info: &CertInfo, renew_after_days: Option<u32>) -> i64 {
    let lifetime = (info.not_after - info.not_before).max(0);
    match renew_after_days {
        None => info.not_before + lifetime * 2 / 3,
        Some(days) => {
            let explicit = info.not_before + i64::from(days) * 86_400 - 86_400;
            explicit.clamp(
                info.not_before + lifetime / 10,
                info.not_after - lifetime / 10,
            )
        }
    }
}

/// [`renew_at`] moved later by a fixed, per-certificate share of up to a tenth of the lifetime
/// (9 days of a 90-day certificate), chosen by a hash of `hosts`: 10,000 certificates issued in
/// one hour fall due over 9 days instead of at one instant — about 46 an hour, under
/// `ACME_MAX_ORDERS_PER_HOUR`'s default — and each keeps its time across restarts. Later, not
/// earlier: a certificate never renews before the time it would have without the spread (no
/// burst of "now due" orders after an upgrade), and never later than a tenth of its lifetime
/// before it expires (21 days of a 90-day certificate).
pub fn due_at(info: &CertInfo, renew_after_days: Option<u32>, hosts: &[String]) -> i64 {
    let lifetime = (info.not_after - info.not_before).max(0);
    let base = renew_at(info, renew_after_days);
    let offset = ((i128::from(lifetime / 10) * i128::from(spread_hash(hosts))) >> 64) as i64;
    (base + offset)
        .min(info.not_after - lifetime / 10)
        .max(base)
}

/// FNV-1a over the lower-case host names: stable across builds and platforms (std's hasher is
/// not promised to be), so a certificate's renewal time does not move when dockside is upgraded.
fn spread_hash(hosts: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in hosts.iter().flat_map(|h| h.bytes().chain([b','])) {
        hash = (hash ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Why an order is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No usable certificate in `<base>/`.
    Missing,
    /// The certificate there names other hosts than wanted (ACME_HOST changed).
    NamesChanged,
    /// Inside the renewal window (own dates or the CA's ARI window).
    Renewal,
    /// `dockside renew --force`: ordered although valid.
    Forced,
}

/// What to do about one wanted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Order(Reason),
    /// Valid: look again at this unix time.
    ValidUntil(i64),
}

/// Orders only when there is no valid certificate for exactly `hosts`: a valid one is never
/// re-ordered (rate limits). `ari_at`, when the CA offered a window (already a random time
/// inside it), replaces the local rule, [`due_at`].
pub fn decide(
    now: i64,
    disk: Option<&CertInfo>,
    hosts: &[String],
    renew_after_days: Option<u32>,
    ari_at: Option<i64>,
) -> Decision {
    let Some(info) = disk else {
        return Decision::Order(Reason::Missing);
    };
    if !info.covers_exactly(hosts) {
        return Decision::Order(Reason::NamesChanged);
    }
    let due = ari_at.unwrap_or_else(|| due_at(info, renew_after_days, hosts));
    if now >= due {
        Decision::Order(Reason::Renewal)
    } else {
        Decision::ValidUntil(due)
    }
}

/// Exponential backoff per certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Upper bound for every delay, `Retry-After` included.
    pub max: Duration,
}

impl Default for Backoff {
    /// 30 s, doubling, capped at 6 h: Let's Encrypt allows 5 failed validations per host per
    /// hour, so the fourth retry is already past that window.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(6 * 3600),
        }
    }
}

/// Minimum wait after `rateLimited` when the CA sent no `Retry-After`.
pub const RATE_LIMITED_WAIT: Duration = Duration::from_secs(3600);

impl Backoff {
    /// The delay after the `failures`-th consecutive failure (1-based). `jitter` in [0, 1)
    /// spreads it ±20 %; the CA's `Retry-After` and `rateLimited` only ever lengthen it.
    pub fn delay(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        rate_limited: bool,
        jitter: f64,
    ) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.max);
        let mut d = exp.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
        if rate_limited {
            d = d.max(RATE_LIMITED_WAIT);
        }
        if let Some(ra) = retry_after {
            d = d.max(ra);
        }
        d.min(self.max)
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
