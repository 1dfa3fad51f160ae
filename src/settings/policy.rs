//! A container's (or routes-file entry's) policy settings → the `Policy` of its location.
//! Pure: the values were read by a provider; a value that does not parse rejects the item with
//! a message naming the setting, like every other setting.
//!
//! Each setting is the first-class form of an nginx directive people put in `vhost.d/` files:
//! `BASIC_AUTH` (`auth_basic` + a user file), `IP_ALLOW` / `IP_DENY` / `NETWORK_ACCESS`
//! (`allow` / `deny`), `RATE_LIMIT` (`limit_req`), `PROXY_*_TIMEOUT`, `REQUEST_HEADERS`
//! (`proxy_set_header`), `RESPONSE_HEADERS` (`more_set_headers` / `proxy_hide_header`),
//! `RETURN` and `REDIRECT_TO_HOST` (`return`), `COMPRESSION*` (`gzip on`, `gzip_types`, …).

use std::collections::BTreeMap;
use std::time::Duration;

use super::names::*;
use super::nginx::parse_time;
use crate::policy::{
    self, AccessRule, BasicAuth, Compression, Encoding, FixedAnswer, HeaderOp, IpNet, Origin,
    Policy, ResponseHeaderOp,
};

/// The media types nginx-proxy users turn gzip on for (nginx's `text/html` plus the usual
/// `gzip_types` line); `COMPRESSION_TYPES` replaces the list.
pub const DEFAULT_COMPRESSIBLE: &[&str] = &[
    "text/html",
    "text/plain",
    "text/css",
    "text/javascript",
    "text/xml",
    "application/javascript",
    "application/json",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/wasm",
    "image/svg+xml",
];

/// Validates one policy setting's value (called for each item, so a bad value names the
/// item's container). `Ok` for names that are not policy settings.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let mut scratch = Policy::default();
    apply(&mut scratch, name, value, "", "")
}

/// The policy a location's settings ask for. `settings` are the location's claimed per-path
/// values with the item that set each; `host` and `path` give the auth realm's name.
pub fn build(
    settings: &BTreeMap<&'static str, (String, String)>,
    host: &str,
    path: &str,
) -> Policy {
    let mut policy = Policy::default();
    for &name in POLICY_SETTINGS {
        if let Some((value, source)) = settings.get(name) {
            let headers = policy.request_headers.len() + policy.response_headers.len();
            // Validated when the item was read; a failure here cannot happen, and would only
            // leave this part out.
            let _ = apply(&mut policy, name, value, host, path);
            let from = format!("{name} of {source}");
            let Some(part) = part_of(name) else { continue };
            // One origin per header change (they add up across levels), one per other part.
            let added = policy.request_headers.len() + policy.response_headers.len() - headers;
            let times = match part {
                "request_headers" | "response_headers" => added,
                _ if policy.origins.iter().any(|o| o.part == part) => 0,
                _ => 1,
            };
            for _ in 0..times {
                policy.origins.push(Origin {
                    part,
                    from: from.clone(),
                });
            }
        }
    }
    policy
}

fn part_of(name: &str) -> Option<&'static str> {
    Some(match name {
        IP_ALLOW | IP_DENY | NETWORK_ACCESS => "access",
        BASIC_AUTH | BASIC_AUTH_REALM => "auth",
        RATE_LIMIT => "rate_limit",
        PROXY_CONNECT_TIMEOUT | PROXY_READ_TIMEOUT | PROXY_SEND_TIMEOUT => "timeouts",
        RETURN | REDIRECT_TO_HOST => "answer",
        REQUEST_HEADERS => "request_headers",
        RESPONSE_HEADERS => "response_headers",
        COMPRESSION | COMPRESSION_LEVEL | COMPRESSION_MIN_LENGTH | COMPRESSION_TYPES => {
            "compression"
        }
        _ => return None,
    })
}

