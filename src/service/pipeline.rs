//! The proxy service: one request through a readable sequence of small steps —
//! ACME challenge → route lookup → HTTPS policy (redirect / not served / 421, HSTS) → location →
//! body limit → header rewrite → forward (http | https | uwsgi | grpc). Errors become responses in
//! one place (`answer_error`), with their status from `ProxyError::status()`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use hyper::body::Body;
use tracing::Instrument;

use super::access_log::Pending;
use super::answer::{
    Answer, Failure, answer_error, default_root, fixed_answer, no_location, no_site, text,
    with_page,
};
use super::challenge::acme_challenge;
use super::debug;
use super::headers::{self, HeaderContext};
use super::https::{Policed, client_cert, https_policy};
use super::observe::{Ending, Observed, observe};
use super::state::ServiceState;
use crate::exchange::hop::check_request_coding;
use crate::exchange::{
    self, ClientBody, ClientCert, ConnInfo, ProxyBody, ProxyError, RequestMeta, Scheme,
    is_idempotent,
};
use crate::live::Snapshot;
use crate::metrics;
use crate::model::Proto;
use crate::policy::{CompressFacts, Refusal, SitePolicy, compress};
use crate::routing::{
    Action, InvalidHost, LocationRoute, SiteRoute, Upstream, normalize_path, parse_host,
};
use crate::telemetry;
use crate::upstream::Forwarded;

/// Serves one request; never fails (errors become responses). `upgrade`: the server took the
/// client's side of a requested protocol switch, and splices it if the backend answers `101`.
/// `B` is hyper's body (HTTP/1.1, h2) or HTTP/3's: one pipeline for every protocol.
pub async fn handle<B: ClientBody>(
    state: &ServiceState,
    conn: &Arc<ConnInfo>,
    req: Request<B>,
    upgrade: bool,
) -> Response<ProxyBody> {
    let observed = observed(state, &req);
    // A `Uri` clone shares its bytes: no copy unless the request fails and is logged.
    let uri = req.uri().clone();
    let mut hsts = None;
    let mut policy = Applied {
        observe: observed.is_some(),
        ..Applied::default()
    };
    let mut traced = None;
    let (host, routed) = match request_host(&req) {
        // OpenTelemetry: one bool for a dockside without traces. Boxed, so that the plain
        // path's future keeps its layout (and its moves) rather than growing by the span's.
        Ok(host) if state.traces => {
            let span = telemetry::server_span(conn, &req);
            traced = Some(span.clone());
            let routed = route(state, conn, &host, req, upgrade, &mut hsts, &mut policy);
            let routed = Box::pin(routed.instrument(span)).await;
            (host, routed)
        }
        Ok(host) => {
            let routed = route(state, conn, &host, req, upgrade, &mut hsts, &mut policy).await;
            (host, routed)
        }
        Err(err) => (String::new(), Err((err, None))),
    };
    let (mut response, upstream, ours) = match routed {
        Ok((response, backend)) => (response, backend, false),
        Err((err, backend)) => (
            answer_error(
                &state.warnings,
                &err,
                &host,
                uri.path(),
                backend.as_ref(),
                policy.grpc,
            ),
            backend,
            true,
        ),
    };
    // `SERVER_TOKENS`, before the site policy so `RESPONSE_HEADERS=Server: …` still wins.
    if let Some(server) = policy.server.take() {
        response.headers_mut().insert(header::SERVER, server);
    }
    if let Some(site_policy) = &policy.policy {
        response = respond(site_policy, &policy, ours, response);
    }
    // `ENABLE_HTTP3` / the label: the site's answers over TLS advertise HTTP/3.
    if policy.alt_svc
        && let Some(value) = &state.alt_svc
    {
        response
            .headers_mut()
            .insert(header::ALT_SVC, value.clone());
    }
    // nginx-proxy's `add_header Strict-Transport-Security ... always`: errors included; a
    // backend's own header wins.
    if let Some(value) = hsts {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(value);
    }
    if let Some(span) = &traced {
        telemetry::record(span, &host, response.status(), upstream.as_ref());
    }
    let Some(observed) = observed else {
        return response;
    };
    let ending = Ending {
        host,
        conn: observed.log.is_some().then(|| conn.clone()),
        backend: upstream,
        site: policy.site,
        upstream_class: metrics::upstream(policy.upstream),
        upstream_time: policy.upstream_time,
    };
    observe(observed, ending, response)
}

