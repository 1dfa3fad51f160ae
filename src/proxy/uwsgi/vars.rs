//! The CGI vars sent to uWSGI for one request, pure: what Debian's `/etc/nginx/uwsgi_params`
//! sends, plus `UWSGI_SCHEME`, `HTTP_HOST` with its port, and every end-to-end header as `HTTP_*`.
//!
//! Unlike nginx 1.22 we do not pass hop-by-hop headers, `Proxy` (httpoxy) or header names with
//! `_` (they would alias a `-` header once turned into `HTTP_*`, a known spoofing trick).

use http::{HeaderMap, HeaderName, Version, header, request::Parts};

use super::codec::{EncodeError, PacketEncoder};
use crate::proxy::meta::{RequestMeta, Scheme};

/// `DOCUMENT_ROOT` as nginx-proxy sends it: its uwsgi locations set no `root`, so nginx's
/// compiled-in default applies.
pub const DOCUMENT_ROOT: &str = "/etc/nginx/html";

/// One var: name and raw value bytes (header values need not be UTF-8).
pub type Var = (String, Vec<u8>);

/// The vars for `parts`, in nginx's order. `content_length` is the body length that will follow
/// the packet (`None` → empty `CONTENT_LENGTH`, as nginx sends for a request without a body).
pub fn request_vars(parts: &Parts, meta: &RequestMeta, content_length: Option<u64>) -> Vec<Var> {
    let conn = &meta.conn;
    let text = |k: &str, v: &str| (k.to_owned(), v.as_bytes().to_vec());
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes());
    let length = content_length.map(|n| n.to_string()).unwrap_or_default();
    let mut vars = vec![
        text("QUERY_STRING", &meta.query),
        text("REQUEST_METHOD", parts.method.as_str()),
        ("CONTENT_TYPE".to_owned(), content_type.to_vec()),
        text("CONTENT_LENGTH", &length),
        text("REQUEST_URI", &meta.request_uri),
        ("PATH_INFO".to_owned(), percent_decode(meta.path.as_bytes())),
        text("DOCUMENT_ROOT", DOCUMENT_ROOT),
        text("SERVER_PROTOCOL", server_protocol(parts.version)),
        text("REQUEST_SCHEME", conn.scheme.as_str()),
    ];
    if conn.scheme == Scheme::Https {
        vars.push(text("HTTPS", "on"));
    }
    vars.extend([
        text("REMOTE_ADDR", &conn.client.ip().to_canonical().to_string()),
        text("REMOTE_PORT", &conn.client.port().to_string()),
        text("SERVER_PORT", &conn.local.port().to_string()),
        text("SERVER_NAME", &meta.host),
        text("UWSGI_SCHEME", conn.scheme.as_str()),
        ("HTTP_HOST".to_owned(), http_host(parts, meta)),
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

fn server_protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The rewritten Host header (it carries the port); h2 requests may only have an authority.
fn http_host(parts: &Parts, meta: &RequestMeta) -> Vec<u8> {
    if let Some(host) = parts.headers.get(header::HOST) {
        return host.as_bytes().to_vec();
    }
    match parts.uri.authority() {
        Some(a) => a.as_str().as_bytes().to_vec(),
        None => meta.host.as_bytes().to_vec(),
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
fn header_vars(headers: &HeaderMap) -> impl Iterator<Item = Var> + '_ {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    headers
        .keys()
        .filter(move |name| forwarded(name, &listed))
        .map(|name| {
            let sep: &[u8] = if name == header::COOKIE { b"; " } else { b", " };
            let mut value = Vec::new();
            for (i, v) in headers.get_all(name).iter().enumerate() {
                if i > 0 {
                    value.extend_from_slice(sep);
                }
                value.extend_from_slice(v.as_bytes());
            }
            (var_name(name), value)
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
fn percent_decode(raw: &[u8]) -> Vec<u8> {
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
    out
}

#[cfg(test)]
#[path = "vars_tests.rs"]
mod tests;
