//! Small doubles for what the installed Pebble (2.4) and this machine lack:
//! - `DirectoryDouble`: a TLS proxy in front of real Pebble that forwards every request
//!   unchanged (the `Host` header kept, so Pebble's URLs and its JWS `url` check point back
//!   here) and changes only what Pebble 2.4 cannot do: the directory gains `meta.profiles` and a
//!   `renewalInfo` URL, an order echoes the `replaces` it was asked for (RFC 9773 §5 requires
//!   the CA to), and, when told, the first order carrying `replaces` is refused with
//!   `alreadyReplaced`. Every newOrder payload is recorded.
//!   When told (`fail_orders`), newOrder is answered with a chosen error instead (a CA in
//!   trouble: 5xx, 429 with `Retry-After`); every newOrder attempt's time is kept.
//! - `zerossl_api`: ZeroSSL's one EAB endpoint, `POST /acme/eab-credentials?access_key=…`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use super::pebble::Pebble;
use super::responders::Task;

type Upstream = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

struct State {
    upstream: String,
    client: Upstream,
    profiles: serde_json::Value,
    /// (path, decoded JWS payload) of every POST with a JSON payload.
    posts: Mutex<Vec<(String, serde_json::Value)>>,
    refuse_replaces: AtomicBool,
    new_order_path: Mutex<Option<String>>,
    order_fault: Mutex<Option<OrderFault>>,
    order_attempts: Mutex<Vec<std::time::Instant>>,
}

/// How the double answers newOrder while a fault is set: `status` with a problem document
/// of `problem` type (`urn:ietf:params:acme:error:<problem>`) and `detail`, and a
/// `Retry-After` in seconds when given; with `problem` empty, `detail` as an HTML page (a
/// proxy in front of the CA answering for it).
#[derive(Debug, Clone)]
pub struct OrderFault {
    pub status: StatusCode,
    pub problem: &'static str,
    pub detail: String,
    pub retry_after: Option<u64>,
}

/// The proxy; `url` is the ACME directory to give dockside (trusting Pebble's listener CA).
pub struct DirectoryDouble {
    pub url: String,
    state: Arc<State>,
    _task: Task,
}

