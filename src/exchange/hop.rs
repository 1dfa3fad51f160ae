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

/// Why a request's `Transfer-Encoding` cannot be forwarded (RFC 9112 §6.1). hyper requires
/// `chunked` last and decodes that one coding; a coding before it would reach the backend as
/// plain bytes with its label gone, and a second `chunked` would leave one layer undecoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodingError {
    /// A coding dockside does not apply: 501, as RFC 9112 §6.1 and nginx answer.
    #[error("Transfer-Encoding {0:?}: only chunked is understood")]
    Unsupported(String),
    /// `chunked` more than once (RFC 9112 §6.1: a sender MUST NOT): 400.
    #[error("Transfer-Encoding applies chunked more than once")]
    ChunkedTwice,
}

/// Checks that a request's `Transfer-Encoding`, if any, is `chunked` alone (any case, over any
/// number of lines). Only a chunked HTTP/1.1 request carries the header past hyper, so callers
/// look only at requests whose body length is unknown.
pub(crate) fn check_request_coding(headers: &HeaderMap) -> Result<(), CodingError> {
    let mut chunked = 0;
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        for coding in value.as_bytes().split(|b| *b == b',') {
            let coding = coding.trim_ascii();
            if coding.eq_ignore_ascii_case(b"chunked") {
                chunked += 1;
            } else if !coding.is_empty() {
                let all = headers.get_all(header::TRANSFER_ENCODING).iter();
                let text: Vec<_> = all.map(|v| String::from_utf8_lossy(v.as_bytes())).collect();
                return Err(CodingError::Unsupported(text.join(", ")));
            }
        }
    }
    match chunked {
        0 | 1 => Ok(()),
        _ => Err(CodingError::ChunkedTwice),
    }
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

    #[test]
    fn a_request_coding_is_chunked_alone() {
        let check = |lines: &[&str]| {
            let mut headers = HeaderMap::new();
            for line in lines {
                headers.append(header::TRANSFER_ENCODING, line.parse().unwrap());
            }
            check_request_coding(&headers)
        };
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&["chunked"]), Ok(()));
        assert_eq!(check(&["CHUNKED"]), Ok(()));
        assert_eq!(check(&[" chunked , "]), Ok(()));
        for twice in [&["chunked, chunked"][..], &["chunked", "Chunked"]] {
            assert_eq!(check(twice), Err(CodingError::ChunkedTwice), "{twice:?}");
        }
        assert_eq!(
            check(&["gzip", "chunked"]),
            Err(CodingError::Unsupported("gzip, chunked".into()))
        );
        assert_eq!(
            check(&["chunked, chunked, identity"]),
            Err(CodingError::Unsupported(
                "chunked, chunked, identity".into()
            ))
        );
    }
}
