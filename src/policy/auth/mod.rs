//! Basic authentication (nginx `auth_basic`): reading users and hashes ([`parse_htpasswd`],
//! [`parse_inline`]) and answering one request's `Authorization` header ([`Authenticator`]).
//!
//! Per request, in order: a client over its failure limit is answered 429 without looking at its
//! password; a credential already verified is a cache hit (one keyed hash and one lookup, see
//! `CredentialCache` in `cache.rs`); anything else is verified against its user's
//! hash — bcrypt costs 50–250 ms, so the data plane runs that on a blocking thread, see
//! [`Authenticator::check_cached`]. Credentials are never logged, never stored, never put in an
//! error.

mod cache;
mod hash;
mod htpasswd;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

use self::cache::CredentialCache;
use super::rate::RateLimiter;
use super::spec::{BasicAuth, RateLimit};

pub use htpasswd::{parse_htpasswd, parse_inline};

/// Failed verifications a client may have at once before it is throttled …
const FAILURE_BURST: u32 = 10;
/// … and how fast it earns another try: 10 per minute (one every 6 s; nginx's integer unit).
const FAILURES_PER_MINUTE: u64 = 10;
/// Clients whose failures are remembered (a fixed table, see `rate.rs`; a forgotten client
/// starts afresh).
const FAILURE_CLIENTS: usize = 4096;
/// What a client is told to wait when every verification slot is busy.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Standard base64, padding optional (some clients drop it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What to answer a request for a site with basic auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Go on to the next step.
    Allowed,
    /// 401 with `WWW-Authenticate: ` [`Authenticator::challenge_header`].
    Challenge,
    /// 429 with `Retry-After: ⌈retry_after⌉` seconds: too many failures from this client, or
    /// every verification slot busy.
    Throttled { retry_after: Duration },
}

/// One site's (or location's) basic auth, built once per route-table build and shared by every
/// worker thread (`Send + Sync`). Its cache lives as long as it does: a pipeline that rebuilds
/// its routes for an unrelated change should keep the `Authenticator` of an unchanged
/// [`BasicAuth`] (it compares with `Eq`), or every user's first request pays bcrypt again.
pub struct Authenticator {
    users: Vec<(String, String)>,
    challenge: HeaderValue,
    cache: CredentialCache,
    /// Failed verifications per client (GCRA; only failures are counted).
    failures: RateLimiter,
    /// Verifications running now, at most `max_verifying`: a flood of distinct addresses, each
    /// under its own failure limit, still cannot occupy more than this many threads with bcrypt.
    verifying: AtomicUsize,
    max_verifying: usize,
    verifications: AtomicU64,
}

impl Authenticator {
    /// Compiles `auth`. A user whose hash is not well-formed (the parsers refuse those, so only a
    /// hand-built `BasicAuth` has one) never gets in; with no users nobody does.
    pub fn new(auth: &BasicAuth) -> Authenticator {
        let failures = RateLimiter::with_capacity(
            RateLimit {
                millirequests_per_second: FAILURES_PER_MINUTE * 1000 / 60,
                burst: FAILURE_BURST - 1,
            },
            FAILURE_CLIENTS,
        );
        let max_verifying = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        Authenticator {
            users: auth.users.clone(),
            challenge: challenge(&auth.realm),
            cache: CredentialCache::new(),
            failures,
            verifying: AtomicUsize::new(0),
            max_verifying,
            verifications: AtomicU64::new(0),
        }
    }

    /// The outcome for a request carrying `authorization` from `client`, verifying a hash when
    /// the credential is not cached — which may take a bcrypt's time (up to a few hundred ms), so
    /// async code calls [`check_cached`](Self::check_cached) first.
    pub fn check(&self, authorization: Option<&HeaderValue>, client: IpAddr) -> AuthOutcome {
        self.decide(authorization, client, Instant::now(), true)
            .expect("decide verifies when asked to")
    }