impl DirectoryDouble {
    /// Fronts `pebble`, listing `profiles` (name → description) in the directory.
    pub async fn start(pebble: &Pebble, profiles: &[(&str, &str)]) -> DirectoryDouble {
        let dir = pebble.dir.path();
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("cert.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&pebble.listener_ca).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let client_tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client_tls)
            .https_only()
            .enable_http1()
            .build();
        let upstream = pebble.url.trim_end_matches("/dir").to_owned();
        let state = Arc::new(State {
            upstream,
            client: Client::builder(TokioExecutor::new()).build(https),
            profiles: profiles
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            posts: Mutex::default(),
            refuse_replaces: AtomicBool::new(false),
            new_order_path: Mutex::default(),
            order_fault: Mutex::default(),
            order_attempts: Mutex::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/dir", listener.local_addr().unwrap());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let served = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, state) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        DirectoryDouble {
            url,
            state,
            _task: Task::from(task),
        }
    }

    /// The payloads of every newOrder request so far (JWS payload, decoded).
    pub fn orders(&self) -> Vec<serde_json::Value> {
        let path = self.state.new_order_path.lock().unwrap().clone();
        let posts = self.state.posts.lock().unwrap();
        posts
            .iter()
            .filter(|(p, _)| Some(p) == path.as_ref())
            .map(|(_, payload)| payload.clone())
            .collect()
    }

    /// The CSRs (DER) of every finalize request so far.
    pub fn csrs(&self) -> Vec<Vec<u8>> {
        let posts = self.state.posts.lock().unwrap();
        posts
            .iter()
            .filter_map(|(_, payload)| payload["csr"].as_str())
            .map(|csr| URL_SAFE_NO_PAD.decode(csr).unwrap())
            .collect()
    }

    /// Answers every newOrder with `fault` from now on (`None`: forward them again).
    pub fn fail_orders(&self, fault: Option<OrderFault>) {
        *self.state.order_fault.lock().unwrap() = fault;
    }

    /// When each newOrder request arrived, failed or not.
    pub fn order_attempts(&self) -> Vec<std::time::Instant> {
        self.state.order_attempts.lock().unwrap().clone()
    }

    /// Refuse the next order that carries `replaces` (then accept again).
    pub fn refuse_next_replaces(&self) {
        self.state.refuse_replaces.store(true, Ordering::SeqCst);
    }
}

fn json_response(
    status: StatusCode,
    content_type: &str,
    body: &serde_json::Value,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if path.starts_with("/renewalInfo/") {
        let window = serde_json::json!({"suggestedWindow": {"start": "2099-01-01T00:00:00Z", "end": "2099-01-02T00:00:00Z"}});
        let mut rsp = json_response(StatusCode::OK, "application/json", &window);
        rsp.headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("21600"));
        return Ok(rsp);
    }
    let is_new_order = state.new_order_path.lock().unwrap().as_deref() == Some(path.as_str());
    if is_new_order {
        // Read before the attempt is noted: a test that changes the fault once it sees N
        // attempts changes it for attempt N+1, never for the N-th.
        let fault = state.order_fault.lock().unwrap().clone();
        state
            .order_attempts
            .lock()
            .unwrap()
            .push(std::time::Instant::now());
        if let Some(f) = fault.as_ref().filter(|f| f.problem.is_empty()) {
            // Not the CA: a load balancer in front of it, answering HTML.
            let rsp = Response::builder()
                .status(f.status)
                .header("content-type", "text/html")
                .body(Full::new(Bytes::from(f.detail.clone())))
                .unwrap();
            return Ok(rsp);
        }
        if let Some(f) = fault {
            let problem = serde_json::json!({
                "type": format!("urn:ietf:params:acme:error:{}", f.problem),
                "detail": f.detail, "status": f.status.as_u16(),
            });
            let mut rsp = json_response(f.status, "application/problem+json", &problem);
            if let Some(secs) = f.retry_after {
                rsp.headers_mut()
                    .insert("retry-after", http::HeaderValue::from(secs));
            }
            return Ok(rsp);
        }
    }
    if let Some(p) = payload(&body) {
        state.posts.lock().unwrap().push((path.clone(), p));
    }
    let payload = is_new_order.then(|| payload(&body)).flatten();
    let replaces = payload.as_ref().and_then(|p| p.get("replaces")).cloned();
    if replaces.is_some() && state.refuse_replaces.swap(false, Ordering::SeqCst) {
        let problem = serde_json::json!({
            "type": "urn:ietf:params:acme:error:alreadyReplaced",
            "detail": "the double refuses this replaces", "status": 409,
        });
        return Ok(json_response(
            StatusCode::CONFLICT,
            "application/problem+json",
            &problem,
        ));
    }
    let uri = format!(
        "{}{}",
        state.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut forward = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let rsp = match state
        .client
        .request(forward.body(Full::new(body)).unwrap())
        .await
    {
        Ok(rsp) => rsp,
        Err(e) => {
            let msg = serde_json::json!({ "double": e.to_string() });
            return Ok(json_response(
                StatusCode::BAD_GATEWAY,
                "application/json",
                &msg,
            ));
        }
    };
    let (mut rparts, rbody) = rsp.into_parts();
    let mut rbody = rbody
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path == "/dir" {
        let mut dir: serde_json::Value = serde_json::from_slice(&rbody).unwrap();
        if let Some(new_order) = dir["newOrder"].as_str() {
            let p = new_order.split_once(&host).map(|(_, p)| p.to_owned());
            *state.new_order_path.lock().unwrap() = p;
        }
        dir["renewalInfo"] = format!("https://{host}/renewalInfo").into();
        dir["meta"]["profiles"] = state.profiles.clone();
        rbody = Bytes::from(dir.to_string());
    }
    if let (Some(replaces), true) = (replaces, rparts.status.is_success()) {
        let mut order: serde_json::Value = serde_json::from_slice(&rbody).unwrap();
        order["replaces"] = replaces;
        rbody = Bytes::from(order.to_string());
    }
    rparts.headers.remove(http::header::CONTENT_LENGTH);
    rparts.headers.remove(http::header::TRANSFER_ENCODING);
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}

/// The decoded payload of a flattened JWS request body.
fn payload(body: &[u8]) -> Option<serde_json::Value> {
    let jws: serde_json::Value = serde_json::from_slice(body).ok()?;
    let raw = URL_SAFE_NO_PAD.decode(jws["payload"].as_str()?).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// ZeroSSL's EAB endpoint for one API key: answers `eab` (kid, HMAC) to
/// `POST /acme/eab-credentials?access_key=<key>`, `{"success": false, …}` to a wrong key.
/// Returns the API base URL and the number of successful calls so far.
pub async fn zerossl_api(
    key: &'static str,
    eab: (&'static str, &'static str),
) -> (String, Arc<std::sync::atomic::AtomicUsize>, Task) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let calls = counted.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let ok = req.method() == http::Method::POST
                        && req.uri().path() == "/acme/eab-credentials"
                        && req.uri().query() == Some(&format!("access_key={key}"));
                    if ok {
                        calls.fetch_add(1, Ordering::SeqCst);
                    }
                    let body = if ok {
                        serde_json::json!({"success": true, "eab_kid": eab.0, "eab_hmac_key": eab.1})
                    } else {
                        serde_json::json!({"success": false, "error": {"code": 101, "type": "invalid_access_key"}})
                    };
                    async move {
                        Ok::<_, std::convert::Infallible>(json_response(
                            StatusCode::OK,
                            "application/json",
                            &body,
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (base, calls, Task::from(task))
}
