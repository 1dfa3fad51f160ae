//! dockside's TLS layer alone: a test CA (rcgen), a certificate directory, the real
//! `TlsAcceptor` + watcher on 127.0.0.1:0 in front of a trivial hyper service that reports what
//! the connection negotiated, and clients: curl, openssl s_client and tokio-rustls (`client`);
//! client-certificate CAs, certificates, CRLs and a client presenting them (`mtls`).

pub mod client;
pub mod mtls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dockside::acme::Challenges;
use dockside::certs;
use dockside::live::Live;
use dockside::model::{DesiredState, Site};
use dockside::routing::{RouteTable, SiteDefaults};
use dockside::tls::TlsAcceptor;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_util::sync::CancellationToken;

use super::{WAIT, require_tool};

/// A CA that signs leaf certificates; `ca.pem` is written next to the certificate directory.
pub struct Pki {
    pub tmp: tempfile::TempDir,
    ca_params: rcgen::CertificateParams,
    ca_key: rcgen::KeyPair,
}

/// A leaf certificate chain (leaf + CA) and its PKCS#8 key, as PEM.
pub struct Leaf {
    pub chain: String,
    pub key: String,
}

impl Pki {
    /// A fresh CA and an empty `certs/` directory.
    pub fn new() -> Pki {
        let tmp = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dockside test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(tmp.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::create_dir(tmp.path().join("certs")).unwrap();
        Pki {
            tmp,
            ca_params,
            ca_key,
        }
    }

    pub fn certs(&self) -> PathBuf {
        self.tmp.path().join("certs")
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.tmp.path().join("ca.pem")
    }

    /// A leaf for `names` with common name `cn` (tests tell certificates apart by it).
    pub fn leaf(&self, cn: &str, names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> Leaf {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let ca = self.ca_params.self_signed(&self.ca_key).unwrap();
        Leaf {
            chain: format!("{}{}", cert.pem(), ca.pem()),
            key: key.serialize_pem(),
        }
    }

    /// Writes `<name>.crt` / `<name>.key` with an ECDSA P-256 leaf for `names`, CN `cn`.
    pub fn install(&self, name: &str, cn: &str, names: &[&str]) {
        self.install_in(&self.certs(), name, cn, names);
    }

    /// As `install`, into another certificate directory (one dockside already watches).
    pub fn install_in(&self, dir: &Path, name: &str, cn: &str, names: &[&str]) {
        let leaf = self.leaf(cn, names, &rcgen::PKCS_ECDSA_P256_SHA256);
        certs::write_pair(dir, name, leaf.chain.as_bytes(), leaf.key.as_bytes()).unwrap();
    }
}

/// A site with default settings.
pub fn site(host: &str) -> Site {
    Site {
        host: host.to_owned(),
        ..Default::default()
    }
}

/// The acceptor and watcher running on 127.0.0.1:0.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<Live>,
    pub challenges: Arc<Challenges>,
    cancel: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Starts dockside's TLS layer for `sites` over the certificates in `dir`.
    pub async fn start(dir: &Path, sites: Vec<Site>) -> Server {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("dockside=debug")
            .with_test_writer()
            .try_init();
        let routes = RouteTable::build(
            &DesiredState {
                sites: sites.into_iter().map(std::sync::Arc::new).collect(),
                ..Default::default()
            },
            &SiteDefaults::default(),
        );
        let state = Live::new(
            Arc::new(routes),
            certs::load_initial(dir),
            "Mozilla-Intermediate",
            true,
        );
        let cancel = CancellationToken::new();
        let publish = {
            let state = state.clone();
            move |map| state.set_certs(map)
        };
        let first = state.load().certs().clone();
        certs::spawn_watcher(dir.to_owned(), first, publish, cancel.clone());
        let challenges = Arc::new(Challenges::default());
        let acceptor = Arc::new(
            TlsAcceptor::new(state.clone(), challenges.clone(), Duration::from_secs(5)).unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = cancel.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, client) = tokio::select! {
                    () = stop.cancelled() => return,
                    r = listener.accept() => r.unwrap(),
                };
                tcp.set_nodelay(true).unwrap();
                tokio::spawn(serve(acceptor.clone(), tcp, client));
            }
        });
        Server {
            addr,
            state,
            challenges,
            cancel,
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

async fn serve(acceptor: Arc<TlsAcceptor>, tcp: tokio::net::TcpStream, client: SocketAddr) {
    let accepted = match acceptor.accept(tcp, client).await {
        Ok(Some(a)) => a,
        Ok(None) => return,
        Err(err) => {
            tracing::debug!("{err}");
            return;
        }
    };
    let facts = format!(
        "sni={} site={} cert={}",
        accepted.session.sni.as_deref().unwrap_or("-"),
        accepted.session.site.as_deref().unwrap_or("-"),
        accepted.session.cert.name
    );
    let cert = accepted.session.cert.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let host = req
            .uri()
            .host()
            .or_else(|| req.headers().get("host").and_then(|h| h.to_str().ok()))
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        let body: Body = if req.uri().path() == "/slow" {
            slow_body()
        } else {
            let text = format!("{facts} host={host} covered={}\n", cert.covers(&host));
            Full::new(Bytes::from(text)).boxed()
        };
        async move { Ok::<_, Infallible>(hyper::Response::new(body)) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(accepted.stream), service)
        .await;
}

/// Size of the `/slow` body: [`SLOW_CHUNKS`] chunks of 16 KiB, one every 100 ms.
pub const SLOW_CHUNKS: usize = 20;
pub const SLOW_BYTES: usize = SLOW_CHUNKS * 16 * 1024;

fn slow_body() -> Body {
    let stream = futures_util::stream::unfold(0usize, |i| async move {
        if i == SLOW_CHUNKS {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let frame = Frame::data(Bytes::from(vec![b'x'; 16 * 1024]));
        Some((Ok::<_, Infallible>(frame), i + 1))
    });
    StreamBody::new(stream).boxed()
}

/// Runs curl against the server for `host` (resolved to 127.0.0.1), trusting the test CA.
pub async fn curl(pki: &Pki, server: &Server, host: &str, path: &str, extra: &[&str]) -> Output {
    require_tool("curl", "curl");
    let port = server.port();
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(pki.ca_pem())
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"));
    cmd.output().await.unwrap()
}

/// Runs `openssl s_client -connect addr` with `args` (stdin closed, bounded by `WAIT`); returns
/// (success, stdout + stderr).
pub async fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    require_tool("openssl", "openssl");
    let out = tokio::process::Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(WAIT, out)
        .await
        .expect("openssl s_client within WAIT")
        .expect("openssl s_client runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Polls `check` every 50 ms until it returns true or `limit` passes; returns the time taken.
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
