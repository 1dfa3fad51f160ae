//! HTTP and HTTPS forwarding over one pooled keep-alive client: backend choice with passive
//! health and retry, timeouts, streaming bodies, and WebSocket splicing after a `101`.

use crate::error_chain::chain;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme as UriScheme};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::upgrade::OnUpgrade;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::config::Limits;
use crate::model::{BackendAddr, Proto};
use crate::proxy::body::{BoxError, LimitExceeded, ProxyBody};
use crate::proxy::error::ProxyError;
use crate::proxy::headers;
use crate::proxy::health::PassiveHealth;
use crate::proxy::upstream_tls;
use crate::routing::Upstream;

/// Idle upstream connections are closed after this long (below common backend keep-alives
/// would race; hyper retries a request whose pooled connection closed before it was sent).
const POOL_IDLE: Duration = Duration::from_secs(30);

/// The one upstream client of the process and the passive health registry it feeds.
pub struct Forwarder {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
    health: Arc<PassiveHealth>,
    upstream_timeout: Duration,
}

/// A forwarded exchange: the response for the client and the backend that produced it.
pub struct Forwarded {
    pub response: Response<ProxyBody>,
    pub backend: BackendAddr,
}

impl Forwarder {
    /// Builds the pooled client: nodelay (Nagle costs ~40 ms per exchange on loopback),
    /// connect timeout, HTTP/1.1 like nginx's `proxy_http_version 1.1`. Each worker thread has
    /// its own (so pooled connections stay on their thread); `health` is shared by all.
    pub fn new(
        limits: &Limits,
        verify_upstream_tls: bool,
        health: Arc<PassiveHealth>,
    ) -> anyhow::Result<Forwarder> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect_timeout));
        let tls = upstream_tls::client_config(verify_upstream_tls)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Forwarder {
            client,
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
        client_upgrade: Option<OnUpgrade>,
    ) -> Result<Forwarded, ProxyError> {
        let scheme = match upstream.proto {
            Proto::Https => UriScheme::HTTPS,
            _ => UriScheme::HTTP,
        };
        let order = self.health.order(upstream.rotation());
        let (parts, mut body) = req.into_parts();
        let keep = retryable && order.len() > 1;
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut template = Some((parts.method, parts.headers));
        let mut last_err = None;
        for (i, backend) in order.iter().enumerate() {
            let Some((method, headers)) = template.take() else {
                break;
            };
            let last = i + 1 == order.len() || !keep;
            if !last {
                template = Some((method.clone(), headers.clone()));
            }
            let req = outbound(method, headers, &scheme, &backend.addr, path.clone(), body)?;
            body = crate::proxy::body::empty();
            match self.send(req, &backend.addr).await {
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
            path: path.path().to_owned(),
            excluded: upstream.excluded.len(),
        }))
    }

    async fn send(
        &self,
        req: Request<ProxyBody>,
        backend: &BackendAddr,
    ) -> Result<Response<hyper::body::Incoming>, ProxyError> {
        match tokio::time::timeout(self.upstream_timeout, self.client.request(req)).await {
            Err(_) => Err(ProxyError::Timeout {
                backend: backend.clone(),
                secs: self.upstream_timeout.as_secs(),
            }),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(err)) => Err(classify(err, backend)),
        }
    }
}

/// Builds the upstream request: absolute URI (the client turns it into origin form), HTTP/1.1.
fn outbound(
    method: Method,
    headers: HeaderMap,
    scheme: &UriScheme,
    addr: &BackendAddr,
    path: PathAndQuery,
    body: ProxyBody,
) -> Result<Request<ProxyBody>, ProxyError> {
    let authority = match addr {
        BackendAddr::Unix(_) => {
            return Err(ProxyError::Upstream {
                backend: addr.clone(),
                reason: "unix sockets are only supported with VIRTUAL_PROTO=uwsgi".into(),
            });
        }
        other => Authority::try_from(other.to_string()).map_err(|e| ProxyError::Upstream {
            backend: addr.clone(),
            reason: format!("not a valid address: {e}"),
        })?,
    };
    let uri = Uri::builder()
        .scheme(scheme.clone())
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|e| ProxyError::Internal(format!("upstream URI: {e}")))?;
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Ok(req)
}

/// Maps a client error to who is at fault: connect failures (refused, timed out, DNS) are
/// `Connect`; a body over `CLIENT_MAX_BODY_SIZE` is the client's; the rest broke the exchange.
fn classify(err: hyper_util::client::legacy::Error, backend: &BackendAddr) -> ProxyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut io_kind = None;
    while let Some(e) = source {
        if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
            return ProxyError::BodyTooLarge { limit: limit.limit };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        source = e.source();
    }
    if err.is_connect() {
        let kind = io_kind.unwrap_or(std::io::ErrorKind::Other);
        return ProxyError::Connect {
            backend: backend.clone(),
            source: std::io::Error::new(kind, chain(&err)),
        };
    }
    ProxyError::Upstream {
        backend: backend.clone(),
        reason: chain(&err),
    }
}

/// Response for the client: hop-by-hop headers dropped, body streamed; on `101` both upgraded
/// connections are spliced together in a task of their own.
fn finish(
    mut resp: Response<hyper::body::Incoming>,
    client_upgrade: Option<OnUpgrade>,
) -> Response<ProxyBody> {
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    headers::rewrite_response(resp.headers_mut(), switching);
    if switching && let Some(client) = client_upgrade {
        let upstream = hyper::upgrade::on(&mut resp);
        tokio::spawn(splice(client, upstream));
    }
    resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed())
}

async fn splice(client: OnUpgrade, upstream: OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!("upgrade failed: {e}");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!("upgraded connection ended: {e}");
    }
}
