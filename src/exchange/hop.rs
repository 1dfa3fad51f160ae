//! Hop-by-hop headers (RFC 9110 §7.6.1): what never travels past a proxy, in either direction
//! and for every upstream protocol. One list and one stripping rule, so the HTTP forwarder, the
//! HTTP/1 codec and uwsgi cannot drift apart.

use http::header::{self, HeaderMap, HeaderName};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one hop, plus the legacy `Keep-Alive` / `Proxy-Connection` that
/// clients still send. Names, not strings: a string would be parsed again on every removal,
/// twice per proxied request.
fn hop_by_hop() -> [&'static HeaderName; 7] {
    [
        &header::CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ]
}

/// Whether the message's body framing headers go too.
/// One of `hop_by_hop()`: looked up for every header of every proxied message, so written as
/// plain comparisons (standard names compare by tag) rather than a search that the optimiser
/// may or may not inline.
#[inline]
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A message hyper frames again (`Transfer-Encoding` is its business).
    Strip,
    /// A head whose body the caller still has to frame from `Transfer-Encoding` and
    /// `Content-Length` (uwsgi's raw HTTP response): those stay, even when `Connection` names
    /// them.
    Keep,
}

/// Drops hop-by-hop headers from an upstream response; a `101` keeps `Upgrade`/`Connection`
/// because the switch is what the client asked for.
pub(crate) fn rewrite_response(headers: &mut HeaderMap, switching: bool) {
    if !switching {
        strip_hop_by_hop(headers, Framing::Strip);
    }
}

/// Removes the hop-by-hop headers and every header named in `Connection`. Most messages carry
/// none of them: one pass over the names (an enum comparison each for standard headers) then
/// saves hashing seven names for removals that find nothing.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, framing: Framing) {
    // One body, compiled twice: the `Strip` copy (every proxied request and response) carries
    // no framing checks at all.
    match framing {
        Framing::Strip => strip::<false>(headers),
        Framing::Keep => strip::<true>(headers),
    }
}

fn strip<const KEEP_FRAMING: bool>(headers: &mut HeaderMap) {
    let kept = |name: &HeaderName| {
        KEEP_FRAMING && (name == header::TRANSFER_ENCODING || name == header::CONTENT_LENGTH)
    };
    if !headers.keys().any(|k| is_hop_by_hop(k) && !kept(k)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .filter(|name| !kept(name))
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in hop_by_hop() {
        if !kept(name) {
            headers.remove(name);
        }
    }
}

/// The options listed in every `Connection` header, trimmed, empty ones skipped (as written:
/// compare them case-insensitively).
pub(crate) fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_check_names_the_list_and_nothing_else() {
        for name in hop_by_hop() {
            assert!(is_hop_by_hop(name), "{name}");
        }
        for other in [
            "content-length",
            "host",
            "x-keep-alive",
            "upgrade-insecure-requests",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(other)), "{other}");
        }
    }
}
