//! The FastCGI params of one request, pure: what Debian's `/etc/nginx/fastcgi.conf` sends
//! (nginx-proxy includes it for `VIRTUAL_PROTO=fastcgi`), with `root` = the site's
//! `VIRTUAL_ROOT`, plus `HTTP_HOST` and every end-to-end header as `HTTP_*` — the same header
//! rule as uwsgi (no hop-by-hop headers, no `Proxy`, no names with `_`).
//!
//! One addition to nginx-proxy: a path ending in `/` runs `index.php` there (nginx's
//! `fastcgi_index index.php`), where nginx-proxy would hand php-fpm the directory itself.

use std::borrow::Cow;

use http::{header, request::Parts};

use super::codec::{self, ParamsError, kind};
use crate::exchange::{RequestMeta, Scheme};
use crate::upstream::uwsgi::cgi::{header_vars, http_host, percent_decode, server_protocol};

/// The script a directory path runs (nginx's `fastcgi_index`).
pub const INDEX: &str = "index.php";

/// `SERVER_SOFTWARE` (nginx sends `nginx/<version>`).
const SERVER_SOFTWARE: &str = concat!("dockside/", env!("CARGO_PKG_VERSION"));

/// The bytes that open an exchange: BEGIN_REQUEST, the PARAMS records and the empty one that
/// ends them, and — for a request without a body — the empty STDIN record too, so the whole
/// request is one write.
pub fn request_prefix(
    parts: &Parts,
    meta: &RequestMeta,
    root: &str,
    content_length: Option<u64>,
    keep_conn: bool,
) -> Result<Vec<u8>, ParamsError> {
    let params = encode_params(parts, meta, root, content_length)?;
    let mut out = Vec::with_capacity(params.len() + 64);
    out.extend_from_slice(&codec::begin_request(keep_conn));
    codec::frame_stream(&mut out, kind::PARAMS, &params);
    if content_length.is_none() {
        out.extend_from_slice(&codec::header(kind::STDIN, 0));
    }
    Ok(out)
}

/// The params stream (name-value pairs, not yet framed into records), in `fastcgi.conf`'s order.
pub fn encode_params(
    parts: &Parts,
    meta: &RequestMeta,
    root: &str,
    content_length: Option<u64>,
) -> Result<Vec<u8>, ParamsError> {
    let conn = &meta.conn;
    let uri = percent_decode(meta.path.as_bytes());
    let script: Cow<'_, [u8]> = if uri.ends_with(b"/") {
        let mut s = uri.to_vec();
        s.extend_from_slice(INDEX.as_bytes());
        Cow::Owned(s)
    } else {
        Cow::Borrowed(&uri)
    };
    let mut filename = Vec::with_capacity(root.len() + script.len());
    filename.extend_from_slice(root.trim_end_matches('/').as_bytes());
    filename.extend_from_slice(&script);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes());
    let length = content_length.map(|n| n.to_string()).unwrap_or_default();
    let mut out = Vec::with_capacity(1024);
    let fixed: [(&str, &[u8]); 12] = [
        ("SCRIPT_FILENAME", &filename),
        ("QUERY_STRING", meta.query.as_bytes()),
        ("REQUEST_METHOD", parts.method.as_str().as_bytes()),
        ("CONTENT_TYPE", content_type),
        ("CONTENT_LENGTH", length.as_bytes()),
        ("SCRIPT_NAME", &script),
        ("REQUEST_URI", meta.request_uri.as_bytes()),
        ("DOCUMENT_URI", &uri),
        ("DOCUMENT_ROOT", root.as_bytes()),
        ("SERVER_PROTOCOL", server_protocol(parts.version).as_bytes()),
        ("REQUEST_SCHEME", conn.scheme.as_str().as_bytes()),
        ("GATEWAY_INTERFACE", b"CGI/1.1"),
    ];
    for (name, value) in fixed {
        codec::push_param(&mut out, name.as_bytes(), value)?;
    }
    if conn.scheme == Scheme::Https {
        codec::push_param(&mut out, b"HTTPS", b"on")?;
    }
    let remote_port = conn.client.port().to_string();
    let server_addr = conn.local.ip().to_canonical().to_string();
    let server_port = conn.local.port().to_string();
    let rest: [(&str, &[u8]); 8] = [
        ("SERVER_SOFTWARE", SERVER_SOFTWARE.as_bytes()),
        ("REMOTE_ADDR", conn.client_ip.as_bytes()),
        ("REMOTE_PORT", remote_port.as_bytes()),
        ("SERVER_ADDR", server_addr.as_bytes()),
        ("SERVER_PORT", server_port.as_bytes()),
        ("SERVER_NAME", meta.host.as_bytes()),
        ("REDIRECT_STATUS", b"200"),
        ("HTTP_HOST", http_host(parts, meta)),
    ];
    for (name, value) in rest {
        codec::push_param(&mut out, name.as_bytes(), value)?;
    }
    for (name, value) in header_vars(&parts.headers) {
        codec::push_param(&mut out, name.as_bytes(), &value)?;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