/// What the access log and the metrics need of the request before it is consumed; `None`
/// (nothing captured, no completion wrapper) when both are off.
fn observed<B: ClientBody>(state: &ServiceState, req: &Request<B>) -> Option<Observed> {
    if state.metrics.is_none() && state.access_log.is_none() {
        return None;
    }
    Some(Observed {
        started: Instant::now(),
        log: Pending::capture(state.access_log.as_ref(), req).map(Box::new),
        metrics: state.metrics.as_ref().map(|shard| {
            let method = metrics::method_class(req.method());
            let downstream = metrics::downstream(req.version(), B::HTTP3);
            (shard.clone(), method, downstream)
        }),
    })
}

/// The pipeline. `hsts` is set once the HTTPS policy has decided, so that error answers of the
/// later steps carry it too.
async fn route<B: ClientBody>(
    state: &ServiceState,
    conn: &Arc<ConnInfo>,
    host: &str,
    req: Request<B>,
    upgrade: bool,
    hsts: &mut Option<HeaderValue>,
    applied: &mut Applied,
) -> Result<Answer, Failure> {
    // RFC 9112 §6.1, before anything reads the body. Only a body of unknown length (chunked)
    // can have a `Transfer-Encoding`: a request with a length or none pays nothing here.
    if req.body().size_hint().exact().is_none() {
        check_request_coding(req.headers()).map_err(|e| (e.into(), None))?;
    }
    // One load: the routes and the certificate facts below are of the same moment.
    let live = state.live.load();
    if let Some(answer) = acme_challenge(state, &live, conn, host, &req) {
        return Ok((answer, None));
    }
    // Before anything looks at the path: `$uri` as nginx builds it (400 if it escapes).
    let path = normalize_path(req.uri().path()).map_err(|e| (e.into(), None))?;
    // Over HTTP/3, a site not served there is unknown (nginx: not on the QUIC socket).
    let Some(site) = state
        .hosts(conn, &live)
        .and_then(|h| h.lookup(host))
        .filter(|s| !B::HTTP3 || live.http3(s))
    else {
        applied.policy = live.routes().fallback_policy.clone();
        return Err(no_site(host));
    };
    applied.site = Some(site.metrics_id);
    if let Some(server) = &site.server_header {
        applied.server = Some(server.clone());
    }
    // One branch for sites without `DEBUG_ENDPOINT`.
    let debug = |s: &SiteRoute| s.debug_endpoint && debug::wanted(&path);
    let site = match https_policy(state, &live, conn, site, host, &req)? {
        Policed::Serve(site, value) => {
            *hsts = value;
            // One bool for sites without HTTP/3; the TLS check only for those with it.
            applied.alt_svc = site.http3
                && !B::HTTP3
                && conn.scheme == Scheme::Https
                && state.alt_svc.is_some()
                && live.http3(site)
                && state.http3.serving();
            site
        }
        // nginx-proxy's redirect server has the debug location too.
        Policed::Answer(_) if debug(site) => site,
        Policed::Answer(answer) => return Ok((answer, None)),
    };
    // nginx checks the client certificate before anything of the server block runs.
    let client = client_cert(conn, site, host)?;
    if debug(site) {
        return Ok((debug_answer(state, &live, conn, host, site, &req), None));
    }
    applied.policy = site.policy.clone();
    let location = site
        .location(&path)
        .ok_or_else(|| no_location(host, &path))?;
    // Site policies, in their documented order, before anything is sent upstream.
    if let Some(policy) = &location.policy {
        applied.take(policy, &req);
        if let Some(answer) = admit(policy, conn, host, &req).await? {
            return Ok((answer, None));
        }
    }
    let upstream = match &location.action {
        Action::Return(root) => return Ok((default_root(root), None)),
        Action::Forward(upstream) => upstream,
    };
    applied.grpc = upstream.proto.is_grpc();
    applied.upstream = Some(upstream.proto);
    let body_limit = body_limit(site, location);
    check_declared_length(body_limit, &req).map_err(|e| (e, None))?;
    let meta = request_meta(conn, host, body_limit, location, &path, &req);
    let hop = Hop {
        upstream,
        location,
        client,
        strip_client_cert: live.client_auth_anywhere(),
        site: site.metrics_id,
    };
    // `$upstream_response_time`: to the response head (retries included).
    let sent = applied.observe.then(Instant::now);
    let answer = dispatch(state, meta, hop, req, upgrade).await;
    applied.upstream_time = sent.map(|t| t.elapsed());
    answer
}

