//! One log line from a compiled format: each variable's value, escaped as
//! `LOG_FORMAT_ESCAPE` says (nginx's `ngx_http_log_escape` and `ngx_escape_json`), into one
//! buffer — one allocation per line.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use http::Version;

use super::format::{Escape, LogFormat, Part, Var};
use super::{Outcome, Pending};

/// The line for `pending` ending as `out`, at `now`.
pub(super) fn line(
    format: &LogFormat,
    pending: &Pending,
    out: &Outcome<'_>,
    now: SystemTime,
) -> String {
    let mut line = Line {
        buf: Vec::with_capacity(256),
        escape: format.escape,
    };
    for part in &format.parts {
        match part {
            Part::Literal(text) => line.buf.extend_from_slice(text.as_bytes()),
            Part::Var(var) => value(&mut line, *var, pending, out, now),
        }
    }
    // Default escaping leaves only ASCII; `json` and `none` pass bytes from 0x80 through, which
    // a text log can only carry as UTF-8 (an invalid sequence becomes U+FFFD).
    match String::from_utf8(line.buf) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn value(line: &mut Line, var: Var, p: &Pending, out: &Outcome<'_>, now: SystemTime) {
    match var {
        Var::RemoteAddr => line.text(out.conn.client_ip.as_bytes()),
        Var::RemotePort => line.number(out.conn.client.port()),
        Var::RemoteUser(slot) => match p.header(slot).and_then(|v| basic_user(v.as_bytes())) {
            Some(user) => line.text(&user),
            None => line.missing(),
        },
        Var::Host if out.host.is_empty() => line.missing(),
        Var::Host => line.text(out.host.as_bytes()),
        Var::Request => {
            line.text(p.method.as_str().as_bytes());
            line.buf.push(b' ');
            line.text(p.request_uri().as_bytes());
            line.buf.push(b' ');
            line.text(protocol(p.version).as_bytes());
        }
        Var::RequestMethod => line.text(p.method.as_str().as_bytes()),
        Var::RequestUri => line.text(p.request_uri().as_bytes()),
        Var::Args => match p.uri.query() {
            Some(query) => line.text(query.as_bytes()),
            None => line.missing(),
        },
        Var::IsArgs if p.uri.query().is_some() => line.buf.push(b'?'),
        Var::IsArgs => {}
        Var::ServerProtocol => line.text(protocol(p.version).as_bytes()),
        Var::Scheme => line.text(out.conn.scheme.as_str().as_bytes()),
        Var::Https if out.conn.scheme == crate::exchange::Scheme::Https => line.text(b"on"),
        Var::Https => {}
        Var::ServerAddr => {
            let _ = write!(line.buf, "{}", out.conn.local.ip().to_canonical());
        }
        Var::ServerPort => line.number(out.conn.local.port()),
        Var::Status => line.number(out.status.as_u16()),
        Var::BodyBytesSent => line.number(out.body_bytes),
        Var::RequestTime => seconds(&mut line.buf, out.request_time),
        Var::UpstreamAddr => match &out.upstream {
            Some(addr) => line.text(addr.as_bytes()),
            None => line.missing(),
        },
        Var::UpstreamResponseTime => match out.upstream_response_time {
            Some(t) => seconds(&mut line.buf, t),
            None => line.missing(),
        },
        Var::TimeLocal => time_local(&mut line.buf, now),
        Var::TimeIso8601 => time_iso8601(&mut line.buf, now),
        Var::Msec => {
            let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            let _ = write!(line.buf, "{}.{:03}", since.as_secs(), since.subsec_millis());
        }
        Var::RequestId => {
            let _ = write!(line.buf, "{:032x}", p.request_id);
        }
        Var::Pid => line.number(std::process::id()),
        Var::Header(slot) => match p.header(slot) {
            Some(v) => line.text(v.as_bytes()),
            None => line.missing(),
        },
    }
}

/// The line being written and its escaping.
struct Line {
    buf: Vec<u8>,
    escape: Escape,
}

impl Line {
    /// nginx writes `-` for a variable without a value, but only with default escaping.
    fn missing(&mut self) {
        if self.escape == Escape::Default {
            self.buf.push(b'-');
        }
    }

    /// Numbers need no escaping in any mode.
    fn number(&mut self, n: impl std::fmt::Display) {
        let _ = write!(self.buf, "{n}");
    }

    fn text(&mut self, value: &[u8]) {
        match self.escape {
            Escape::Default => escape_default(&mut self.buf, value),
            Escape::Json => escape_json(&mut self.buf, value),
            Escape::None => self.buf.extend_from_slice(value),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// nginx's `ngx_http_log_escape`: `"`, `\`, bytes below 0x20 and from 0x7F as `\xHH`.
pub(super) fn escape_default(buf: &mut Vec<u8>, value: &[u8]) {
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    if value.iter().all(|&b| plain(b)) {
        buf.extend_from_slice(value);
        return;
    }
    for &b in value {
        if plain(b) {
            buf.push(b);
        } else {
            buf.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
}

/// nginx's `ngx_escape_json`: `"` and `\` escaped, control characters as `\n`, `\r`, `\t`,
/// `\b`, `\f` or `\u00XX`; everything else (0x7F and up included) as it is.
pub(super) fn escape_json(buf: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        match b {
            b'"' | b'\\' => buf.extend_from_slice(&[b'\\', b]),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0x08 => buf.extend_from_slice(b"\\b"),
            0x0c => buf.extend_from_slice(b"\\f"),
            0..=0x1f => buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => buf.push(b),
        }
    }
}

/// `$server_protocol` (and the end of `$request`), as nginx spells it.
fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// `$request_time`: seconds with millisecond resolution, `0.004`.
fn seconds(buf: &mut Vec<u8>, t: Duration) {
    let _ = write!(buf, "{}.{:03}", t.as_secs(), t.subsec_millis());
}

/// Standard base64, padding optional, as basic auth reads it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `$remote_user`: the user name of a `Basic` credential (nginx decodes it whether or not the
/// site checks it); `None` for another scheme or a malformed value.
fn basic_user(value: &[u8]) -> Option<Vec<u8>> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let mut decoded = BASE64.decode(encoded.trim_start()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    // The password goes before the buffer is returned.
    zeroize::Zeroize::zeroize(&mut decoded[colon..]);
    decoded.truncate(colon);
    Some(decoded)
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
fn time_local(buf: &mut Vec<u8>, now: SystemTime) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, s) = civil(now);
    let month = MONTHS[(m as usize).saturating_sub(1).min(11)];
    let _ = write!(
        buf,
        "{d:02}/{month}/{y}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// `$time_iso8601` in UTC: `2026-11-25T10:09:00+00:00`.
fn time_iso8601(buf: &mut Vec<u8>, now: SystemTime) {
    let (y, m, d, s) = civil(now);
    let _ = write!(
        buf,
        "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
