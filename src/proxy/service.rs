//! The proxy service: one request through a readable sequence of small steps —
//! ACME challenge → route lookup → HTTPS policy (redirect / not served / 421, HSTS) → location →
//! body limit → header rewrite → forward (http | https | uwsgi). Errors become responses in
//! one place (`answer_error`), with their status from `ProxyError::status()`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acme::challenge::{Challenges, Http01Answer, SiteChallenge, http01_answer};
use crate::config::{AccessLog, Limits};
use crate::model::{BackendAddr, HttpsMethod, Proto};
use crate::proxy::access_log::{Outcome, Pending};
use crate::proxy::body::{self, BoxError, ClientBodyError, ProxyBody};
use crate::proxy::error::{Fault, ProxyError};
use crate::proxy::forward::{Forwarded, Forwarder};
use crate::proxy::headers::{self, HeaderContext};
use crate::proxy::log_throttle::LogThrottle;
use crate::proxy::meta::{ConnInfo, RequestMeta, Scheme, is_idempotent};
use crate::proxy::upgrade::ClientUpgrade;
use crate::proxy::uri_path;
use crate::proxy::uwsgi::{self, UwsgiOptions};
use crate::routing::host::{InvalidHost, parse_host};
use crate::routing::{Action, DefaultRoot, LocationRoute, RouteTable, SiteRoute, Upstream};
use crate::tls::TlsState;

/// Per-request warnings, at most one per (host, backend, status) every 10 s.
static WARNINGS: std::sync::LazyLock<LogThrottle> =
    std::sync::LazyLock::new(|| LogThrottle::new(std::time::Duration::from_secs(10)));

const ACME_PREFIX: &str = "/.well-known/acme-challenge/";

/// Everything the data plane shares between connections, built once in `app::start`.
/// The TLS listener passes the same `Arc<ServiceState>` to `listener::serve_connection`.
pub struct ServiceState {
    /// The one route-table snapshot, swapped whole on every change.
    pub routes: Arc<ArcSwap<RouteTable>>,
    /// Pending ACME answers, shared with the ACME reconciler.
    pub challenges: Arc<Challenges>,
    /// The pooled upstream client and passive health registry.
    pub forwarder: Forwarder,
    /// `TRUST_DOWNSTREAM_PROXY`.
    pub trust_downstream: bool,
    pub access_log: AccessLog,
    pub limits: Limits,
    /// One permit per client connection (`DOCKSIDE_MAX_CONNECTIONS`), shared by all listeners.
    pub connections: Arc<Semaphore>,
    /// Cancelled on shutdown: listeners stop accepting and connections drain.
    pub shutdown: CancellationToken,
    /// Where connection tasks run, so that shutdown waits for them (upgraded ones included).
    pub tracker: TaskTracker,
    /// The hyper-util server builder (HTTP/1.1 + h2c, timeouts, header limits), built once.
    pub http: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    /// Timeouts and spooling for `VIRTUAL_PROTO=uwsgi`.
    pub uwsgi: UwsgiOptions,
    /// Certificates and SNI view when HTTPS is on: which sites have a usable certificate.
    pub tls: Option<Arc<TlsState>>,
    /// The HTTPS port redirects point to (the bound HTTPS listener's port; `:port` is added to
    /// the Location when it is not 443).
    pub https_port: u16,
}

#[path = "service_https.rs"]
mod https_step;
use https_step::{Policed, https_policy};

/// A response and the backend that produced it (for `$upstream_addr`; formatted only when
/// an access log line is written).
type Answer = (Response<ProxyBody>, Option<BackendAddr>);

/// Serves one request; never fails (errors become responses).
pub async fn handle(
    state: &ServiceState,
    conn: &Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let pending = Pending::capture(state.access_log, &req);
    // A `Uri` clone shares its bytes: no copy unless the request fails and is logged.
    let uri = req.uri().clone();
    let mut hsts = None;
    let (host, routed) = match request_host(&req) {
        Ok(host) => {
            let routed = route(state, conn, &host, req, &mut hsts).await;
            (host, routed)
        }
        Err(err) => (String::new(), Err((err, None))),
    };
    let (mut response, upstream) = match routed {
        Ok(answer) => answer,
        Err((err, backend)) => (
            answer_error(&err, &host, uri.path(), backend.as_ref()),
            backend,
        ),
    };
    // nginx-proxy's `add_header Strict-Transport-Security ... always`: errors included; a
    // backend's own header wins.
    if let Some(value) = hsts {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(value);
    }
    if let Some(p) = pending {
        let outcome = Outcome {
            host: &host,
            remote: conn.client,
            status: response.status(),
            body_bytes: response.body().size_hint().exact().unwrap_or(0),
            upstream: upstream.map(|b| b.to_string()),
        };
        p.record(state.access_log, &outcome);
    }
    response
}

