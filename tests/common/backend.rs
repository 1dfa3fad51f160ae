//! In-process test backend on 127.0.0.1:0: echoes the request as JSON, and on special paths
//! answers a status (`/status/NNN`), sleeps (`/sleep/MS`), streams N bytes (`/bytes/N`), counts
//! an upload (`/upload`), or switches protocols and echoes raw bytes (any `Upgrade` request).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Infallible>;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// A running backend: its address and how many requests it has seen.
pub struct TestBackend {
    pub addr: SocketAddr,
    pub name: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TestBackend {
    /// Starts a backend that reports `name` in its echoes.
    pub async fn start(name: &str) -> TestBackend {
        Self::spawn(name, None).await
    }

    /// Starts an HTTPS backend with a fresh self-signed certificate for `localhost`.
    pub async fn start_tls(name: &str) -> TestBackend {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = key.cert.der().clone();
        let pkey = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], pkey)
            .unwrap();
        Self::spawn(
            name,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn spawn(name: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> TestBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let ctx = Arc::new((name.to_owned(), hits.clone()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let ctx = ctx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move {
                            ctx.1.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, Infallible>(answer(&ctx.0, req).await)
                        }
                    });
                    let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = server
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            )
                            .await
                            else {
                                return;
                            };
                            let _ = server
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
        TestBackend {
            addr,
            name: name.to_owned(),
            hits,
            task,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stops accepting (existing connections finish on their own).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(name: &str, mut req: Request<Incoming>) -> Response<Body> {
    if req.headers().contains_key(http::header::UPGRADE) {
        return switch(&mut req);
    }
    let path = req.uri().path().to_owned();
    let arg = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let Some(code) = arg("/status/") {
        let status = StatusCode::from_u16(code as u16).unwrap_or(StatusCode::IM_A_TEAPOT);
        return with_status(status, full(format!("status {code} from {name}")));
    }
    if let Some(ms) = arg("/sleep/") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(n) = arg("/bytes/") {
        return Response::new(zeros(n));
    }
    echo(name, req).await
}

async fn echo(name: &str, req: Request<Incoming>) -> Response<Body> {
    let (parts, mut body) = req.into_parts();
    let mut headers = serde_json::Map::new();
    for key in parts.headers.keys() {
        let values: Vec<&str> = parts
            .headers
            .get_all(key)
            .iter()
            .map(|v| v.to_str().unwrap_or("<bin>"))
            .collect();
        headers.insert(key.as_str().to_owned(), values.join(", ").into());
    }
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => received += f.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => break,
        }
    }
    let json = serde_json::json!({
        "backend": name,
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "received": received,
    });
    Response::new(full(json.to_string()))
}

/// Answers `101` and echoes raw bytes on the upgraded connection.
fn switch(req: &mut Request<Incoming>) -> Response<Body> {
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 4096];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut resp = with_status(StatusCode::SWITCHING_PROTOCOLS, full(""));
    let h = resp.headers_mut();
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert("connection", "upgrade".parse().unwrap());
    resp
}

fn zeros(n: u64) -> Body {
    let stream = futures_util::stream::unfold(n, |left| async move {
        if left == 0 {
            return None;
        }
        let take = left.min(ZEROS.len() as u64);
        let chunk = Bytes::from_static(&ZEROS[..take as usize]);
        Some((Ok::<_, Infallible>(Frame::data(chunk)), left - take))
    });
    StreamBody::new(stream).boxed()
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into()).boxed()
}

fn with_status(status: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}
