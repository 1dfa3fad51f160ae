//! The one backend exchange: the rotation with down backends last, a refused connect marks
//! its backend down and (for an idempotent request with an empty body) moves on to the next,
//! the upstream timeout — the same for every protocol; only the last step differs: HTTP/1.1
//! over the worker's pool (`pool`, also over TLS), uwsgi (one connection per request, as
//! uWSGI closes after each response), FastCGI (kept connections in a pool of its own) or gRPC
//! (HTTP/2, one multiplexed connection per backend).

use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;

use super::fastcgi;
use super::grpc;
use super::health::{DOWN_FOR, PassiveHealth};
use super::pool::{Pool, SendError};
use super::send_timeout;
use super::tls;
use super::uwsgi::{self, UwsgiOptions};
use crate::config::Limits;
use crate::error_chain::chain;
use crate::exchange::hop::rewrite_response;
use crate::exchange::{
    ClientBodyError, LimitExceeded, ProxyBody, ProxyError, RequestMeta, with_guard,
};
use crate::metrics::{BackendEvent, Backends, IdlePool};
use crate::model::{BackendAddr, Proto};
use crate::routing::Upstream;

/// One worker's upstream connections, the passive health registry they feed, and how uwsgi
/// exchanges are bounded.
pub struct Forwarder {
    pool: Pool,
    health: Arc<PassiveHealth>,
    upstream_timeout: Duration,
    uwsgi: UwsgiOptions,
    /// Idle FastCGI keep-alive connections of this worker.
    fastcgi: fastcgi::Pool,
    grpc: grpc::Conns,
    /// Per-backend failure counts for `/metrics`; `None` when metrics are off.
    failures: Option<Arc<Backends>>,
}

/// A forwarded exchange: the response for the client and the backend that produced it.
pub struct Forwarded {
    pub response: Response<ProxyBody>,
    pub backend: BackendAddr,
}

/// A failed exchange and the backend it failed on (`None` when no backend was tried), for
/// `$upstream_addr` and the log line.
pub type Failed = (ProxyError, Option<BackendAddr>);

impl Forwarder {
    /// Each worker thread has its own (so pooled connections stay on their thread); `health`
    /// and the uwsgi spool budget in `uwsgi` are shared by all. Upstream TLS is unverified
    /// unless `verify_upstream_tls` (as nginx).
    pub fn new(
        limits: &Limits,
        verify_upstream_tls: bool,
        health: Arc<PassiveHealth>,
        uwsgi: UwsgiOptions,
    ) -> anyhow::Result<Forwarder> {
        let tls = tls::client_config(verify_upstream_tls)?;
        Ok(Forwarder {
            grpc: grpc::Conns::new(tls.clone(), limits.connect_timeout),
            pool: Pool::new(tls, limits.connect_timeout),
            health,
            upstream_timeout: limits.upstream_timeout,
            uwsgi,
            fastcgi: fastcgi::Pool::default(),
            failures: None,
        })
    }

    /// Counts connect failures, timeouts and ejections per backend into `failures`.
    pub(crate) fn with_metrics(mut self, failures: Option<Arc<Backends>>) -> Forwarder {
        self.failures = failures;
        self
    }

    /// This worker's HTTP/1.1 pool, for the idle-connection gauge.
    pub(crate) fn idle_pool(&self) -> Arc<dyn IdlePool> {
        Arc::new(self.pool.gauge())
    }

    /// Counts a failure of `backend` (the failure path only).
    fn count(&self, backend: &BackendAddr, event: BackendEvent) {
        if let Some(failures) = &self.failures {
            failures.record(&backend.to_string(), event);
        }
    }