/// Where a routed request goes, and the client certificate facts it carries there.
struct Hop<'r> {
    upstream: &'r Upstream,
    location: &'r LocationRoute,
    client: Option<&'r ClientCert>,
    /// Some site asks for client certificates: clients' `X-SSL-Client-*` copies go.
    strip_client_cert: bool,
    /// The site's metrics id (request body bytes are counted under it).
    site: u32,
}

/// What the response phase needs of the policy that applied: the policy itself, and the
/// request facts compression negotiates with (taken only when compression is on).
#[derive(Default)]
struct Applied {
    policy: Option<Arc<SitePolicy>>,
    compress: Option<CompressFacts>,
    /// The `Server` header the site's `SERVER_TOKENS` asks for.
    server: Option<HeaderValue>,
    /// The site is served over HTTP/3 and this answer goes over TLS on TCP: add `alt-svc`.
    alt_svc: bool,
    /// The location is `VIRTUAL_PROTO=grpc`/`grpcs`: its errors are answered as gRPC statuses.
    grpc: bool,
    /// The access log or the metrics are on: the steps below note what they report.
    observe: bool,
    /// The site that took the request (its metrics id).
    site: Option<u32>,
    /// The location's `VIRTUAL_PROTO`, when it forwards.
    upstream: Option<Proto>,
    /// From sending upstream to the response head, when observed.
    upstream_time: Option<Duration>,
}

impl Applied {
    fn take<B>(&mut self, policy: &Arc<SitePolicy>, req: &Request<B>) {
        self.policy = Some(policy.clone());
        self.compress = policy
            .compression
            .as_ref()
            .map(|cfg| CompressFacts::new(cfg, req.method(), req.headers()));
    }
}

/// access → auth → rate limit, then nginx's `return`. `Ok(Some)` is an answer without a backend.
async fn admit<B>(
    policy: &Arc<SitePolicy>,
    conn: &ConnInfo,
    host: &str,
    req: &Request<B>,
) -> Result<Option<Response<ProxyBody>>, Failure> {
    let authorization = req.headers().get(header::AUTHORIZATION);
    policy
        .admit(conn.client.ip(), authorization)
        .await
        .map_err(|refusal| {
            let host = host.to_owned();
            let err = match refusal {
                Refusal::Forbidden => ProxyError::Forbidden { host },
                Refusal::Unauthorized(challenge) => ProxyError::Unauthorized { host, challenge },
                Refusal::TooManyRequests(retry_after) => {
                    ProxyError::RateLimited { host, retry_after }
                }
            };
            (err, None)
        })?;
    Ok(policy.fixed_answer().map(|answer| {
        let request_uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
        fixed_answer(answer, conn.scheme.as_str(), host, request_uri)
    }))
}

/// response headers → compression → error pages (the last only for answers dockside wrote).
fn respond(
    policy: &SitePolicy,
    applied: &Applied,
    ours: bool,
    mut response: Response<ProxyBody>,
) -> Response<ProxyBody> {
    let status = response.status();
    policy.rewrite_response(status, response.headers_mut());
    if let (Some(cfg), Some(facts)) = (&policy.compression, applied.compress) {
        response = compress(cfg, facts, response);
    }
    if ours && let Some((content_type, body)) = policy.error_page(status) {
        with_page(&mut response, content_type, body);
    }
    response
}

