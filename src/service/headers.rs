//! Pure request/response header rewriting, exactly as nginx-proxy configures nginx (its §1.6.9
//! `proxy_set_header` block), and the `VIRTUAL_DEST` URI replacement. No IO: table-tested.

use std::borrow::Cow;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::exchange::hop::{Framing, strip_hop_by_hop};
use crate::exchange::{ClientCert, Proxied, Scheme};
use crate::routing::PathPattern;

static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_FORWARDED_SSL: HeaderName = HeaderName::from_static("x-forwarded-ssl");
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
static PROXY: HeaderName = HeaderName::from_static("proxy");
/// mTLS: nginx's `$ssl_client_verify` and `$ssl_client_s_dn`, for the backend.
pub static X_SSL_CLIENT_VERIFY: HeaderName = HeaderName::from_static("x-ssl-client-verify");
pub static X_SSL_CLIENT_S_DN: HeaderName = HeaderName::from_static("x-ssl-client-s-dn");

/// What the header rules need to know about the request besides its headers.
#[derive(Debug, Clone, Copy)]
pub struct HeaderContext<'a> {
    /// `$remote_addr`, as header text (`ConnInfo::client_ip`).
    pub client_ip: &'a HeaderValue,
    /// `$server_port`: the port of the listener the client reached.
    pub server_port: u16,
    /// `$scheme`.
    pub scheme: Scheme,
    /// `$host`: lower-case, without port.
    pub host: &'a str,
    /// `$request_uri`: the request target as the client sent it.
    pub request_uri: &'a str,
    /// `TRUST_DOWNSTREAM_PROXY`: keep the client's `X-Forwarded-*` values.
    pub trust_downstream: bool,
    /// The location's upstream keep-alive; off sends `Connection: close`.
    pub keepalive: bool,
    /// `ENABLE_PROXY_PROTOCOL`: what the connection's PROXY header said. A trusted downstream
    /// then gets `X-Forwarded-For` from the header alone and `X-Forwarded-Port` from its
    /// destination port (nginx-proxy's `$proxy_protocol_addr` / `_server_port`).
    pub proxied: Option<Proxied>,
    /// mTLS: the connection's client certificate, when the request's site asked for one.
    pub client_cert: Option<&'a ClientCert>,
    /// Some site of this dockside asks for client certificates: clients' own `X-SSL-Client-*`
    /// headers are removed on every request (with no mTLS anywhere they are no concern of
    /// dockside's and cost nothing).
    pub strip_client_cert: bool,
}

/// Whether the client asked to switch protocols (WebSocket): nginx forwards `Upgrade` then.
pub fn upgrade_requested(headers: &HeaderMap) -> bool {
    forwarded_upgrade(headers).is_some()
}

/// The client's `Upgrade`, unless empty or naming `h2c`: a backend that accepts an h2c upgrade
/// would take every later request on the connection past dockside's routing (h2c smuggling),
/// and no route asks for h2c, so that request goes upstream as a plain one.
fn forwarded_upgrade(headers: &HeaderMap) -> Option<&HeaderValue> {
    let value = headers.get(header::UPGRADE)?;
    let h2c = value
        .as_bytes()
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"));
    (!value.as_bytes().is_empty() && !h2c).then_some(value)
}

