//! Facts about the client connection and request that forwarding needs besides the request
//! itself (uwsgi turns them into CGI vars; access logs print them).

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method};
use tokio::sync::OwnedSemaphorePermit;

/// Scheme the client used to reach dockside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Per-connection facts, captured at accept (and after the TLS handshake).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address (or the PROXY-protocol source when enabled).
    pub client: SocketAddr,
    /// The listener address the client connected to; its port is `$server_port`.
    pub local: SocketAddr,
    pub scheme: Scheme,
    /// SNI the client sent, for the 421 check.
    pub sni: Option<String>,
    /// What the TLS handshake chose (`None` on plain HTTP), shared by the connection's requests.
    pub tls: Option<Arc<TlsConn>>,
    /// `$remote_addr` as header text (`X-Real-IP`, `X-Forwarded-For`), formatted once per
    /// connection rather than per request; an IPv4-mapped IPv6 address is shown as IPv4.
    pub client_ip: HeaderValue,
    /// The connection's `DOCKSIDE_MAX_CONNECTIONS` permit, set by the accept loop: a connection
    /// upgraded to a WebSocket outlives its HTTP serving and keeps a clone of it.
    pub permit: Option<Arc<OwnedSemaphorePermit>>,
    /// Set when the connection began with a PROXY protocol header (`ENABLE_PROXY_PROTOCOL`);
    /// `client` is then the header's source address.
    pub proxied: Option<Proxied>,
}

/// What a PROXY protocol header said besides the client's address (nginx's
/// `$proxy_protocol_*` variables), for the forwarded headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proxied {
    /// `$proxy_protocol_server_port`: the port the client connected to on the load balancer;
    /// `None` for v2 `LOCAL` and v1 `UNKNOWN` headers, which carry no addresses.
    pub destination_port: Option<u16>,
}

impl ConnInfo {
    pub fn new(
        client: SocketAddr,
        local: SocketAddr,
        scheme: Scheme,
        sni: Option<String>,
        tls: Option<Arc<TlsConn>>,
    ) -> ConnInfo {
        let ip = client.ip().to_canonical().to_string();
        ConnInfo {
            client,
            local,
            scheme,
            sni,
            tls,
            // An address is always valid header text.
            client_ip: HeaderValue::from_str(&ip).unwrap_or(HeaderValue::from_static("-")),
            permit: None,
            proxied: None,
        }
    }
}

/// The handshake's choice for an HTTPS connection: the HTTP layer answers 421 when a request's
/// Host belongs to another site and `cert_names` do not cover it. Plain data, so this file needs
/// nothing of the TLS stack (the fuzz build compiles it alone).
#[derive(Debug)]
pub struct TlsConn {
    /// The names the certificate presented for the SNI covers (`certs::covers` reads them).
    pub cert_names: Arc<[String]>,
    /// The `VIRTUAL_HOST` item the SNI selected; `None` when `default.crt` answered an unknown name.
    pub site: Option<String>,
    /// The client certificate's verdict when that site asks for one (mTLS); `None` otherwise.
    pub client: Option<ClientCert>,
}

/// A client certificate as the HTTP layer uses it (mTLS): nginx's 400, if the site's
/// `ssl_verify_client` refuses the connection, and the verification result for the backend.
#[derive(Debug)]
pub struct ClientCert {
    pub refusal: Option<CertRefusal>,
    /// `X-SSL-Client-Verify`: `SUCCESS`, `NONE` or `FAILED:<reason>` (nginx's `$ssl_client_verify`).
    pub verify: HeaderValue,
    /// `X-SSL-Client-S-DN`: the subject, RFC 2253 (nginx's `$ssl_client_s_dn`).
    pub subject: Option<HeaderValue>,
}

/// Why nginx answers 400 to a request on a client-authenticated connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRefusal {
    /// `ssl_verify_client on` and no certificate.
    Missing,
    /// A certificate that is not signed by the site's CA, is revoked or expired.
    Invalid,
}

impl CertRefusal {
    /// nginx's text for the 400 (its error page title).
    pub fn text(self) -> &'static str {
        match self {
            CertRefusal::Missing => "No required SSL certificate was sent",
            CertRefusal::Invalid => "The SSL certificate error",
        }
    }
}

/// Per-request facts after routing, for forwarders that need more than the rewritten request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Shared with the connection's other requests: one reference count per request, not a
    /// copy of each field.
    pub conn: Arc<ConnInfo>,
    /// Host header without port, lower-cased (`$host`).
    pub host: String,
    /// The original request target (`$request_uri`).
    pub request_uri: String,
    /// Path after `VIRTUAL_PATH` / `VIRTUAL_DEST` handling (uwsgi `PATH_INFO`).
    pub path: String,
    /// Query string without `?` (may be empty).
    pub query: String,
    /// `CLIENT_MAX_BODY_SIZE` of the site (or the location's `client_max_body_size`), in bytes.
    pub body_limit: Option<u64>,
    /// The location's `proxy_connect_timeout` / `proxy_read_timeout` (`None`: the global limits).
    pub timeouts: crate::policy::Timeouts,
}

/// Methods a proxy may send again after a failure (RFC 9110 §9.2.2; nginx's
/// `proxy_next_upstream` without `non_idempotent`).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}
