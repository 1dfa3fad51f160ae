//! Which responses are compressed, and what compressing changes in their headers: nginx's `gzip`
//! filter rules (with `gzip_vary on`), extended to br and zstd as Caddy's `encode` does.

use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body::Body;

use super::body::compressed;
use super::coder::Coder;
use super::negotiate::negotiate;
use crate::exchange::ProxyBody;
use crate::policy::{Compression, Encoding};

/// What the compression step needs from the request, taken before the request is forwarded
/// (and consumed): two small values, so keeping it across the forward costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressFacts {
    /// A `HEAD` response has no body; nginx leaves its headers alone too.
    pub head: bool,
    /// The coding `negotiate` chose for this client among the site's, if any.
    pub encoding: Option<Encoding>,
}

impl CompressFacts {
    /// The facts of a request with this method and these headers, for a site compressing as `cfg`.
    pub fn new(cfg: &Compression, method: &Method, headers: &HeaderMap) -> Self {
        CompressFacts {
            head: method == Method::HEAD,
            encoding: negotiate(headers, &cfg.encodings),
        }
    }
}

/// `response`, compressed for the client if it is eligible and the client accepts a coding the
/// site offers; an eligible response the client takes uncompressed still gets
/// `Vary: Accept-Encoding`, so a cache keeps the two variants apart. Called after the response
/// header changes, before error pages.
pub fn compress(
    cfg: &Compression,
    request: CompressFacts,
    response: Response<ProxyBody>,
) -> Response<ProxyBody> {
    if request.head || !eligible(cfg, &response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    add_vary(&mut parts.headers);
    // A coder that cannot be built (zstd out of memory) leaves the body as it is.
    let Some((encoding, coder)) = request
        .encoding
        .and_then(|e| Some((e, Coder::new(e, cfg.level).ok()?)))
    else {
        return Response::from_parts(parts, body);
    };
    mark_encoded(&mut parts.headers, encoding);
    Response::from_parts(parts, compressed(body, coder))
}

/// Whether compressing this response is allowed and worth it, whoever asks.
fn eligible(cfg: &Compression, response: &Response<ProxyBody>) -> bool {
    let headers = response.headers();
    has_body(response.status())
        && !headers.contains_key(CONTENT_ENCODING)
        && type_listed(cfg, headers)
        && !has_token(headers, CACHE_CONTROL, "no-transform")
        && match known_length(response) {
            Some(len) => len > 0 && len >= cfg.min_length,
            None => !response.body().is_end_stream(),
        }
}

/// Not 1xx (101 upgrades included), 204 or 304 (no body), nor 206 (a byte range of the
/// uncompressed representation: compressing it would corrupt the client's reassembly).
fn has_body(status: StatusCode) -> bool {
    !status.is_informational()
        && !matches!(
            status,
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED | StatusCode::PARTIAL_CONTENT
        )
}

/// The media type (parameters ignored, any case) is `text/html` or listed; `*` lists every
/// type, even a missing one (as nginx's `gzip_types *`).
fn type_listed(cfg: &Compression, headers: &HeaderMap) -> bool {
    if cfg.types.iter().any(|t| t == "*") {
        return true;
    }
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = value.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("text/html")
        || cfg.types.iter().any(|t| t.eq_ignore_ascii_case(media))
}

/// `Content-Length`, else an exact length the body knows (a body generated in memory).
fn known_length(response: &Response<ProxyBody>) -> Option<u64> {
    match response.headers().get(CONTENT_LENGTH) {
        Some(v) => v.to_str().ok()?.trim().parse().ok(),
        None => response.body().size_hint().exact(),
    }
}

/// Whether a comma-separated header names `token` (any case, `token=value` included).
fn has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split('=')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(token)
        })
}

/// Appends `Accept-Encoding` to `Vary` unless it is already there (or `Vary: *` covers it).
fn add_vary(headers: &mut HeaderMap) {
    if !has_token(headers, VARY, "accept-encoding") && !has_token(headers, VARY, "*") {
        headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// The headers of a body now sent in `encoding`: its length and byte ranges no longer apply,
/// and a strong validator must not claim byte-equality with the uncompressed body.
fn mark_encoded(headers: &mut HeaderMap, encoding: Encoding) {
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
    headers.remove(CONTENT_LENGTH);
    headers.remove(ACCEPT_RANGES);
    weaken_etag(headers);
}

/// nginx's `ngx_http_weak_etag`: `"x"` becomes `W/"x"`, a weak one stays, anything else is
/// removed (it cannot be made weak, and must not stay strong).
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else {
        return;
    };
    let bytes = etag.as_bytes();
    if bytes.starts_with(b"W/") {
        return;
    }
    let weak = bytes
        .starts_with(b"\"")
        .then(|| HeaderValue::from_bytes(&[b"W/", bytes].concat()).ok())
        .flatten();
    match weak {
        Some(w) => headers.insert(ETAG, w),
        None => headers.remove(ETAG),
    };
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