/// `GET /nginx-proxy-debug` on a site with `DEBUG_ENDPOINT`: the site and this request as JSON.
fn debug_answer<B>(
    state: &ServiceState,
    live: &Snapshot,
    conn: &ConnInfo,
    host: &str,
    site: &SiteRoute,
    req: &Request<B>,
) -> Response<ProxyBody> {
    let https = conn.scheme == Scheme::Https;
    let facts = debug::Facts {
        site,
        defaults: &state.defaults,
        host,
        https,
        http2: match (req.version() == Version::HTTP_2, https) {
            (false, _) => "",
            (true, true) => "h2",
            (true, false) => "h2c",
        },
        cert: live
            .site_tls(site)
            .and_then(|t| t.selection.name.as_deref()),
        cert_ok: live.cert_ok(site),
        default_cert_ok: live.certs().default_cert().is_some(),
        trust_downstream: state.trust_downstream,
        http_port: state.http_port,
        https_port: state.https.then_some(state.https_port),
    };
    let mut resp = text(http::StatusCode::OK, debug::render(&facts));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A location's `client_max_body_size` wins over the site's `CLIENT_MAX_BODY_SIZE`.
fn body_limit(site: &SiteRoute, location: &LocationRoute) -> Option<u64> {
    location
        .policy
        .as_ref()
        .and_then(|p| p.max_body)
        .or(site.client_max_body_size)
}

/// Sends the rewritten request to the location's backends.
async fn dispatch<B: ClientBody>(
    state: &ServiceState,
    meta: RequestMeta,
    hop: Hop<'_>,
    req: Request<B>,
    upgrade: bool,
) -> Result<Answer, Failure> {
    let retryable = is_idempotent(req.method()) && req.body().is_end_stream();
    let mut req = rewrite(state, &meta, &hop, req);
    let Hop {
        upstream, location, ..
    } = hop;
    if let Some(policy) = &location.policy {
        policy.rewrite_request(req.headers_mut());
    }
    if state.traces {
        let span = telemetry::client_span(&mut req);
        let forward = state
            .forwarder
            .forward(req, &meta, upstream, retryable, upgrade);
        // Boxed, as the server span's route above.
        let forwarded = Box::pin(forward.instrument(span.clone())).await;
        telemetry::record_exchange(&span, &forwarded);
        let Forwarded { response, backend } = forwarded?;
        return Ok((response, Some(backend)));
    }
    let Forwarded { response, backend } = state
        .forwarder
        .forward(req, &meta, upstream, retryable, upgrade)
        .await?;
    Ok((response, Some(backend)))
}

/// `$host`: from an absolute-form target or h2 `:authority`, else the `Host` header. RFC 9112
/// §3.2: an HTTP/1.1 request without `Host`, with two, or with an invalid one is answered 400
/// (a proxy that routes by the first of two lets the backend read the other); so is a target
/// with userinfo (`http://a.test@b.test/`), which other readers may route by its first name.
fn request_host<B>(req: &Request<B>) -> Result<String, ProxyError> {
    let mut values = req.headers().get_all(header::HOST).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(InvalidHost::Repeated.into());
    }
    let raw = match (req.uri().authority(), first) {
        // Userinfo is refused like any other character a host cannot have (RFC 9110 §4.2.4).
        (Some(authority), _) => authority.as_str(),
        (None, Some(value)) => value.to_str().map_err(|_| InvalidHost::NotText)?,
        (None, None) if req.version() == Version::HTTP_11 => {
            return Err(InvalidHost::Missing.into());
        }
        (None, None) => "",
    };
    Ok(parse_host(raw)?)
}

/// 413 before anything is sent when `Content-Length` already exceeds `CLIENT_MAX_BODY_SIZE`.
fn check_declared_length<B: Body>(limit: Option<u64>, req: &Request<B>) -> Result<(), ProxyError> {
    match (limit, req.body().size_hint().exact()) {
        (Some(limit), Some(len)) if len > limit => Err(ProxyError::BodyTooLarge { limit }),
        _ => Ok(()),
    }
}

/// `path` is the normalised path: the `VIRTUAL_DEST` rewrite and `PATH_INFO` start from it, while
/// `$request_uri` (`X-Original-URI`, uwsgi's `REQUEST_URI`) stays as the client sent it.
fn request_meta<B>(
    conn: &Arc<ConnInfo>,
    host: &str,
    body_limit: Option<u64>,
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
        body_limit,
        timeouts: location
            .policy
            .as_ref()
            .map(|p| p.timeouts)
            .unwrap_or_default(),
    }
}

/// Header rewrite (nginx-proxy §1.6.9), `VIRTUAL_DEST` URI, and the body limit wrapper.
fn rewrite<B: ClientBody>(
    state: &ServiceState,
    meta: &RequestMeta,
    hop: &Hop<'_>,
    req: Request<B>,
) -> Request<ProxyBody> {
    let (mut parts, incoming) = req.into_parts();
    let ctx = HeaderContext {
        client_ip: &meta.conn.client_ip,
        server_port: meta.conn.local.port(),
        scheme: meta.conn.scheme,
        host: &meta.host,
        request_uri: &meta.request_uri,
        trust_downstream: state.trust_downstream,
        keepalive: hop.upstream.keepalive,
        proxied: meta.conn.proxied,
        client_cert: hop.client,
        strip_client_cert: hop.strip_client_cert,
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
    let mut body = incoming.into_proxy();
    if let Some(shard) = &state.metrics
        && !body.is_end_stream()
    {
        body = metrics::count_received(body, shard.clone(), hop.site);
    }
    // uwsgi and FastCGI enforce the limit themselves (they must answer 413 before spooling an
    // unknown length).
    if let Some(limit) = meta
        .body_limit
        .filter(|_| !matches!(hop.upstream.proto, Proto::Uwsgi | Proto::Fastcgi))
    {
        body = exchange::limited(body, limit);
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
