//! Minimal stand-ins for the data plane's challenge answering (the real HTTP listener and TLS
//! acceptor are built elsewhere): HTTP-01 from `Challenges::http01`, TLS-ALPN-01 from
//! `Challenges::tls_alpn01`, and a TLS server for the issued files to prove they verify.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use dockside::acme::Challenges;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A task aborted on drop.
pub struct Task(JoinHandle<()>);

impl From<JoinHandle<()>> for Task {
    fn from(task: JoinHandle<()>) -> Task {
        Task(task)
    }
}
impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Serves `/.well-known/acme-challenge/<token>` on 127.0.0.1; returns (port, task).
pub async fn http01(challenges: Arc<Challenges>) -> (u16, Task) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let challenges = challenges.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let answer = req
                        .uri()
                        .path()
                        .strip_prefix("/.well-known/acme-challenge/")
                        .and_then(|t| challenges.http01(t));
                    async move {
                        let status = if answer.is_some() { 200 } else { 404 };
                        let body = Full::new(Bytes::from(answer.unwrap_or_default()));
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(body)
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (port, Task(task))
}

/// Answers `acme-tls/1` handshakes with the validation certificate for the SNI name.
pub async fn tls_alpn01(challenges: Arc<Challenges>) -> (u16, Task) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let challenges = challenges.clone();
            tokio::spawn(async move {
                let acceptor = tokio_rustls::LazyConfigAcceptor::new(
                    rustls::server::Acceptor::default(),
                    stream,
                );
                let Ok(start) = acceptor.await else { return };
                let hello = start.client_hello();
                let alpn_ok = hello
                    .alpn()
                    .is_some_and(|mut a| a.any(|p| p == dockside::acme::ACME_TLS_ALPN));
                let Some(key) = hello.server_name().and_then(|n| challenges.tls_alpn01(n)) else {
                    return;
                };
                if !alpn_ok {
                    return;
                }
                let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
                cfg.alpn_protocols = vec![dockside::acme::ACME_TLS_ALPN.to_vec()];
                if let Ok(mut tls) = start.into_stream(Arc::new(cfg)).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (port, Task(task))
}

/// Serves `<certs>/<host>.crt` + `.key` over TLS and connects to it trusting only `root_pem`:
/// the handshake succeeds only if the files are a valid chain for `host`. Returns the leaf.
pub async fn verify_served(certs: &Path, host: &str, root_pem: &str) -> CertificateDer<'static> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(certs.join(format!("{host}.crt")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(certs.join(format!("{host}.key"))).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("key matches certificate");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let serve = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(stream).await;
    });
    let mut roots = rustls::RootCertStore::empty();
    for root in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(root.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let stream = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from(host.to_owned()).unwrap(), stream)
        .await
        .unwrap_or_else(|e| {
            panic!("TLS handshake for {host} failed to verify against Pebble's root: {e}")
        });
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let _ = serve.await;
    leaf
}

/// What a verified HTTPS request through dockside returned.
#[derive(Debug)]
pub struct HttpsReply {
    pub status: u16,
    pub body: String,
    /// The leaf the server presented (verified against the root).
    pub leaf: CertificateDer<'static>,
}

/// A TLS client trusting only `root_pem`, offering `h2` never (HTTP/1.1 only).
fn client_config(root_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for root in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(root.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// `GET path` over HTTPS to `addr` with SNI and Host `host`; the handshake must verify against
/// `root_pem` (Pebble's `/roots/0`). `Err` carries the handshake or HTTP error, for tests that
/// expect a refusal. Bounded by 10 s.
pub async fn https_get(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    root_pem: &str,
) -> Result<HttpsReply, String> {
    let work = async {
        let connector = tokio_rustls::TlsConnector::from(client_config(root_pem));
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake for {host}: {e}"))?;
        let leaf = tls
            .get_ref()
            .1
            .peer_certificates()
            .ok_or("no certificate")?[0]
            .clone()
            .into_owned();
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", host)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let rsp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = rsp.status().as_u16();
        let body = http_body_util::BodyExt::collect(rsp.into_body())
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(HttpsReply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            leaf,
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("HTTPS GET {host}{path}: no answer within 10 s"))?
}
