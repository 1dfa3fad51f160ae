//! Host matching with nginx `server_name` precedence: exact, longest leading wildcard,
//! longest trailing wildcard, then regexes in order.

use std::borrow::Cow;

use regex::Regex;

/// A compiled `VIRTUAL_HOST` item.
#[derive(Debug, Clone)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com` (stored as `.example.com`) or `.example.com` (also matches `example.com`).
    Leading {
        suffix: String,
        include_bare: bool,
    },
    /// `example.*` (stored as `example.`).
    Trailing(String),
    Regex(Regex),
}

/// Why a `VIRTUAL_HOST` item cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("VIRTUAL_HOST item {item:?} is not a valid regex: {source}")]
pub struct BadHost {
    pub item: String,
    #[source]
    pub source: regex::Error,
}

impl HostPattern {
    /// Compiles one item; names are lower-cased because Host matching is case-insensitive.
    pub fn parse(item: &str) -> Result<HostPattern, BadHost> {
        if let Some(re) = item.strip_prefix('~') {
            let re = re.trim_start();
            return Regex::new(re)
                .map(HostPattern::Regex)
                .map_err(|source| BadHost {
                    item: item.to_owned(),
                    source,
                });
        }
        let lower = item.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("*.") {
            return Ok(HostPattern::Leading {
                suffix: format!(".{rest}"),
                include_bare: false,
            });
        }
        if lower.starts_with('.') && lower.len() > 1 {
            return Ok(HostPattern::Leading {
                suffix: lower,
                include_bare: true,
            });
        }
        if let Some(rest) = lower.strip_suffix(".*") {
            return Ok(HostPattern::Trailing(format!("{rest}.")));
        }
        Ok(HostPattern::Exact(lower))
    }

    /// Whether `host` (lower-case, no port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => name == host,
            HostPattern::Leading {
                suffix,
                include_bare,
            } => {
                (host.len() > suffix.len() && host.ends_with(suffix.as_str()))
                    || (*include_bare && host == &suffix[1..])
            }
            HostPattern::Trailing(prefix) => {
                host.len() > prefix.len() && host.starts_with(prefix.as_str())
            }
            HostPattern::Regex(re) => re.is_match(host),
        }
    }
}

/// Lower-cases a Host header value and strips its port (IPv6 literals keep their brackets).
/// A value that is already a bare lower-case name (what `parse_host` returns, and most SNI
/// names) is borrowed: the route lookup of every request passes through here.
pub fn normalize_host(raw: &str) -> Cow<'_, str> {
    let raw = raw.trim().trim_end_matches('.');
    let without_port = if raw.starts_with('[') {
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    if without_port.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(without_port.to_ascii_lowercase())
    } else {
        Cow::Borrowed(without_port)
    }
}

/// Why a request's `Host` is refused (400): RFC 9112 §3.2, and what nginx's
/// `ngx_http_validate_host` refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHost {
    #[error("HTTP/1.1 request without Host")]
    Missing,
    #[error("more than one Host header")]
    Repeated,
    #[error("Host is not ASCII text")]
    NotText,
    #[error("the port is not a number")]
    Port,
    #[error("the name has a character a host name cannot have")]
    Character,
    #[error("the name has an empty label")]
    EmptyLabel,
    #[error("the IPv6 literal is not closed")]
    Bracket,
}

/// `$host` from a request's `Host` (or `:authority`): validated, port dropped, one trailing dot
/// dropped, lower-cased — once, so that routing, the forwarded `Host` and the logs agree.
/// An empty value stays empty (it routes to `DEFAULT_HOST`, as in nginx).
pub fn parse_host(raw: &str) -> Result<String, InvalidHost> {
    let (name, port) = if raw.starts_with('[') {
        let end = raw.find(']').ok_or(InvalidHost::Bracket)?;
        let literal = &raw[1..end];
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(InvalidHost::Character);
        }
        (&raw[..=end], &raw[end + 1..])
    } else {
        match raw.find(':') {
            Some(colon) => (&raw[..colon], &raw[colon..]),
            None => (raw, ""),
        }
    };
    if let Some(digits) = port.strip_prefix(':') {
        if digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidHost::Port);
        }
    } else if !port.is_empty() {
        return Err(InvalidHost::Port);
    }
    if name.starts_with('[') {
        return Ok(name.to_ascii_lowercase());
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.starts_with('.') || name.contains("..") {
        return Err(InvalidHost::EmptyLabel);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if !name.bytes().all(allowed) {
        return Err(InvalidHost::Character);
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
