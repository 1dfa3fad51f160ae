//! The spans of one proxied request and the W3C trace context sent to its backend. Called only
//! when traces are on (`ServiceState::traces`): a dockside without them creates no span and
//! touches no header.

use http::{Request, StatusCode, Version};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::Status;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::exchange::ConnInfo;
use crate::model::BackendAddr;
use crate::upstream::{Failed, Forwarded};

/// The `tracing` target of request spans: the OpenTelemetry layer takes only these, the log
/// output never shows them.
pub const TARGET: &str = "dockside::traced";

static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
static TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

/// The server span of one request (OpenTelemetry HTTP semantic conventions), continuing the
/// client's trace when its `traceparent` is valid, else the root of a new trace.
pub fn server_span<B>(conn: &ConnInfo, req: &Request<B>) -> Span {
    let method = req.method().as_str();
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        url.scheme = conn.scheme.as_str(),
        url.path = req.uri().path(),
        network.protocol.version = protocol(req.version()),
        client.address = %conn.client.ip(),
        server.address = Empty,
        http.response.status_code = Empty,
        dockside.upstream.address = Empty,
    );
    let parent = TraceContextPropagator::new().extract_with_context(
        &opentelemetry::Context::new(),
        &HeaderExtractor(req.headers()),
    );
    // Fails only without the OpenTelemetry layer (not installed: nothing to continue).
    let _ = span.set_parent(parent);
    span
}

/// What the request came to, on its server span: `$host`, the status, and `$upstream_addr`
/// when a backend answered.
pub fn record(span: &Span, host: &str, status: StatusCode, upstream: Option<&BackendAddr>) {
    span.record("server.address", host);
    span.record("http.response.status_code", status.as_u16());
    if let Some(backend) = upstream {
        span.record(
            "dockside.upstream.address",
            tracing::field::display(backend),
        );
    }
    // Semantic conventions: a server span is an error for 5xx only.
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

/// The client span around the upstream exchange (a child of the current server span), and the
/// backend's trace context in `headers`: `traceparent` names this span, `tracestate` carries
/// the client's; whatever the client sent under these names is replaced.
pub fn client_span<B>(req: &mut Request<B>) -> Span {
    let method = req.method().as_str();
    let span = tracing::info_span!(
        target: TARGET,
        "upstream",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method,
        server.address = Empty,
        http.response.status_code = Empty,
    );
    let headers = req.headers_mut();
    headers.remove(&TRACEPARENT);
    headers.remove(&TRACESTATE);
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeaderInjector(headers));
    if headers.get(&TRACESTATE).is_some_and(|v| v.is_empty()) {
        headers.remove(&TRACESTATE);
    }
    span
}

/// The exchange's outcome on its client span.
pub fn record_exchange(span: &Span, result: &Result<Forwarded, Failed>) {
    match result {
        Ok(forwarded) => {
            span.record(
                "server.address",
                tracing::field::display(&forwarded.backend),
            );
            let status = forwarded.response.status();
            span.record("http.response.status_code", status.as_u16());
            // Client spans: 4xx and 5xx are errors.
            if status.is_client_error() || status.is_server_error() {
                span.record("otel.status_code", "error");
            }
        }
        Err((err, backend)) => {
            if let Some(backend) = backend {
                span.record("server.address", tracing::field::display(backend));
            }
            span.set_status(Status::error(err.to_string()));
        }
    }
}

/// `network.protocol.version`.
fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}
