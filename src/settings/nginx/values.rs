//! nginx's value syntaxes (sizes, times, addresses) and the checks on header names and values
//! that `directives.rs` applies before a value enters a policy.

use std::time::Duration;

use crate::policy::IpNet;

/// nginx size syntax (`ngx_parse_offset`): bytes, or a `k`/`m`/`g` suffix in either case.
pub(crate) fn size(v: &str) -> Option<u64> {
    let (digits, shift) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 10),
        b'm' | b'M' => (&v[..v.len() - 1], 20),
        b'g' | b'G' => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// nginx time syntax (`ngx_parse_time`): `500ms`, `30s`, `1m`, `1h30m`, `1d`, `1w`, `1M`,
/// `1y`, units largest first, each at most once; a bare number is seconds.
pub(crate) fn time(v: &str) -> Option<Duration> {
    const UNITS: [(&str, u64); 8] = [
        ("y", 365 * 86_400_000),
        ("M", 30 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    let mut rest = v.trim_start_matches(' ');
    let mut last_scale = u64::MAX;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .map_or(("", 1000), |(u, s)| (*u, *s));
        if unit.is_empty() && !rest.trim_start_matches(' ').is_empty() {
            return None;
        }
        if scale >= last_scale {
            return None;
        }
        last_scale = scale;
        total = total.checked_add(n.checked_mul(scale)?)?;
        rest = rest[unit.len()..].trim_start_matches(' ');
    }
    Some(Duration::from_millis(total))
}

pub(crate) fn timeout(v: &str) -> Result<Duration, String> {
    time(v)
        .filter(|t| !t.is_zero())
        .ok_or_else(|| format!("ignored: {v:?} is not a time such as 30s, 1m or 500ms"))
}

pub(crate) fn header_name(name: &str) -> Result<(), String> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| format!("ignored: {name:?} is not a header name"))
}

/// A value dockside sends as written: it must be a valid header value, and must not use
/// nginx variables (`$remote_addr`, …), which dockside does not expand.
pub(crate) fn header_value(value: &str) -> Result<(), String> {
    if let Some(var) = variable(value) {
        return Err(format!(
            "ignored: uses the nginx variable ${var}, which dockside does not expand"
        ));
    }
    http::HeaderValue::from_str(value)
        .map(drop)
        .map_err(|_| format!("ignored: {value:?} is not a header value"))
}

/// The first nginx variable in `s` (`$name` or `${name}`), if any.
pub(crate) fn variable(s: &str) -> Option<&str> {
    variables(s).next()
}

/// The nginx variables `s` uses, in order.
pub(crate) fn variables(s: &str) -> impl Iterator<Item = &str> {
    s.split('$').skip(1).filter_map(|after| {
        let name = after.strip_prefix('{').unwrap_or(after);
        let len = name
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        (len > 0).then(|| &name[..len])
    })
}

/// `allow` / `deny` operand: an address, a CIDR block (host bits cleared, as nginx does after
/// its warning), or `all`.
pub(crate) fn ip_net(v: &str) -> Result<IpNet, String> {
    crate::policy::parse_net(v)
        .map_err(|_| format!("ignored: {v:?} is not an address, a CIDR block or \"all\""))
}
