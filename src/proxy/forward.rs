//! HTTP and HTTPS forwarding over the worker's pooled keep-alive connections
//! (`upstream_pool`): backend choice with passive health and retry, timeouts, streaming bodies,
//! and the WebSocket splice after a `101` (`upgrade`).

use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};

use crate::config::Limits;
use crate::error_chain::chain;
use crate::model::{BackendAddr, Proto};
use crate::proxy::body::{ClientBodyError, LimitExceeded, ProxyBody};
use crate::proxy::error::ProxyError;
use crate::proxy::headers;
use crate::proxy::health::PassiveHealth;
use crate::proxy::upgrade::ClientUpgrade;
use crate::proxy::upstream_pool::{Pool, SendError};
use crate::proxy::upstream_tls;
use crate::routing::Upstream;

/// One worker's upstream connections and the passive health registry they feed.
pub struct Forwarder {
    pool: Pool,
    health: Arc<PassiveHealth>,
    upstream_timeout: Duration,
}

/// A forwarded exchange: the response for the client and the backend that produced it.
pub struct Forwarded {
    pub response: Response<ProxyBody>,
    pub backend: BackendAddr,
}

impl Forwarder {
    /// Each worker thread has its own (so pooled connections stay on their thread); `health`
    /// is shared by all. Upstream TLS is unverified unless `verify_upstream_tls` (as nginx).
    pub fn new(
        limits: &Limits,
        verify_upstream_tls: bool,
        health: Arc<PassiveHealth>,
    ) -> anyhow::Result<Forwarder> {
        let tls = upstream_tls::client_config(verify_upstream_tls)?;
        Ok(Forwarder {
            pool: Pool::new(tls, limits.connect_timeout),
            health,
            upstream_timeout: limits.upstream_timeout,
        })
    }

    /// The passive health registry (for diagnostics and tests).
    pub fn health(&self) -> &PassiveHealth {
        &self.health
    }

    /// Sends `req` (already header-rewritten, URI in origin form) to the upstream's backends
    /// in rotation. A backend that cannot be connected is marked down; when `retryable` (an
    /// idempotent request whose body is empty) the next backend is tried.
    pub async fn forward(
        &self,
        req: Request<ProxyBody>,
        upstream: &Upstream,
        retryable: bool,
        client_upgrade: Option<ClientUpgrade>,
    ) -> Result<Forwarded, ProxyError> {
        let tls = upstream.proto == Proto::Https;
        let order = self.health.order(upstream.rotation());
        let (mut parts, mut body) = req.into_parts();
        // HTTP/1.1 to the backend (nginx's `proxy_http_version 1.1`), origin-form target.
        parts.version = Version::HTTP_11;
        if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            let path = parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            parts.uri = Uri::from(path);
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
            let req = Request::from_parts(parts, body);
            body = crate::proxy::body::empty();
            let upgrade = client_upgrade.is_some();
            match self.send(req, &backend.addr, tls, upgrade).await {
                Ok(response) => {
                    self.health.mark_up(&backend.addr);
                    return Ok(Forwarded {
                        response: finish(response, client_upgrade),
                        backend: backend.addr.clone(),
                    });
                }
                Err(err @ ProxyError::Connect { .. }) => {
                    self.health.mark_down(&backend.addr);
                    tracing::warn!(backend = %backend.addr, source = %backend.source, "{err}; marked down for {}s", crate::proxy::health::DOWN_FOR.as_secs());
                    last_err = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last_err.unwrap_or_else(|| ProxyError::NoBackend {
            host: String::new(),
            path: template
                .as_ref()
                .map_or_else(String::new, |p| p.uri.path().to_owned()),
            excluded: upstream.excluded.len(),
        }))
    }

    async fn send(
        &self,
        req: Request<ProxyBody>,
        backend: &BackendAddr,
        tls: bool,
        upgrade: bool,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let send = self.pool.send(req, backend, tls, upgrade);
        match tokio::time::timeout(self.upstream_timeout, send).await {
            Err(_) => Err(ProxyError::Timeout {
                backend: backend.clone(),
                secs: self.upstream_timeout.as_secs(),
            }),
            Ok(Ok(resp)) => Ok(resp),
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
fn classify(err: SendError, backend: &BackendAddr) -> ProxyError {
    let err = match err {
        SendError::Connect(source) => {
            return ProxyError::Connect {
                backend: backend.clone(),
                source,
            };
        }
        SendError::Exchange(err) => err,
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = source {
        if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
            return ProxyError::BodyTooLarge { limit: limit.limit };
        }
        if let Some(client) = e.downcast_ref::<ClientBodyError>() {
            return ProxyError::BadRequest(client.to_string());
        }
        source = e.source();
    }
    ProxyError::Upstream {
        backend: backend.clone(),
        reason: chain(err.as_ref()),
    }
}

/// Response for the client: hop-by-hop headers dropped, body streamed; on `101` both upgraded
/// connections are spliced together (`upgrade`).
fn finish(
    mut resp: Response<ProxyBody>,
    client_upgrade: Option<ClientUpgrade>,
) -> Response<ProxyBody> {
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    headers::rewrite_response(resp.headers_mut(), switching);
    if switching && let Some(client) = client_upgrade {
        let upstream = hyper::upgrade::on(&mut resp);
        client.spawn_splice(upstream);
    }
    resp
}
