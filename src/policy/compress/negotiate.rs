//! `Accept-Encoding` negotiation (RFC 9110 §12.5.3): which of the codings a site offers the
//! client prefers. Pure and allocation-free: it runs on every request of a compressing site.

use http::HeaderMap;
use http::header::ACCEPT_ENCODING;

use crate::policy::Encoding;

/// The coding for a response to a request with these headers, among `offered`, or `None` to
/// send the body as it is. The client's q-values decide; among equal q-values the server's
/// order in `offered` does (RFC 9110 leaves that tie to the server). `q=0` means "never", a
/// coding the client does not name takes `*`'s weight, and `x-gzip` counts as `gzip`.
///
/// A request with no `Accept-Encoding` at all gets `None`: RFC 9110 would allow any coding,
/// but clients that send none (curl without `--compressed`, health checks, old scripts) cannot
/// decode one, which is why nginx and Caddy also compress only when asked.
pub fn negotiate(headers: &HeaderMap, offered: &[Encoding]) -> Option<Encoding> {
    let mut best: Option<(Encoding, u16)> = None;
    for &encoding in offered {
        let q = weight(headers, encoding);
        if q > 0 && best.is_none_or(|(_, top)| q > top) {
            best = Some((encoding, q));
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// The weight (q × 1000) the client gave `encoding`: its own entry (the highest, if named
/// twice), else `*`'s, else 0.
fn weight(headers: &HeaderMap, encoding: Encoding) -> u16 {
    let mut own: Option<u16> = None;
    let mut star: Option<u16> = None;
    for (token, q) in entries(headers) {
        if names(token, encoding) {
            own = Some(own.map_or(q, |o| o.max(q)));
        } else if token == "*" {
            star = Some(star.map_or(q, |s| s.max(q)));
        }
    }
    own.or(star).unwrap_or(0)
}

fn names(token: &str, encoding: Encoding) -> bool {
    token.eq_ignore_ascii_case(encoding.token())
        || (encoding == Encoding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
}

/// Every `coding[;q=…]` element of every `Accept-Encoding` line, with its weight. Elements with
/// an unreadable q-value are skipped (as if not sent), never guessed at.
fn entries(headers: &HeaderMap) -> impl Iterator<Item = (&str, u16)> {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(entry)
}

fn entry(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let token = parts.next()?.trim();
    if token.is_empty() {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = qvalue(value.trim())?;
        }
    }
    Some((token, q))
}

/// RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`, as thousandths.
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    (whole + thousandths <= 1000).then_some(whole + thousandths)
}

#[cfg(test)]
#[path = "negotiate_tests.rs"]
mod tests;
