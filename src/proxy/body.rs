//! The one body type the data plane passes around, so HTTP, HTTPS and uwsgi forwarding and
//! locally generated answers all fit the same hyper service.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};

/// Any error a streamed body can end with (client, upstream, spool file).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streamed body; never buffered whole by the proxy.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// A body held in memory (error pages, redirects, challenge answers).
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// No body (HEAD, 204, 304, redirects).
pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}