/// Rewrites the client's headers into the ones sent upstream (nginx-proxy §1.6.9).
pub fn rewrite_request(headers: &mut HeaderMap, ctx: &HeaderContext<'_>) {
    let forwarded = ctx
        .trust_downstream
        .then(|| ClientForwarded::take(headers, ctx.proxied.is_some()));
    let upgrade = forwarded_upgrade(headers).cloned();
    strip_hop_by_hop(headers, Framing::Strip);
    headers.remove(&PROXY);
    set_forwarding(headers, ctx, forwarded.unwrap_or_default());
    if ctx.strip_client_cert {
        set_client_cert(headers, ctx.client_cert);
    }
    match (upgrade, ctx.keepalive) {
        (Some(up), _) => {
            headers.insert(header::UPGRADE, up);
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        (None, false) => {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        (None, true) => {}
    }
}

/// The client's own `X-Forwarded-*` values, kept only when the downstream is trusted.
#[derive(Default)]
struct ClientForwarded {
    for_: Option<String>,
    proto: Option<HeaderValue>,
    host: Option<HeaderValue>,
    port: Option<HeaderValue>,
}

impl ClientForwarded {
    /// Behind the PROXY protocol the header, not the client, says who connected and to which
    /// port: the client's `X-Forwarded-For` and `X-Forwarded-Port` are dropped.
    fn take(headers: &HeaderMap, proxied: bool) -> ClientForwarded {
        let joined: Vec<&str> = if proxied {
            Vec::new()
        } else {
            headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        ClientForwarded {
            for_: (!joined.is_empty()).then(|| joined.join(", ")),
            proto: headers.get(&X_FORWARDED_PROTO).cloned(),
            host: headers.get(&X_FORWARDED_HOST).cloned(),
            port: if proxied {
                None
            } else {
                headers.get(&X_FORWARDED_PORT).cloned()
            },
        }
    }
}

fn set_forwarding(headers: &mut HeaderMap, ctx: &HeaderContext<'_>, client: ClientForwarded) {
    set_host(headers, ctx);
    headers.insert(X_REAL_IP.clone(), ctx.client_ip.clone());
    match client.for_ {
        Some(prior) => {
            let ip = ctx.client_ip.to_str().unwrap_or("-");
            insert_str(headers, X_FORWARDED_FOR.clone(), &format!("{prior}, {ip}"))
        }
        None => headers.insert(X_FORWARDED_FOR.clone(), ctx.client_ip.clone()),
    };
    let proto = client
        .proto
        .unwrap_or_else(|| HeaderValue::from_static(ctx.scheme.as_str()));
    let ssl = if proto.as_bytes() == b"https" {
        "on"
    } else {
        "off"
    };
    headers.insert(X_FORWARDED_PROTO.clone(), proto);
    match client.host {
        Some(h) => headers.insert(X_FORWARDED_HOST.clone(), h),
        None => insert_str(headers, X_FORWARDED_HOST.clone(), ctx.host),
    };
    match client.port {
        Some(p) => headers.insert(X_FORWARDED_PORT.clone(), p),
        None => headers.insert(X_FORWARDED_PORT.clone(), forwarded_port(ctx).into()),
    };
    headers.insert(X_FORWARDED_SSL.clone(), HeaderValue::from_static(ssl));
    insert_str(headers, X_ORIGINAL_URI.clone(), ctx.request_uri);
}

/// `$server_port`, or, behind the PROXY protocol with a trusted downstream, the port the
/// client connected to on the load balancer (§1.6.9; untrusted keeps `$server_port`).
fn forwarded_port(ctx: &HeaderContext<'_>) -> u16 {
    match ctx.proxied {
        Some(Proxied {
            destination_port: Some(port),
        }) if ctx.trust_downstream => port,
        _ => ctx.server_port,
    }
}

/// Once any site asks for client certificates, these headers come only from dockside: a
/// client's own copies are removed on every route (plain HTTP included), so a backend may trust
/// them.
fn set_client_cert(headers: &mut HeaderMap, client: Option<&ClientCert>) {
    headers.remove(&X_SSL_CLIENT_VERIFY);
    headers.remove(&X_SSL_CLIENT_S_DN);
    if let Some(client) = client {
        headers.insert(X_SSL_CLIENT_VERIFY.clone(), client.verify.clone());
        if let Some(subject) = &client.subject {
            headers.insert(X_SSL_CLIENT_S_DN.clone(), subject.clone());
        }
    }
}

/// `Host: $host`, with `:$server_port` unless the port is 80 or 443. A client `Host` that is
/// already exactly that (the usual case) is kept as it is rather than rebuilt.
fn set_host(headers: &mut HeaderMap, ctx: &HeaderContext<'_>) {
    let port = match ctx.server_port {
        80 | 443 => None,
        port => Some(port),
    };
    let mut values = headers.get_all(header::HOST).iter();
    let same = match (values.next(), values.next()) {
        (Some(v), None) => {
            let v = v.as_bytes();
            match port {
                None => v == ctx.host.as_bytes(),
                Some(port) => v
                    .strip_prefix(ctx.host.as_bytes())
                    .and_then(|rest| rest.strip_prefix(b":"))
                    .is_some_and(|p| same_port(p, port)),
            }
        }
        _ => false,
    };
    if same {
        return;
    }
    match port {
        None => insert_str(headers, header::HOST, ctx.host),
        Some(port) => insert_str(headers, header::HOST, &format!("{}:{port}", ctx.host)),
    };
}

/// Whether `text` is `port` written the canonical way (digits, no leading zero).
fn same_port(text: &[u8], port: u16) -> bool {
    text.first().is_some_and(|d| *d != b'0')
        && text.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<u16>().ok())
            == Some(port)
}

/// Values here come from an already-parsed request, so they are valid header text; anything
/// that is not (a host from a regex match, say) is skipped rather than panicking.
fn insert_str(headers: &mut HeaderMap, name: HeaderName, value: &str) -> Option<HeaderValue> {
    let value = HeaderValue::from_str(value).ok()?;
    headers.insert(name, value)
}

/// nginx `proxy_pass` URI replacement for `VIRTUAL_DEST`: the part of the path matched by a
/// prefix (or exact) location is replaced by `dest`; an empty `dest` or a regex location
/// forwards the URI unchanged. `path_and_query` is the original request target.
pub fn rewrite_uri<'a>(
    path_and_query: &'a str,
    location: &PathPattern,
    dest: &str,
) -> Cow<'a, str> {
    if dest.is_empty() {
        return Cow::Borrowed(path_and_query);
    }
    let matched = match location {
        PathPattern::Prefix { prefix, .. } => prefix.as_str(),
        PathPattern::Exact(exact) => exact.as_str(),
        PathPattern::Regex(_) => return Cow::Borrowed(path_and_query),
    };
    match path_and_query.strip_prefix(matched) {
        Some(rest) => Cow::Owned(format!("{dest}{rest}")),
        None => Cow::Borrowed(path_and_query),
    }
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
