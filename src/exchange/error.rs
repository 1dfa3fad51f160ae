//! Every way a request can fail, who is at fault, and the one place that maps it to a status.

use http::StatusCode;

use crate::model::BackendAddr;

/// Who caused a failure: decides the status class and the log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    /// No route or no eligible backend: a configuration fact, not a crash.
    Config,
    Internal,
}

/// A request that could not be forwarded, with what it was about.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request path cannot be normalised safely (`uri_path`).
    #[error("bad request path: {0}")]
    BadPath(#[from] crate::routing::PathError),
    /// A missing, repeated or malformed `Host` (RFC 9112 §3.2).
    #[error("bad Host: {0}")]
    BadHost(#[from] crate::routing::InvalidHost),
    /// A `Transfer-Encoding` other than `chunked` alone (RFC 9112 §6.1); the connection is
    /// closed after the answer, as its body was never read.
    #[error("request {0}")]
    Coding(#[from] super::hop::CodingError),
    #[error("client took too long to send the request")]
    RequestTimeout,
    #[error("request body larger than CLIENT_MAX_BODY_SIZE ({limit} bytes)")]
    BodyTooLarge { limit: u64 },
    #[error("request headers too large: {0}")]
    HeadersTooLarge(String),
    #[error("host {host:?} is not covered by the certificate chosen for SNI {sni:?}")]
    Misdirected { host: String, sni: String },
    /// mTLS: the site's `ssl_verify_client` refuses the connection's client certificate.
    #[error("{host}: {}", refusal.text())]
    ClientCert {
        host: String,
        refusal: super::meta::CertRefusal,
    },
    #[error("no site for host {host:?}")]
    NoSite { host: String },
    #[error("no VIRTUAL_PATH of {host} serves {path} (DEFAULT_ROOT is none)")]
    NoLocation { host: String, path: String },
    #[error("no eligible backend for {host}{path} ({excluded} excluded as starting/unhealthy)")]
    NoBackend {
        host: String,
        path: String,
        excluded: usize,
    },
    /// Every container of the location exists but none can be reached (no shared network):
    /// nginx-proxy's `server 127.0.0.1 down;` upstream, which answers 502.
    #[error(
        "no container of {host}{path} is reachable (no network shared with dockside; `dockside check` says which)"
    )]
    Unreachable { host: String, path: String },
    #[error("cannot connect to backend {backend}: {source}")]
    Connect {
        backend: BackendAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("backend {backend} did not answer within {secs}s")]
    Timeout { backend: BackendAddr, secs: u64 },
    /// A gRPC call's own deadline (its `grpc-timeout`, shorter than the upstream timeout)
    /// passed before the backend answered.
    #[error("backend {backend} did not answer within the call's gRPC deadline of {}ms", after.as_millis())]
    Deadline {
        backend: BackendAddr,
        after: std::time::Duration,
    },
    /// An HTTP/1.x request to a `VIRTUAL_PROTO=grpc`/`grpcs` location: gRPC needs HTTP/2
    /// (trailers, and the backend speaks nothing else).
    #[error(
        "{host} serves gRPC, which needs HTTP/2 (h2 over TLS or h2c with prior knowledge), not HTTP/1.x"
    )]
    GrpcNeedsHttp2 { host: String },
    #[error("backend {backend} broke the protocol: {reason}")]
    Upstream {
        backend: BackendAddr,
        reason: String,
    },
    /// The backend closed or reset the connection before any response head: it was going
    /// away (a container stopping), so an idempotent request may go to another backend, as
    /// nginx's `proxy_next_upstream error` does.
    #[error("backend {backend} closed the connection before answering: {reason}")]
    Closed {
        backend: BackendAddr,
        reason: String,
    },
    /// A site policy's `deny` (or `NETWORK_ACCESS=internal`) matched the client.
    #[error("access to {host} denied to this client by its allow/deny list")]
    Forbidden { host: String },
    /// Basic auth: no or wrong credentials; the value is the `WWW-Authenticate` to send.
    #[error("{host} requires authentication")]
    Unauthorized {
        host: String,
        challenge: http::HeaderValue,
    },
    /// The site's rate limit (or its failed-login limit) for this client was exceeded.
    #[error("rate limit of {host} exceeded by this client")]
    RateLimited {
        host: String,
        retry_after: std::time::Duration,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProxyError {
    /// The status answered to the client.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_)
            | ProxyError::BadPath(_)
            | ProxyError::BadHost(_)
            | ProxyError::GrpcNeedsHttp2 { .. }
            | ProxyError::ClientCert { .. } => StatusCode::BAD_REQUEST,
            ProxyError::Coding(super::hop::CodingError::Unsupported(_)) => {
                StatusCode::NOT_IMPLEMENTED
            }
            ProxyError::Coding(super::hop::CodingError::ChunkedTwice) => StatusCode::BAD_REQUEST,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::NoSite { .. } | ProxyError::NoBackend { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::NoLocation { .. } => StatusCode::NOT_FOUND,
            ProxyError::Connect { .. }
            | ProxyError::Upstream { .. }
            | ProxyError::Closed { .. }
            | ProxyError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout { .. } | ProxyError::Deadline { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ProxyError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ProxyError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Who is at fault, for logs and metrics.
    pub fn fault(&self) -> Fault {
        match self {
            ProxyError::BadRequest(_)
            | ProxyError::BadPath(_)
            | ProxyError::BadHost(_)
            | ProxyError::Coding(_)
            | ProxyError::RequestTimeout
            | ProxyError::GrpcNeedsHttp2 { .. }
            | ProxyError::BodyTooLarge { .. }
            | ProxyError::HeadersTooLarge(_)
            | ProxyError::Misdirected { .. }
            | ProxyError::ClientCert { .. }
            | ProxyError::Forbidden { .. }
            | ProxyError::Unauthorized { .. }
            | ProxyError::RateLimited { .. } => Fault::Client,
            ProxyError::NoSite { .. }
            | ProxyError::NoBackend { .. }
            | ProxyError::Unreachable { .. }
            | ProxyError::NoLocation { .. } => Fault::Config,
            ProxyError::Connect { .. }
            | ProxyError::Timeout { .. }
            | ProxyError::Deadline { .. }
            | ProxyError::Upstream { .. }
            | ProxyError::Closed { .. } => Fault::Upstream,
            ProxyError::Internal(_) => Fault::Internal,
        }
    }

    /// The gRPC status code answered instead of `status()` on a `VIRTUAL_PROTO=grpc`/`grpcs`
    /// location: gRPC clients read `grpc-status`, not the HTTP status. The codes follow
    /// gRPC's HTTP-to-status mapping (`doc/http-grpc-status-mapping.md`), with the two a proxy
    /// knows better: a timeout is `DEADLINE_EXCEEDED` and an oversized body
    /// `RESOURCE_EXHAUSTED`. `None`: the client does not speak gRPC (HTTP/1.x) and gets the
    /// plain answer.
    pub fn grpc_status(&self) -> Option<u8> {
        const INTERNAL: u8 = 13;
        const UNAVAILABLE: u8 = 14;
        Some(match self {
            ProxyError::GrpcNeedsHttp2 { .. } => return None,
            ProxyError::Timeout { .. } | ProxyError::Deadline { .. } => 4,
            ProxyError::BodyTooLarge { .. } | ProxyError::RateLimited { .. } => 8,
            ProxyError::Forbidden { .. } | ProxyError::ClientCert { .. } => 7,
            ProxyError::Unauthorized { .. } => 16,
            ProxyError::NoLocation { .. } => 12,
            ProxyError::Connect { .. }
            | ProxyError::Upstream { .. }
            | ProxyError::Closed { .. }
            | ProxyError::Unreachable { .. }
            | ProxyError::NoBackend { .. }
            | ProxyError::NoSite { .. } => UNAVAILABLE,
            ProxyError::BadRequest(_)
            | ProxyError::BadPath(_)
            | ProxyError::BadHost(_)
            | ProxyError::Coding(_)
            | ProxyError::RequestTimeout
            | ProxyError::HeadersTooLarge(_)
            | ProxyError::Misdirected { .. }
            | ProxyError::Internal(_) => INTERNAL,
        })
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