fn apply(p: &mut Policy, name: &str, value: &str, host: &str, path: &str) -> Result<(), String> {
    let v = value.trim();
    let bad = |why: String| format!("{name}={v:?}: {why}");
    match name {
        NETWORK_ACCESS => match v {
            "internal" => p.access = policy::internal(),
            "external" => {}
            _ => return Err(bad("use internal or external".into())),
        },
        IP_DENY => {
            let nets = nets(v).map_err(bad)?;
            let mut rules: Vec<AccessRule> = nets
                .into_iter()
                .map(|net| AccessRule { allow: false, net })
                .collect();
            rules.append(&mut p.access);
            p.access = rules;
        }
        IP_ALLOW => {
            // After IP_DENY's rules, before the closing `deny all` (NETWORK_ACCESS=internal's
            // own, or a new one).
            if p.access.last().is_none_or(|r| r.allow || !r.net.all) {
                p.access.push(AccessRule {
                    allow: false,
                    net: IpNet::ALL,
                });
            }
            let at = p.access.len() - 1;
            let allows = nets(v)
                .map_err(bad)?
                .into_iter()
                .map(|net| AccessRule { allow: true, net });
            p.access.splice(at..at, allows);
        }
        BASIC_AUTH => {
            let users = policy::parse_inline(v, name)?;
            let realm = p
                .auth
                .take()
                .map(|a| a.realm)
                .unwrap_or_else(|| realm(host, path));
            p.auth = Some(BasicAuth { realm, users });
        }
        BASIC_AUTH_REALM => {
            if v.contains(['"', '\\']) || v.chars().any(char::is_control) {
                return Err(bad(
                    "a realm may not contain quotes, backslashes or control characters".into(),
                ));
            }
            if let Some(auth) = &mut p.auth {
                auth.realm = v.to_owned();
            }
        }
        RATE_LIMIT => p.rate_limit = Some(policy::parse_rate(v).map_err(bad)?),
        PROXY_CONNECT_TIMEOUT => p.timeouts.connect = Some(duration(v).map_err(bad)?),
        PROXY_READ_TIMEOUT => p.timeouts.read = Some(duration(v).map_err(bad)?),
        PROXY_SEND_TIMEOUT => p.timeouts.send = Some(duration(v).map_err(bad)?),
        RETURN => p.answer = Some(fixed_answer(v).map_err(bad)?),
        REDIRECT_TO_HOST => {
            if v.is_empty() || v.contains(['/', ' ', '?', '#']) {
                return Err(bad("give a host name, e.g. example.com".into()));
            }
            p.answer = Some(FixedAnswer {
                status: 301,
                text: Some(format!("$scheme://{v}$request_uri")),
            });
        }
        REQUEST_HEADERS => {
            for (name, value) in header_lines(v).map_err(bad)? {
                p.request_headers.push(HeaderOp { name, value });
            }
        }
        RESPONSE_HEADERS => {
            for (name, value) in header_lines(v).map_err(bad)? {
                p.response_headers.push(match value {
                    Some(value) => ResponseHeaderOp::Set { name, value },
                    None => ResponseHeaderOp::Remove { name },
                });
            }
        }
        COMPRESSION => {
            let encodings = encodings(v).map_err(bad)?;
            p.compression = (!encodings.is_empty()).then(|| Compression {
                encodings,
                ..p.compression.take().unwrap_or_else(default_compression)
            });
        }
        COMPRESSION_LEVEL => {
            let level: u32 = v
                .parse()
                .ok()
                .filter(|l| (1..=9).contains(l))
                .ok_or_else(|| bad("use a level from 1 (fastest) to 9".into()))?;
            if let Some(c) = &mut p.compression {
                c.level = level;
            }
        }
        COMPRESSION_MIN_LENGTH => {
            let n = super::value::parse_size(name, v)?.unwrap_or(0);
            if let Some(c) = &mut p.compression {
                c.min_length = n;
            }
        }
        COMPRESSION_TYPES => {
            let types: Vec<String> = v
                .split([',', ' '])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            if types.iter().any(|t| t != "*" && !t.contains('/')) {
                return Err(bad("give media types like application/json, or *".into()));
            }
            if let Some(c) = &mut p.compression {
                c.types = types;
            }
        }
        _ => {}
    }
    Ok(())
}

/// nginx-proxy's realm: `Restricted <host>` / `Restricted <host><path>`, `Restricted access`
/// for regex hosts.
pub fn realm(host: &str, path: &str) -> String {
    if host.starts_with('~') {
        "Restricted access".to_owned()
    } else if path.is_empty() || path == "/" {
        format!("Restricted {host}")
    } else {
        format!("Restricted {host}{path}")
    }
}

fn default_compression() -> Compression {
    Compression {
        encodings: vec![Encoding::Zstd, Encoding::Brotli, Encoding::Gzip],
        types: DEFAULT_COMPRESSIBLE
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        // nginx's gzip_min_length is 20; anything that small gains nothing.
        min_length: 256,
        level: 4,
    }
}

/// `on` (zstd, br, gzip), `off`, or a list such as `gzip, br`.
fn encodings(v: &str) -> Result<Vec<Encoding>, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" => return Ok(default_compression().encodings),
        "off" | "false" => return Ok(Vec::new()),
        _ => {}
    }
    let mut out = Vec::new();
    for token in v.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()) {
        let e = match token.to_ascii_lowercase().as_str() {
            "gzip" => Encoding::Gzip,
            "br" | "brotli" => Encoding::Brotli,
            "zstd" => Encoding::Zstd,
            other => {
                return Err(format!(
                    "unknown coding {other:?}: use on, off, or a list of gzip, br, zstd"
                ));
            }
        };
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn nets(v: &str) -> Result<Vec<IpNet>, String> {
    v.split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(policy::parse_net)
        .collect()
}

fn duration(v: &str) -> Result<Duration, String> {
    parse_time(v)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "not a duration: use nginx time syntax, e.g. 30s, 2m, 500ms".to_owned())
}

/// `CODE [TEXT|URL]`, or a bare URL (nginx: `return URL` is a 302).
fn fixed_answer(v: &str) -> Result<FixedAnswer, String> {
    if v.starts_with("http://") || v.starts_with("https://") || v.starts_with("$scheme") {
        return Ok(FixedAnswer {
            status: 302,
            text: Some(v.to_owned()),
        });
    }
    let (code, text) = match v.split_once(char::is_whitespace) {
        Some((c, t)) => (c, Some(t.trim().trim_matches('"').to_owned())),
        None => (v, None),
    };
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .ok_or_else(|| {
            "use CODE [text or URL], e.g. 418 or 301 https://example.com$request_uri".to_owned()
        })?;
    if matches!(status, 301 | 302 | 303 | 307 | 308) && text.is_none() {
        return Err("a redirect needs a URL".to_owned());
    }
    Ok(FixedAnswer { status, text })
}

/// `Name: value` lines (newline-separated; the two characters `\n` also separate, for
/// one-line `docker run -e`). `Name:` with nothing after it removes the header.
fn header_lines(v: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for line in v.split('\n').flat_map(|l| l.split("\\n")) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{line:?} is not `Name: value` (or `Name:` to remove)"))?;
        let name = name.trim();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("{name:?} is not a header name"));
        }
        let value = value.trim();
        if http::HeaderValue::from_str(value).is_err() {
            return Err(format!("the value of {name} is not valid header text"));
        }
        out.push((
            name.to_owned(),
            (!value.is_empty()).then(|| value.to_owned()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