type Failure = (ProxyError, Option<BackendAddr>);

/// The pipeline. `hsts` is set once the HTTPS policy has decided, so that error answers of the
/// later steps carry it too.
async fn route(
    state: &ServiceState,
    conn: &Arc<ConnInfo>,
    host: &str,
    req: Request<Incoming>,
    hsts: &mut Option<HeaderValue>,
) -> Result<Answer, Failure> {
    if let Some(answer) = acme_challenge(state, conn, host, &req) {
        return Ok((answer, None));
    }
    // Before anything looks at the path: `$uri` as nginx builds it (400 if it escapes).
    let path = uri_path::normalize(req.uri().path()).map_err(|e| (e.into(), None))?;
    let table = state.routes.load_full();
    let site = table.lookup(host).ok_or_else(|| no_site(host))?;
    let site = match https_policy(state, conn, &table, site, host, &req)? {
        Policed::Serve(site, value) => {
            *hsts = value;
            site
        }
        Policed::Answer(answer) => return Ok((answer, None)),
    };
    let location = site
        .location(&path)
        .ok_or_else(|| no_location(host, &path))?;
    let upstream = match &location.action {
        Action::Return(root) => return Ok((default_root(root), None)),
        Action::Forward(upstream) => upstream,
    };
    check_declared_length(site, &req).map_err(|e| (e, None))?;
    let meta = request_meta(conn, host, site, location, &path, &req);
    dispatch(state, meta, upstream, req).await
}

/// Sends the rewritten request to the location's protocol handler.
async fn dispatch(
    state: &ServiceState,
    meta: RequestMeta,
    upstream: &Upstream,
    mut req: Request<Incoming>,
) -> Result<Answer, Failure> {
    let retryable = is_idempotent(req.method()) && req.body().is_end_stream();
    let client_upgrade = headers::upgrade_requested(req.headers()).then(|| ClientUpgrade {
        on: hyper::upgrade::on(&mut req),
        permit: meta.conn.permit.clone(),
        tracker: state.tracker.clone(),
        shutdown: state.shutdown.clone(),
        idle: state.limits.upstream_timeout,
    });
    let req = rewrite(state, &meta, upstream, req);
    match upstream.proto {
        Proto::Http | Proto::Https => {
            match state
                .forwarder
                .forward(req, upstream, retryable, client_upgrade)
                .await
            {
                Ok(Forwarded { response, backend }) => Ok((response, Some(backend))),
                Err(err) => {
                    let backend = backend_of(&err);
                    Err((with_site(err, &meta), backend))
                }
            }
        }
        Proto::Uwsgi => forward_uwsgi(state, &meta, upstream, req).await,
    }
}

/// uwsgi: one connection per request to the first backend not marked down (uWSGI closes after
/// each response, so there is no pool); a refused connect marks the backend down.
async fn forward_uwsgi(
    state: &ServiceState,
    meta: &RequestMeta,
    upstream: &Upstream,
    req: Request<ProxyBody>,
) -> Result<Answer, Failure> {
    let health = state.forwarder.health();
    let Some(backend) = health.order(upstream.rotation()).first().copied() else {
        return Err((with_site(no_backend(upstream), meta), None));
    };
    let addr = backend.addr.clone();
    match uwsgi::forward(req, meta, &backend.addr, &state.uwsgi).await {
        Ok(response) => {
            health.mark_up(&backend.addr);
            Ok((response, Some(addr)))
        }
        Err(err) => {
            if matches!(err, ProxyError::Connect { .. }) {
                health.mark_down(&backend.addr);
            }
            Err((with_site(err, meta), Some(addr)))
        }
    }
}

