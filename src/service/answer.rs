//! Answers dockside writes itself: `DEFAULT_ROOT`, redirects and plain-text statuses, and the
//! one place a `ProxyError` becomes a response (its status from `ProxyError::status()`) and a
//! log line.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::log_throttle::LogThrottle;
use crate::exchange::{self, Fault, ProxyBody, ProxyError};
use crate::model::BackendAddr;
use crate::policy::FixedAnswer;
use crate::routing::DefaultRoot;

/// A response and the backend that produced it (for `$upstream_addr`; formatted only when
/// an access log line is written).
pub(super) type Answer = (Response<ProxyBody>, Option<BackendAddr>);

/// A failure and the backend it is about, if one was tried.
pub(super) type Failure = (ProxyError, Option<BackendAddr>);

/// The `DEFAULT_ROOT` answer: nginx `return CODE [TEXT|URL]`.
pub(super) fn default_root(root: &DefaultRoot) -> Response<ProxyBody> {
    let status = root.status;
    nginx_return(status, root.text.clone(), status.is_redirection())
}

/// nginx `return`: with `redirect`, the text is the `Location`; otherwise it is the body, or
/// the status line when there is none.
fn nginx_return(
    status: StatusCode,
    text_or_url: Option<String>,
    redirect: bool,
) -> Response<ProxyBody> {
    match text_or_url {
        Some(url) if redirect => {
            let mut resp = text(status, "");
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Some(body) => text(status, body),
        None => text(status, status_line(status)),
    }
}

/// `404 Not Found\n`: the body of a plain answer.
fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// The one place a `ProxyError` becomes a response and a log line. `grpc`: the request was
/// routed to a `VIRTUAL_PROTO=grpc`/`grpcs` location, whose clients read a gRPC status.
pub(super) fn answer_error(
    warnings: &LogThrottle,
    err: &ProxyError,
    host: &str,
    path: &str,
    backend: Option<&BackendAddr>,
    grpc: bool,
) -> Response<ProxyBody> {
    let status = err.status();
    let backend = backend.map_or_else(|| "-".to_owned(), |b| b.to_string());
    match err.fault() {
        Fault::Client => tracing::debug!(host, path, backend, fault = ?err.fault(), "{err}"),
        fault => {
            let key = format!("{host}\0{backend}\0{}", status.as_u16());
            if let Some(suppressed) = warnings.admit(&key, std::time::Instant::now()) {
                tracing::warn!(host, path, backend, ?fault, suppressed, "{err}");
            }
        }
    }
    if grpc && let Some(code) = err.grpc_status() {
        // The HTTP status it stands for, not `err` itself: that names backend addresses.
        return grpc_status(
            code,
            &format!("dockside: {}", status_line(status).trim_end()),
        );
    }
    let mut resp = text(status, status_line(status));
    match err {
        // The body was not read (or not to its end): the connection cannot carry another request.
        ProxyError::BodyTooLarge { .. } | ProxyError::Coding(_) => {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        ProxyError::Unauthorized { challenge, .. } => {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        // nginx's wording (its error page title), and like nginx the connection is not kept.
        ProxyError::ClientCert { refusal, .. } => {
            *resp.body_mut() = exchange::full(format!("400 {}\n", refusal.text()));
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        ProxyError::GrpcNeedsHttp2 { .. } => {
            *resp.body_mut() = exchange::full(format!("400 Bad Request: {err}\n"));
        }
        ProxyError::RateLimited { retry_after, .. } => {
            // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        _ => {}
    }
    resp
}

/// nginx `return CODE [TEXT|URL]` of a site policy. A redirect's URL may use `$scheme`, `$host`
/// and `$request_uri`, expanded here (the www ↔ apex redirect is `301 https://example.com$request_uri`).
pub(super) fn fixed_answer(
    answer: &FixedAnswer,
    scheme: &str,
    host: &str,
    request_uri: &str,
) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let expanded = answer.text.as_ref().map(|t| {
        t.replace("$scheme", scheme)
            .replace("$request_uri", request_uri)
            .replace("$host", host)
    });
    let redirect = matches!(answer.status, 301 | 302 | 303 | 307 | 308);
    nginx_return(status, expanded, redirect)
}

/// Replaces a dockside-produced answer's body with a configured error page.
pub(super) fn with_page(
    resp: &mut Response<ProxyBody>,
    content_type: &HeaderValue,
    body: &bytes::Bytes,
) {
    *resp.body_mut() = exchange::full(body.clone());
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type.clone());
    headers.remove(header::CONTENT_LENGTH);
    // The page replaces a body compression may already have wrapped: it goes out as it is.
    headers.remove(header::CONTENT_ENCODING);
}

/// A gRPC "trailers-only" answer: HTTP 200, `content-type: application/grpc`, and the status
/// in the one header block that ends the stream (what a gRPC server sends for an error before
/// any message; gRPC's HTTP/2 protocol spec). The message is percent-encoded as the spec asks.
pub(super) fn grpc_status(code: u8, message: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(exchange::empty());
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    if let Ok(value) = HeaderValue::from_str(&grpc_percent_encode(message)) {
        headers.insert("grpc-message", value);
    }
    resp
}

/// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn grpc_percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn text(status: StatusCode, body_text: impl Into<bytes::Bytes>) -> Response<ProxyBody> {
    let mut resp = Response::new(exchange::full(body_text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

pub(super) fn no_site(host: &str) -> Failure {
    (
        ProxyError::NoSite {
            host: host.to_owned(),
        },
        None,
    )
}

pub(super) fn no_location(host: &str, path: &str) -> Failure {
    let err = ProxyError::NoLocation {
        host: host.to_owned(),
        path: path.to_owned(),
    };
    (err, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_encoded() {
        assert_eq!(grpc_percent_encode("502 Bad Gateway"), "502 Bad Gateway");
        assert_eq!(grpc_percent_encode("100% ü\n"), "100%25 %C3%BC%0A");
    }

    #[test]
    fn a_grpc_status_is_a_trailers_only_200() {
        let resp = grpc_status(14, "dockside: 502 Bad Gateway");
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(h["grpc-message"], "dockside: 502 Bad Gateway");
        assert!(http_body::Body::is_end_stream(resp.body()));
    }
}
