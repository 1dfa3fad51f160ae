//! One access-log line per request through `tracing` (target `dockside::access`), in
//! nginx-proxy's `vhost` format or, with `LOG_JSON`, its JSON keys (nginx-proxy §1.6.11).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, Request, StatusCode, Version};

use crate::config::AccessLog;

/// What the log line needs from the request, captured before the request is consumed.
/// Only built when access logs are on, so a disabled log costs nothing per request.
#[derive(Debug)]
pub struct Pending {
    method: Method,
    uri: String,
    version: Version,
    referer: Option<String>,
    user_agent: Option<String>,
    forwarded_for: Option<String>,
}

/// How a request ended, as the log line reports it.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub host: &'a str,
    pub remote: SocketAddr,
    pub status: StatusCode,
    pub body_bytes: u64,
    /// `$upstream_addr`, `-` when nothing was forwarded.
    pub upstream: Option<String>,
    /// `$request_time`: from the request to the last body byte sent (or the client leaving).
    pub request_time: Duration,
    /// `$upstream_response_time`: from sending the request upstream to the response head
    /// (retries included); `None` when nothing was forwarded.
    pub upstream_response_time: Option<Duration>,
}

impl Pending {
    /// Captures the request line and the logged headers.
    pub fn capture<B>(style: AccessLog, req: &Request<B>) -> Option<Pending> {
        if style == AccessLog::Off {
            return None;
        }
        let header = |name| header_text(req.headers(), name);
        Some(Pending {
            method: req.method().clone(),
            uri: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().to_string(), |p| p.to_string()),
            version: req.version(),
            referer: header("referer"),
            user_agent: header("user-agent"),
            forwarded_for: header("x-forwarded-for"),
        })
    }

    /// Emits the line.
    pub fn record(self, style: AccessLog, out: &Outcome<'_>) {
        let line = match style {
            AccessLog::Off => return,
            AccessLog::Vhost => self.vhost(out, SystemTime::now()),
            AccessLog::Json => self.json(out, SystemTime::now()),
        };
        tracing::info!(target: "dockside::access", "{line}");
    }

    fn request_line(&self) -> String {
        format!("{} {} {:?}", self.method, self.uri, self.version)
    }

    fn vhost(&self, out: &Outcome<'_>, now: SystemTime) -> String {
        format!(
            "{} {} - - [{}] \"{}\" {} {} \"{}\" \"{}\" \"{}\"",
            or_dash(out.host),
            out.remote.ip(),
            time_local(now),
            escape(&self.request_line()),
            out.status.as_u16(),
            out.body_bytes,
            escape(self.referer.as_deref().unwrap_or("-")),
            escape(self.user_agent.as_deref().unwrap_or("-")),
            out.upstream.as_deref().unwrap_or("-"),
        )
    }

    fn json(&self, out: &Outcome<'_>, now: SystemTime) -> String {
        let secs = out.request_time.as_secs_f64();
        let upstream_secs = out.upstream_response_time.map(|t| t.as_secs_f64());
        serde_json::json!({
            "time_local": time_iso8601(now),
            "client_ip": self.forwarded_for.as_deref().unwrap_or(""),
            "remote_addr": out.remote.ip().to_string(),
            "request": self.request_line(),
            "status": out.status.as_u16(),
            "body_bytes_sent": out.body_bytes,
            "request_time": format!("{secs:.3}"),
            "upstream_response_time": upstream_secs.map_or_else(String::new, |t| format!("{t:.3}")),
            "upstream_addr": out.upstream.as_deref().unwrap_or(""),
            "http_referrer": self.referer.as_deref().unwrap_or(""),
            "http_user_agent": self.user_agent.as_deref().unwrap_or(""),
            "request_id": "",
        })
        .to_string()
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// nginx's default log escaping: `"`, `\` and bytes outside printable ASCII as `\xHH`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                let _ = write!(out, "\\x{b:02X}");
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out
}

/// UTC civil date from unix seconds (Howard Hinnant's days-from-civil inverse).
fn civil(now: SystemTime) -> (i64, u32, u32, u64) {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs % 86_400)
}

/// `$time_local` in UTC: `25/Nov/2026:10:09:00 +0000`.
fn time_local(now: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, s) = civil(now);
    let month = MONTHS[(m as usize).saturating_sub(1).min(11)];
    format!(
        "{d:02}/{month}/{y}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `$time_iso8601` in UTC: `2026-11-25T10:09:00+00:00`.
fn time_iso8601(now: SystemTime) -> String {
    let (y, m, d, s) = civil(now);
    format!(
        "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
#[path = "access_log_tests.rs"]
mod tests;
