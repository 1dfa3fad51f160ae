//! Forwarding to gRPC backends (`VIRTUAL_PROTO=grpc` / `grpcs`, nginx's `grpc_pass`): HTTP/2
//! to the backend, with prior knowledge (h2c) or over TLS with ALPN `h2`. Bodies stream both
//! ways frame by frame, so trailers (`grpc-status`, `grpc-message`, `grpc-status-details-bin`)
//! pass in both directions. The call's `grpc-timeout` bounds the wait for the answer from the
//! start; the upstream (read) timeout counts from when the request body has been sent (`sent`),
//! so a long client-streaming upload is not a slow backend. Connections are one multiplexed
//! HTTP/2 connection per backend and worker (`conns`).

mod conns;
mod deadline;

use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;

pub(super) use conns::Conns;

use super::send_timeout;
use crate::exchange::hop::rewrite_response;
use crate::exchange::{BoxError, ProxyBody, ProxyError, RequestMeta};
use crate::model::BackendAddr;

static GRPC_TIMEOUT: header::HeaderName = header::HeaderName::from_static("grpc-timeout");

/// An HTTP/1.x request cannot be a gRPC call (no trailers, and the backend speaks only h2):
/// refused before any backend is tried.
pub(super) fn check_version(version: Version, meta: &RequestMeta) -> Result<(), ProxyError> {
    if version == Version::HTTP_2 {
        Ok(())
    } else {
        Err(ProxyError::GrpcNeedsHttp2 {
            host: meta.host.clone(),
        })
    }
}

/// One gRPC call to `backend`. `read`: the location's upstream (read) timeout, counted from
/// when the request body has been sent in full; its expiry is a `Timeout`, and the connection
/// is not used for new calls (a backend host that went silent). The call's own `grpc-timeout`
/// bounds the whole call, body included; its expiry is a `Deadline` (answered
/// `DEADLINE_EXCEEDED`). While the body is being sent, a backend that takes none of it for the
/// send timeout (`PROXY_SEND_TIMEOUT`, else `read`) is a `Timeout` too.
pub(super) async fn forward(
    conns: &Conns,
    req: Request<ProxyBody>,
    meta: &RequestMeta,
    backend: &BackendAddr,
    tls: bool,
    read: Duration,
) -> Result<Response<ProxyBody>, ProxyError> {
    let deadline = req
        .headers()
        .get(&GRPC_TIMEOUT)
        .and_then(|v| deadline::parse(v.as_bytes()));
    let (mut parts, body) = req.into_parts();
    let (body, progress) = send_timeout::watch(body);
    let send_limit = meta.timeouts.send.unwrap_or(read);
    to_upstream(&mut parts, &meta.host, backend, tls);
    let call = conns.send(
        Request::from_parts(parts, body),
        backend,
        tls,
        meta.timeouts.connect,
    );
    let answered = async {
        tokio::select! {
            out = call => Ok(out),
            () = async {
                progress.sent().await;
                tokio::time::sleep(read).await;
            } => Err(read),
            () = send_timeout::stalled(&progress, send_limit) => Err(send_limit),
        }
    };
    let ended = match deadline {
        Some(after) => match tokio::time::timeout(after, answered).await {
            Ok(ended) => ended,
            Err(_) => {
                return Err(ProxyError::Deadline {
                    backend: backend.clone(),
                    after,
                });
            }
        },
        None => answered.await,
    };
    match ended {
        Ok(Ok(resp)) => {
            let (mut parts, body) = resp.into_parts();
            rewrite_response(&mut parts.headers, false);
            let body = body.map_err(|e| Box::new(e) as BoxError).boxed();
            Ok(Response::from_parts(parts, body))
        }
        Ok(Err(err)) => Err(super::forward::classify(err, backend)),
        Err(limit) => {
            conns.forget(backend, tls);
            Err(ProxyError::Timeout {
                backend: backend.clone(),
                secs: limit.as_secs(),
            })
        }
    }
}

/// The request as the backend gets it: an HTTP/2 request whose `:authority` is the client's
/// host (nginx-proxy's `Host $host`), `:scheme` that of the hop, and `te: trailers`, which gRPC
/// requires and the hop-by-hop rewrite removed.
fn to_upstream(req: &mut http::request::Parts, host: &str, backend: &BackendAddr, tls: bool) {
    let authority = Authority::try_from(host)
        .or_else(|_| Authority::try_from(backend.to_string()))
        .ok();
    let path = req
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(if tls { Scheme::HTTPS } else { Scheme::HTTP });
    uri.authority = authority;
    uri.path_and_query = Some(path);
    if let Ok(uri) = Uri::from_parts(uri) {
        req.uri = uri;
    }
    req.version = Version::HTTP_2;
    let headers = &mut req.headers;
    headers.remove(header::HOST);
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
}