/// `/.well-known/acme-challenge/<token>`: our own pending HTTP-01 token for this Host (port
/// ignored) is answered on either scheme (a CA follows an HTTP→HTTPS redirect made by a proxy in
/// front); on plain HTTP the site's `ACME_HTTP_CHALLENGE_LOCATION`, effective `HTTPS_METHOD` and
/// `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST` decide between a 404 and the normal pipeline
/// (`acme::challenge::http01_answer`).
fn acme_challenge<B>(
    state: &ServiceState,
    conn: &ConnInfo,
    host: &str,
    req: &Request<B>,
) -> Option<Response<ProxyBody>> {
    let token = req.uri().path().strip_prefix(ACME_PREFIX)?;
    let own = state.challenges.http01_for(host, token);
    if own.is_none() && conn.scheme != Scheme::Http {
        return None;
    }
    let table = state.routes.load();
    let site = table.lookup(host).map(|site| SiteChallenge {
        location: site.acme_http_challenge,
        method: effective_method(state, site),
    });
    match http01_answer(own, site, state.challenges.accept_unknown_host()) {
        Http01Answer::Own(key_authorization) => Some(text(StatusCode::OK, key_authorization)),
        Http01Answer::NotFound => Some(text(StatusCode::NOT_FOUND, "404 Not Found\n")),
        Http01Answer::PassThrough => None,
    }
}

/// nginx-proxy's effective `HTTPS_METHOD`: `redirect`/`nohttp` become `noredirect` while the
/// site has no usable certificate and `ENABLE_HTTP_ON_MISSING_CERT` is on.
fn effective_method(state: &ServiceState, site: &SiteRoute) -> HttpsMethod {
    let cert_ok = state.tls.as_ref().is_some_and(|t| t.load().cert_ok(site));
    match site.https_method {
        HttpsMethod::Redirect | HttpsMethod::NoHttp
            if !cert_ok && site.enable_http_on_missing_cert =>
        {
            HttpsMethod::NoRedirect
        }
        method => method,
    }
}

/// `$host`: from an absolute-form target or h2 `:authority`, else the `Host` header. RFC 9112
/// §3.2: an HTTP/1.1 request without `Host`, with two, or with an invalid one is answered 400
/// (a proxy that routes by the first of two lets the backend read the other).
fn request_host<B>(req: &Request<B>) -> Result<String, ProxyError> {
    let mut values = req.headers().get_all(header::HOST).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(InvalidHost::Repeated.into());
    }
    let raw = match (req.uri().authority(), first) {
        (Some(authority), _) => authority.as_str().rsplit('@').next().unwrap_or_default(),
        (None, Some(value)) => value.to_str().map_err(|_| InvalidHost::NotText)?,
        (None, None) if req.version() == Version::HTTP_11 => {
            return Err(InvalidHost::Missing.into());
        }
        (None, None) => "",
    };
    Ok(parse_host(raw)?)
}

/// 413 before anything is sent when `Content-Length` already exceeds `CLIENT_MAX_BODY_SIZE`.
fn check_declared_length<B: Body>(site: &SiteRoute, req: &Request<B>) -> Result<(), ProxyError> {
    match (site.client_max_body_size, req.body().size_hint().exact()) {
        (Some(limit), Some(len)) if len > limit => Err(ProxyError::BodyTooLarge { limit }),
        _ => Ok(()),
    }
}

/// `path` is the normalised path: the `VIRTUAL_DEST` rewrite and `PATH_INFO` start from it, while
/// `$request_uri` (`X-Original-URI`, uwsgi's `REQUEST_URI`) stays as the client sent it.
fn request_meta<B>(
    conn: &Arc<ConnInfo>,
    host: &str,
    site: &SiteRoute,
    location: &LocationRoute,
    path: &str,
    req: &Request<B>,
) -> RequestMeta {
    let request_uri = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let path = headers::rewrite_uri(path, &location.path, &location.dest).into_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    RequestMeta {
        conn: conn.clone(),
        host: host.to_owned(),
        request_uri,
        path,
        query,
        body_limit: site.client_max_body_size,
    }
}

