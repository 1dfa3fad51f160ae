//! ACME Renewal Information (RFC 9773): find the CA's `renewalInfo` endpoint in its
//! directory, fetch a certificate's suggested window, and pick a renewal time inside it.
//! The window logic is pure; the two fetches are plain GETs (no JWS) with the client's timeout.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::acme::client::{AcmeHttp, RequestError, parse_retry_after};

/// A suggested renewal window, unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// Why an ARI lookup failed; the reconciler then falls back to the certificate's own dates.
#[derive(Debug, thiserror::Error)]
pub enum AriError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: invalid JSON: {source}")]
    Json {
        url: String,
        source: serde_json::Error,
    },
    #[error("{url}: invalid suggestedWindow")]
    Window { url: String },
}

/// How long to wait before asking again when the CA gives no (or an absurd) `Retry-After`.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(6 * 3600);

/// The directory's `renewalInfo` URL, or `None` when the CA does not offer ARI (Pebble 2.4).
pub async fn renewal_info_url(
    http: &AcmeHttp,
    directory_url: &str,
) -> Result<Option<String>, AriError> {
    let json = get_json(http, directory_url).await?.0;
    Ok(json
        .get("renewalInfo")
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

/// The window for `cert_id` and when to ask again (`Retry-After`, clamped to [1 min, 1 day]).
pub async fn fetch(
    http: &AcmeHttp,
    renewal_info_url: &str,
    cert_id: &str,
) -> Result<(Window, Duration), AriError> {
    let url = format!("{}/{cert_id}", renewal_info_url.trim_end_matches('/'));
    let (json, retry_after) = get_json(http, &url).await?;
    let window = parse_window(&json).ok_or(AriError::Window { url })?;
    let recheck = retry_after
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map(|d| d.clamp(Duration::from_secs(60), Duration::from_secs(86_400)))
        .unwrap_or(DEFAULT_RECHECK);
    Ok((window, recheck))
}

async fn get_json(
    http: &AcmeHttp,
    url: &str,
) -> Result<(serde_json::Value, Option<SystemTime>), AriError> {
    let rsp = http.get(url).await?;
    if !rsp.status().is_success() {
        return Err(AriError::Status {
            url: url.to_owned(),
            status: rsp.status().as_u16(),
        });
    }
    let retry_after = rsp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let json = serde_json::from_slice(rsp.body()).map_err(|source| AriError::Json {
        url: url.to_owned(),
        source,
    })?;
    Ok((json, retry_after))
}

/// `{"suggestedWindow": {"start": RFC 3339, "end": RFC 3339}}`; `end` must follow `start`.
pub fn parse_window(json: &serde_json::Value) -> Option<Window> {
    let w = json.get("suggestedWindow")?;
    let start = rfc3339(w.get("start")?.as_str()?)?;
    let end = rfc3339(w.get("end")?.as_str()?)?;
    (end > start).then_some(Window { start, end })
}

/// RFC 9773 §4.2: a uniformly random time in the window; "now" if the window has begun late
/// or already passed. `random` is in [0, 1).
pub fn pick(window: Window, now: i64, random: f64) -> i64 {
    let span = (window.end - window.start) as f64;
    let at = window.start + (span * random.clamp(0.0, 1.0)) as i64;
    at.max(now)
}

/// How long a CA's answer to "do you offer ARI?" is trusted (failures included, so an
/// unreachable CA does not stall every look for a timeout).
const DIRECTORY_TTL: Duration = Duration::from_secs(3600);

/// The reconciler's ARI memory: per CA whether it offers ARI, per certificate directory the
/// renewal time picked from the CA's window and when to ask again.
#[derive(Debug, Default)]
pub struct AriCache {
    dirs: HashMap<String, (Option<String>, Instant)>,
    plans: HashMap<String, Plan>,
}

#[derive(Debug, Clone)]
struct Plan {
    cert_id: String,
    at: i64,
    recheck: Instant,
}

/// What the cache knows about a certificate without asking the CA.
#[derive(Debug)]
pub enum Cached {
    /// The renewal time picked earlier, or `None` when the CA offers no ARI.
    Known(Option<i64>),
    /// The CA must be asked: run `Query::ask` (off the reconciler's loop), then `record`.
    Ask(Query),
}

/// One lookup to run concurrently with others: owns everything it needs.
#[derive(Debug, Clone)]
pub struct Query {
    ca: String,
    cert_id: String,
    /// The CA's `renewalInfo` URL when the cache knows it is fresh; `None`: ask the directory.
    renewal_info: Option<String>,
}

/// What `Query::ask` learnt, for `AriCache::record`.
#[derive(Debug)]
pub struct Answer {
    query: Query,
    /// The directory's answer, when it was asked.
    directory: Option<Option<String>>,
    /// The window and when to ask again; `None` when the CA offers no ARI.
    window: Option<Result<(Window, Duration), AriError>>,
}

impl Query {
    /// At most two GETs (directory, renewalInfo), each bounded by the client's timeout.
    pub async fn ask(self, http: &AcmeHttp) -> Answer {
        let mut directory = None;
        let url = match &self.renewal_info {
            Some(url) => Some(url.clone()),
            None => {
                let url = renewal_info_url(http, &self.ca).await.unwrap_or_else(|e| {
                    tracing::debug!(ca = %self.ca, error = %e, "ACME directory unavailable for ARI");
                    None
                });
                directory = Some(url.clone());
                url
            }
        };
        let window = match url {
            Some(url) => Some(fetch(http, &url, &self.cert_id).await),
            None => None,
        };
        Answer {
            query: self,
            directory,
            window,
        }
    }
}

impl AriCache {
    /// Answers from memory when it can: a plan for this very certificate not yet due for a
    /// recheck, or a CA known (within `DIRECTORY_TTL`) to offer no ARI.
    pub fn cached(&self, base: &str, ca: &str, cert_id: &str) -> Cached {
        if let Some(plan) = self
            .plans
            .get(base)
            .filter(|p| p.cert_id == cert_id && Instant::now() < p.recheck)
        {
            return Cached::Known(Some(plan.at));
        }
        let renewal_info = match self.dirs.get(ca) {
            Some((url, at)) if at.elapsed() <= DIRECTORY_TTL => match url {
                Some(url) => Some(url.clone()),
                None => return Cached::Known(None),
            },
            _ => None,
        };
        Cached::Ask(Query {
            ca: ca.to_owned(),
            cert_id: cert_id.to_owned(),
            renewal_info,
        })
    }

    /// Remembers what `Query::ask` learnt about `base` (failures included: an unreachable
    /// directory is not asked again within `DIRECTORY_TTL`) and returns the renewal time.
    pub fn record(&mut self, base: &str, answer: Answer, now: i64) -> Option<i64> {
        let Answer {
            query,
            directory,
            window,
        } = answer;
        if let Some(url) = directory {
            self.dirs.insert(query.ca.clone(), (url, Instant::now()));
        }
        match window? {
            Ok((window, recheck)) => {
                let at = pick(window, now, fastrand::f64());
                let plan = Plan {
                    cert_id: query.cert_id,
                    at,
                    recheck: Instant::now() + recheck,
                };
                self.plans.insert(base.to_owned(), plan);
                Some(at)
            }
            Err(e) => {
                tracing::warn!(
                    base = %base, ca = %query.ca, error = %e,
                    "ARI lookup failed: using the certificate's own dates"
                );
                None
            }
        }
    }

    /// When the CA asked to be asked again about `base`'s certificate.
    pub fn recheck(&self, base: &str) -> Option<Instant> {
        self.plans.get(base).map(|p| p.recheck)
    }

    /// Drops what is known about `base` (new certificate, or no longer wanted).
    pub fn forget(&mut self, base: &str) {
        self.plans.remove(base);
    }
}

/// Parses RFC 3339 (`2025-01-02T03:04:05Z`, fractions and `±hh:mm` offsets) to unix seconds.
pub fn rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[path = "ari_tests.rs"]
mod tests;
