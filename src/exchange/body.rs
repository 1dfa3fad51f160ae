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

/// The client's request body failed (a malformed chunk size, a connection that broke mid-body):
/// the forwarder finds it in the error chain and answers 400, blaming the client, not the backend.
#[derive(Debug, thiserror::Error)]
#[error("client request body: {0}")]
pub struct ClientBodyError(#[source] pub BoxError);

/// A client's request body as the service takes it: hyper's `Incoming` (HTTP/1.1 and h2) or an
/// HTTP/3 request stream's (`server::quic`). The service is generic over it, so the TCP path's
/// copy is exactly what it was before HTTP/3 existed.
pub trait ClientBody: http_body::Body<Data = Bytes> + Send + 'static {
    /// Set for HTTP/3: only sites served over HTTP/3 answer its requests (a constant, so the
    /// TCP copy has no such check).
    const HTTP3: bool;
    /// The body as forwarders stream it, its failures marked as the client's.
    fn into_proxy(self) -> ProxyBody;
}

impl ClientBody for hyper::body::Incoming {
    const HTTP3: bool = false;

    fn into_proxy(self) -> ProxyBody {
        self.map_err(|e| Box::new(ClientBodyError(Box::new(e))) as BoxError)
            .boxed()
    }
}

/// A request body passed `CLIENT_MAX_BODY_SIZE` while streaming; the forwarder recognises it
/// in the error chain and answers 413.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {limit} bytes")]
pub struct LimitExceeded {
    pub limit: u64,
}

/// `body`, failing with `LimitExceeded` as soon as more than `limit` bytes have streamed.
pub fn limited(body: ProxyBody, limit: u64) -> ProxyBody {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    http_body_util::Limited::new(body, cap)
        .map_err(move |e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(LimitExceeded { limit }) as BoxError
            } else {
                e
            }
        })
        .boxed()
}

/// `body`, holding `guard` until the body is dropped: after its last byte went out, or when
/// the client went away.
pub fn with_guard<G: Send + Sync + Unpin + 'static>(body: ProxyBody, guard: G) -> ProxyBody {
    Guarded {
        body,
        _guard: guard,
    }
    .boxed()
}

struct Guarded<G> {
    body: ProxyBody,
    _guard: G,
}

impl<G: Unpin> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