    /// The outcome when it needs no hash verification (a cache hit, a missing or malformed
    /// header, a throttled client); `None` when only [`check`](Self::check) can tell — run that
    /// on a blocking thread. Costs one keyed hash and two table lookups, no allocation.
    pub fn check_cached(
        &self,
        authorization: Option<&HeaderValue>,
        client: IpAddr,
    ) -> Option<AuthOutcome> {
        self.decide(authorization, client, Instant::now(), false)
    }

    /// `Basic realm="…"` for the 401's `WWW-Authenticate`, with `"` and `\` escaped.
    pub fn challenge_header(&self) -> &HeaderValue {
        &self.challenge
    }

    /// Hash verifications done so far (cache misses that reached a hash), for tests and metrics.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    fn decide(
        &self,
        authorization: Option<&HeaderValue>,
        client: IpAddr,
        now: Instant,
        verify: bool,
    ) -> Option<AuthOutcome> {
        // First, so that a throttled client cannot go on guessing through the cache either.
        if let Err(retry_after) = self.failures.peek(client, now) {
            return Some(AuthOutcome::Throttled { retry_after });
        }
        let Some(value) = authorization else {
            return Some(AuthOutcome::Challenge);
        };
        let tag = self.cache.tag(value.as_bytes());
        if self.cache.contains(&tag) {
            return Some(AuthOutcome::Allowed);
        }
        let Some(credentials) = basic_credentials(value.as_bytes()) else {
            return Some(AuthOutcome::Challenge);
        };
        if !verify {
            return None;
        }
        let Some(_slot) = VerifySlot::take(&self.verifying, self.max_verifying) else {
            return Some(AuthOutcome::Throttled {
                retry_after: BUSY_RETRY,
            });
        };
        if self.verify(credentials.user(), credentials.password()) {
            self.cache.insert(tag);
            Some(AuthOutcome::Allowed)
        } else {
            // Counted even when it would be over the limit: it was already let through above.
            let _ = self.failures.check(client, now);
            Some(AuthOutcome::Challenge)
        }
    }

    /// Whether `password` is `user`'s. Every user name is compared (in constant time for equal
    /// lengths), and an unknown user's password is verified against the first user's hash and
    /// then refused, so a wrong name costs what a wrong password does.
    fn verify(&self, user: &[u8], password: &[u8]) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let mut found = None;
        for (i, (name, _)) in self.users.iter().enumerate() {
            let same = verify_slices_are_equal(name.as_bytes(), user).is_ok();
            if same && found.is_none() {
                found = Some(i);
            }
        }
        match found {
            Some(i) => hash::verify(password, &self.users[i].1),
            None => {
                if let Some((_, dummy)) = self.users.first() {
                    let _ = hash::verify(password, dummy);
                }
                false
            }
        }
    }
}

/// A held verification slot, given back when dropped.
struct VerifySlot<'a>(&'a AtomicUsize);

impl<'a> VerifySlot<'a> {
    fn take(count: &'a AtomicUsize, max: usize) -> Option<VerifySlot<'a>> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| VerifySlot(count))
    }
}

impl Drop for VerifySlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `Basic <base64(user:password)>` → (user, password); `None` for another scheme or a malformed
/// value. The scheme is case-insensitive (RFC 7617).
fn basic_credentials(value: &[u8]) -> Option<Credentials> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim_start()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(Credentials { decoded, colon })
}

/// A decoded `user:password`, wiped when dropped.
struct Credentials {
    decoded: Vec<u8>,
    colon: usize,
}

impl Drop for Credentials {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.decoded);
    }
}

impl Credentials {
    fn user(&self) -> &[u8] {
        &self.decoded[..self.colon]
    }

    fn password(&self) -> &[u8] {
        &self.decoded[self.colon + 1..]
    }
}

/// The `WWW-Authenticate` value for `realm`. Control characters (which a header cannot carry)
/// become `?`.
fn challenge(realm: &str) -> HeaderValue {
    let mut value = String::with_capacity(realm.len() + 16);
    value.push_str("Basic realm=\"");
    for c in realm.chars() {
        match c {
            '"' | '\\' => {
                value.push('\\');
                value.push(c);
            }
            c if c.is_control() => value.push('?'),
            c => value.push(c),
        }
    }
    value.push('"');
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("Basic"))
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