    /// Sends `req` (headers already rewritten by the service) to the upstream's backends in
    /// rotation. A backend that cannot be connected is marked down; when `retryable` (an
    /// idempotent request whose body is empty) the next backend is tried. `upgrade`: the client
    /// asked to switch protocols; a `101` response keeps its upgrade for the server to splice.
    pub async fn forward(
        &self,
        req: Request<ProxyBody>,
        meta: &RequestMeta,
        upstream: &Upstream,
        retryable: bool,
        upgrade: bool,
    ) -> Result<Forwarded, Failed> {
        let order = self.health.order(upstream.rotation(meta.conn.client.ip()));
        let (mut parts, mut body) = req.into_parts();
        match upstream.proto {
            Proto::Http | Proto::Https => origin_form_http11(&mut parts),
            Proto::Uwsgi | Proto::Fastcgi => {}
            Proto::Grpc | Proto::Grpcs => {
                grpc::check_version(parts.version, meta).map_err(|e| (e, None))?;
            }
        }
        let keep = retryable && order.len() > 1;
        let mut template = Some(parts);
        let mut last_err = None;
        for (i, backend) in order.iter().enumerate() {
            let Some(parts) = template.take() else {
                break;
            };
            let last = i + 1 == order.len() || !keep;
            if !last {
                template = Some(clone_parts(&parts));
            }
            let req = Request::from_parts(
                parts,
                std::mem::replace(&mut body, crate::exchange::empty()),
            );
            // `least_conn` / `random two` only: `None` for every other mode.
            let in_flight = upstream.track(backend);
            let sent = match upstream.proto {
                Proto::Http => self.send(req, meta, &backend.addr, false, upgrade).await,
                Proto::Https => self.send(req, meta, &backend.addr, true, upgrade).await,
                Proto::Uwsgi => uwsgi::forward(req, meta, &backend.addr, &self.uwsgi).await,
                Proto::Grpc | Proto::Grpcs => {
                    let tls = upstream.proto == Proto::Grpcs;
                    let read = meta.timeouts.read.unwrap_or(self.upstream_timeout);
                    grpc::forward(&self.grpc, req, meta, &backend.addr, tls, read).await
                }
                Proto::Fastcgi => {
                    let target = fastcgi::Target {
                        addr: &backend.addr,
                        root: upstream
                            .root
                            .as_deref()
                            .unwrap_or(crate::model::DEFAULT_VIRTUAL_ROOT),
                        keepalive: upstream.keepalive,
                    };
                    fastcgi::forward(req, meta, target, &self.uwsgi, &self.fastcgi).await
                }
            };
            match sent {
                Ok(mut response) => {
                    self.health.mark_up(&backend.addr);
                    if let Some(guard) = in_flight {
                        response = response.map(|body| with_guard(body, guard));
                    }
                    return Ok(Forwarded {
                        response,
                        backend: backend.addr.clone(),
                    });
                }
                Err(err @ ProxyError::Connect { .. }) => {
                    self.count(&backend.addr, BackendEvent::ConnectFailure);
                    if self.health.mark_down(&backend.addr) {
                        self.count(&backend.addr, BackendEvent::Ejection);
                    }
                    tracing::warn!(backend = %backend.addr, source = %backend.source, "{err}; marked down for {}s", DOWN_FOR.as_secs());
                    last_err = Some((err, Some(backend.addr.clone())));
                }
                // Not marked down: the next request gets a fresh connection, and a backend
                // that is really gone fails its connect.
                Err(err @ ProxyError::Closed { .. }) if !last => {
                    tracing::warn!(backend = %backend.addr, source = %backend.source, "{err}; trying the next backend");
                    last_err = Some((err, Some(backend.addr.clone())));
                }
                Err(err) => {
                    if matches!(err, ProxyError::Timeout { .. }) {
                        self.count(&backend.addr, BackendEvent::Timeout);
                    }
                    return Err((err, Some(backend.addr.clone())));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            let (host, path) = (meta.host.clone(), meta.request_uri.clone());
            // No backend at all (not even an unhealthy one): its containers share no network.
            let err = if upstream.excluded.is_empty() {
                ProxyError::Unreachable { host, path }
            } else {
                ProxyError::NoBackend {
                    host,
                    path,
                    excluded: upstream.excluded.len(),
                }
            };
            (err, None)
        }))
    }