/// Header rewrite (nginx-proxy §1.6.9), `VIRTUAL_DEST` URI, and the body limit wrapper.
fn rewrite(
    state: &ServiceState,
    meta: &RequestMeta,
    upstream: &Upstream,
    req: Request<Incoming>,
) -> Request<ProxyBody> {
    let (mut parts, incoming) = req.into_parts();
    let ctx = HeaderContext {
        client_ip: &meta.conn.client_ip,
        server_port: meta.conn.local.port(),
        scheme: meta.conn.scheme,
        host: &meta.host,
        request_uri: &meta.request_uri,
        trust_downstream: state.trust_downstream,
        keepalive: upstream.keepalive,
    };
    headers::rewrite_request(&mut parts.headers, &ctx);
    // Only a VIRTUAL_DEST replacement changes the target; otherwise keep the parsed URI.
    if !location_keeps_uri(&meta.request_uri, &meta.path, &meta.query) {
        let target = if meta.query.is_empty() {
            meta.path.clone()
        } else {
            format!("{}?{}", meta.path, meta.query)
        };
        if let Ok(uri) = target.parse() {
            parts.uri = uri;
        }
    }
    let mut body = incoming
        .map_err(|e| Box::new(ClientBodyError(e)) as BoxError)
        .boxed();
    // uwsgi enforces the limit itself (it must answer 413 before spooling an unknown length).
    if let Some(limit) = meta.body_limit.filter(|_| upstream.proto != Proto::Uwsgi) {
        body = body::limited(body, limit);
    }
    Request::from_parts(parts, body)
}

/// Whether `path?query` is exactly the original target (no `VIRTUAL_DEST` rewrite happened).
fn location_keeps_uri(request_uri: &str, path: &str, query: &str) -> bool {
    match request_uri.split_once('?') {
        Some((p, q)) => p == path && q == query,
        None => request_uri == path && query.is_empty(),
    }
}

/// The `DEFAULT_ROOT` answer: nginx `return CODE [TEXT|URL]`.
fn default_root(root: &DefaultRoot) -> Response<ProxyBody> {
    let status = root.status;
    match &root.text {
        Some(url) if status.is_redirection() => {
            let mut resp = text(status, "");
            if let Ok(v) = HeaderValue::from_str(url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Some(body) => text(status, body.clone()),
        None => text(
            status,
            format!(
                "{} {}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        ),
    }
}

/// The one place a `ProxyError` becomes a response and a log line.
fn answer_error(
    err: &ProxyError,
    host: &str,
    path: &str,
    backend: Option<&BackendAddr>,
) -> Response<ProxyBody> {
    let status = err.status();
    let backend = backend.map_or_else(|| "-".to_owned(), |b| b.to_string());
    match err.fault() {
        Fault::Client => tracing::debug!(host, path, backend, fault = ?err.fault(), "{err}"),
        fault => {
            let key = format!("{host}\0{backend}\0{}", status.as_u16());
            if let Some(suppressed) = WARNINGS.admit(&key, std::time::Instant::now()) {
                tracing::warn!(host, path, backend, ?fault, suppressed, "{err}");
            }
        }
    }
    let mut resp = text(
        status,
        format!(
            "{} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
    );
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn text(status: StatusCode, body_text: impl Into<bytes::Bytes>) -> Response<ProxyBody> {
    let mut resp = Response::new(body::full(body_text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn no_site(host: &str) -> Failure {
    (
        ProxyError::NoSite {
            host: host.to_owned(),
        },
        None,
    )
}

fn no_location(host: &str, path: &str) -> Failure {
    let err = ProxyError::NoLocation {
        host: host.to_owned(),
        path: path.to_owned(),
    };
    (err, None)
}

fn no_backend(upstream: &Upstream) -> ProxyError {
    ProxyError::NoBackend {
        host: String::new(),
        path: String::new(),
        excluded: upstream.excluded.len(),
    }
}

fn backend_of(err: &ProxyError) -> Option<BackendAddr> {
    match err {
        ProxyError::Connect { backend, .. }
        | ProxyError::Timeout { backend, .. }
        | ProxyError::Upstream { backend, .. } => Some(backend.clone()),
        _ => None,
    }
}

/// Fills in the host of a `NoBackend` raised by the forwarder (which only sees the upstream).
fn with_site(err: ProxyError, meta: &RequestMeta) -> ProxyError {
    match err {
        ProxyError::NoBackend { excluded, .. } => ProxyError::NoBackend {
            host: meta.host.clone(),
            path: meta.request_uri.clone(),
            excluded,
        },
        other => other,
    }
}
