//! The CGI vars sent to uWSGI for one request, pure: what Debian's `/etc/nginx/uwsgi_params`
//! sends, plus `UWSGI_SCHEME`, `HTTP_HOST` with its port, and every end-to-end header as `HTTP_*`.
//!
//! Unlike nginx 1.22 we do not pass hop-by-hop headers, `Proxy` (httpoxy) or header names with
//! `_` (they would alias a `-` header once turned into `HTTP_*`, a known spoofing trick).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Version, header, request::Parts};

use super::codec::{EncodeError, PacketEncoder};
use crate::exchange::hop::connection_tokens;
use crate::exchange::{RequestMeta, Scheme};

/// `DOCUMENT_ROOT` as nginx-proxy sends it: its uwsgi locations set no `root`, so nginx's
/// compiled-in default applies.
pub const DOCUMENT_ROOT: &str = "/etc/nginx/html";

/// One var: name and raw value bytes (header values need not be UTF-8). Both borrow where
/// they can (fixed names, the request's own bytes): a request's vars are then built with a
/// handful of allocations instead of two per var.
pub type Var<'a> = (Cow<'static, str>, Cow<'a, [u8]>);

/// The vars for `parts`, in nginx's order. `content_length` is the body length that will follow
/// the packet (`None` → empty `CONTENT_LENGTH`, as nginx sends for a request without a body).
pub fn request_vars<'a>(
    parts: &'a Parts,
    meta: &'a RequestMeta,
    content_length: Option<u64>,
) -> Vec<Var<'a>> {
    let conn = &meta.conn;
    let text = |k: &'static str, v: &'a str| (Cow::Borrowed(k), Cow::Borrowed(v.as_bytes()));
    let owned = |k: &'static str, v: String| (Cow::Borrowed(k), Cow::Owned(v.into_bytes()));
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes());
    let length = content_length.map(|n| n.to_string()).unwrap_or_default();
    let mut vars = Vec::with_capacity(16 + parts.headers.keys_len());
    vars.extend([
        text("QUERY_STRING", &meta.query),
        text("REQUEST_METHOD", parts.method.as_str()),
        (Cow::Borrowed("CONTENT_TYPE"), Cow::Borrowed(content_type)),
        owned("CONTENT_LENGTH", length),
        text("REQUEST_URI", &meta.request_uri),
        (
            Cow::Borrowed("PATH_INFO"),
            percent_decode(meta.path.as_bytes()),
        ),
        text("DOCUMENT_ROOT", DOCUMENT_ROOT),
        text("SERVER_PROTOCOL", server_protocol(parts.version)),
        text("REQUEST_SCHEME", conn.scheme.as_str()),
    ]);
    if conn.scheme == Scheme::Https {
        vars.push(text("HTTPS", "on"));
    }
    vars.extend([
        (
            Cow::Borrowed("REMOTE_ADDR"),
            Cow::Borrowed(conn.client_ip.as_bytes()),
        ),
        owned("REMOTE_PORT", conn.client.port().to_string()),
        owned("SERVER_PORT", conn.local.port().to_string()),
        text("SERVER_NAME", &meta.host),
        text("UWSGI_SCHEME", conn.scheme.as_str()),
        (
            Cow::Borrowed("HTTP_HOST"),
            Cow::Borrowed(http_host(parts, meta)),
        ),
    ]);
    vars.extend(header_vars(&parts.headers));
    vars
}

/// Encodes `vars` as one uwsgi packet (header + vars block), refusing anything over 64 KiB.
pub fn encode(vars: &[Var]) -> Result<Vec<u8>, EncodeError> {
    let mut enc = PacketEncoder::new();
    for (k, v) in vars {
        enc.push(k.as_bytes(), v)?;
    }
    Ok(enc.finish())
}

pub(in crate::upstream) fn server_protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The rewritten Host header (it carries the port); h2 requests may only have an authority.
pub(in crate::upstream) fn http_host<'a>(parts: &'a Parts, meta: &'a RequestMeta) -> &'a [u8] {
    if let Some(host) = parts.headers.get(header::HOST) {
        return host.as_bytes();
    }
    match parts.uri.authority() {
        Some(a) => a.as_str().as_bytes(),
        None => meta.host.as_bytes(),
    }
}

/// Headers that describe one hop, never the request: RFC 9110 §7.6.1 plus the legacy ones.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Whether `name` is forwarded as an `HTTP_*` var.
fn forwarded(name: &HeaderName, connection_listed: &[String]) -> bool {
    let n = name.as_str();
    !(HOP_BY_HOP.contains(&n)
        || n == "proxy"
        || n.contains('_')
        || name == header::HOST
        || name == header::CONTENT_TYPE
        || name == header::CONTENT_LENGTH
        || connection_listed.iter().any(|c| c == n))
}

/// Each end-to-end header once, repeated values joined with `, ` (`; ` for Cookie).
pub(in crate::upstream) fn header_vars(headers: &HeaderMap) -> impl Iterator<Item = Var<'_>> + '_ {
    let listed: Vec<String> = connection_tokens(headers)
        .map(str::to_ascii_lowercase)
        .collect();
    headers
        .keys()
        .filter(move |name| forwarded(name, &listed))
        .map(|name| {
            let mut values = headers.get_all(name).iter();
            let first = values.next().map_or(&b""[..], |v| v.as_bytes());
            let mut value = Cow::Borrowed(first);
            let sep: &[u8] = if name == header::COOKIE { b"; " } else { b", " };
            for v in values {
                let joined = value.to_mut();
                joined.extend_from_slice(sep);
                joined.extend_from_slice(v.as_bytes());
            }
            (Cow::Owned(var_name(name)), value)
        })
}

/// `x-forwarded-for` → `HTTP_X_FORWARDED_FOR`.
fn var_name(name: &HeaderName) -> String {
    let mut out = String::with_capacity(5 + name.as_str().len());
    out.push_str("HTTP_");
    out.extend(name.as_str().chars().map(|c| match c {
        '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    out
}

/// CGI's `PATH_INFO` is decoded (nginx's `$document_uri`); an invalid escape stays as written.
pub(in crate::upstream) fn percent_decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'%') {
        return Cow::Borrowed(raw);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let pair = raw.get(i + 1).zip(raw.get(i + 2));
        match (raw[i], pair.and_then(|(a, b)| Some((hex(*a)?, hex(*b)?)))) {
            (b'%', Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[path = "vars_tests.rs"]
mod tests;