    async fn send(
        &self,
        req: Request<ProxyBody>,
        meta: &RequestMeta,
        backend: &BackendAddr,
        tls: bool,
        upgrade: bool,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let limit = meta.timeouts.read.unwrap_or(self.upstream_timeout);
        // `PROXY_SEND_TIMEOUT`: only a location that sets it, and only for a body, pays for it.
        let (req, watchdog) = match meta.timeouts.send {
            Some(send_limit) if !req.body().is_end_stream() => {
                let (parts, body) = req.into_parts();
                let (body, progress) = send_timeout::watch(body);
                (
                    Request::from_parts(parts, body),
                    Some((progress, send_limit)),
                )
            }
            _ => (req, None),
        };
        let send = self
            .pool
            .send(req, backend, tls, upgrade, meta.timeouts.connect);
        let send = tokio::time::timeout(limit, send);
        let sent = match watchdog {
            None => send.await,
            // Boxed, so the plain path's future does not grow by the watchdog's.
            Some((progress, send_limit)) => {
                let watched = send_timeout::unless_stalled(send, &progress, send_limit);
                match Box::pin(watched).await {
                    Some(sent) => sent,
                    None => {
                        return Err(ProxyError::Timeout {
                            backend: backend.clone(),
                            secs: send_limit.as_secs(),
                        });
                    }
                }
            }
        };
        match sent {
            Err(_) => Err(ProxyError::Timeout {
                backend: backend.clone(),
                secs: limit.as_secs(),
            }),
            Ok(Ok(mut resp)) => {
                let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
                rewrite_response(resp.headers_mut(), switching);
                Ok(resp)
            }
            Ok(Err(err)) => Err(classify(err, backend)),
        }
    }
}

/// A copy of the request head for a retry on the next backend (only idempotent requests with
/// an empty body are retried, so extensions need not follow).
fn clone_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req.into_parts().0
}

/// Maps a send failure to who is at fault: connect failures (refused, timed out, DNS, TLS
/// handshake) are `Connect`; a body over `CLIENT_MAX_BODY_SIZE` is the client's; the rest broke
/// the exchange.
pub(super) fn classify(err: SendError, backend: &BackendAddr) -> ProxyError {
    let err = match err {
        SendError::Connect(source) => {
            return ProxyError::Connect {
                backend: backend.clone(),
                source,
            };
        }
        SendError::Exchange(err) => err,
    };
    let mut closed = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = source {
        if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
            return ProxyError::BodyTooLarge { limit: limit.limit };
        }
        if let Some(client) = e.downcast_ref::<ClientBodyError>() {
            return ProxyError::BadRequest(client.to_string());
        }
        closed |= closed_early(e);
        source = e.source();
    }
    let reason = chain(err.as_ref());
    let backend = backend.clone();
    match closed {
        true => ProxyError::Closed { backend, reason },
        false => ProxyError::Upstream { backend, reason },
    }
}

/// Whether the backend hung up (EOF, reset) before its response head: not a protocol error,
/// and nothing reached the client yet.
fn closed_early(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    if let Some(w) = e.downcast_ref::<super::h1::wire::WireError>() {
        return w.nothing_received();
    }
    if let Some(h) = e.downcast_ref::<hyper::Error>() {
        return h.is_incomplete_message() || h.is_canceled();
    }
    e.downcast_ref::<std::io::Error>().is_some_and(|io| {
        matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        )
    })
}

/// HTTP/1.1 to the backend (nginx's `proxy_http_version 1.1`), origin-form target.
fn origin_form_http11(parts: &mut http::request::Parts) {
    parts.version = Version::HTTP_11;
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(path);
    }
}
