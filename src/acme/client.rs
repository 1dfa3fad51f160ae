//! The one HTTP client dockside uses to talk to ACME CAs: hyper-rustls with TCP_NODELAY (Nagle
//! costs ~40 ms per request on loopback), webpki roots plus `CA_BUNDLE`, a timeout on every
//! request (body included), and a record of the CA's `Retry-After` on error answers, which
//! instant-acme's problem documents do not carry.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::acme::chain::Downloads;

type Hyper = Client<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// Why the CA client could not be built (only `CA_BUNDLE` can make this fail).
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("CA_BUNDLE {path}: {source}")]
    Bundle {
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("CA_BUNDLE {path} contains no usable certificate")]
    EmptyBundle { path: String },
    #[error("TLS client configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Shared connection pool to the CAs; cheap to clone.
#[derive(Clone)]
pub struct AcmeHttp {
    client: Hyper,
    timeout: Duration,
}

impl std::fmt::Debug for AcmeHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeHttp")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AcmeHttp {
    /// Trusts the public web PKI plus every certificate in `ca_bundle` (PEM).
    pub fn new(ca_bundle: Option<&Path>, timeout: Duration) -> Result<AcmeHttp, ClientSetupError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = ca_bundle {
            let shown = path.display().to_string();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect())
                .map_err(|source| ClientSetupError::Bundle {
                    path: shown.clone(),
                    source,
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ClientSetupError::EmptyBundle { path: shown });
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(AcmeHttp { client, timeout })
    }

    /// A client for one order: shares the pool, records `Retry-After` into its own slot and
    /// keeps the order's certificate downloads (for `ACME_PREFERRED_CHAIN`'s alternates).
    pub(crate) fn for_order(&self) -> (Box<dyn HttpClient>, RetryAfter, Downloads) {
        let (slot, downloads) = (RetryAfter::default(), Downloads::default());
        let client = Recording {
            http: self.clone(),
            retry_after: slot.clone(),
            downloads: downloads.clone(),
        };
        (Box::new(client), slot, downloads)
    }

    /// A POST without a body (ZeroSSL's EAB endpoint), with the request timeout.
    pub async fn post_empty(&self, url: &str) -> Result<Response<Bytes>, RequestError> {
        let req = Request::post(url)
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(BodyWrapper::default())
            .map_err(|e| RequestError::Build(e.to_string()))?;
        self.send(req).await
    }

    /// A plain GET with the request timeout (directory and ARI lookups).
    pub async fn get(&self, url: &str) -> Result<Response<Bytes>, RequestError> {
        let req = Request::get(url)
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(BodyWrapper::default())
            .map_err(|e| RequestError::Build(e.to_string()))?;
        self.send(req).await
    }

    async fn send(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Result<Response<Bytes>, RequestError> {
        let exchange = async {
            let rsp = self
                .client
                .request(req)
                .await
                .map_err(RequestError::Transport)?;
            let (parts, body) = rsp.into_parts();
            let body = body.collect().await.map_err(RequestError::Body)?.to_bytes();
            Ok(Response::from_parts(parts, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RequestError::Timeout(self.timeout))?
    }
}

/// dockside's User-Agent towards CAs.
pub const USER_AGENT: &str = concat!("dockside/", env!("CARGO_PKG_VERSION"), " (instant-acme)");

/// One HTTP exchange with a CA failed before any answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("invalid request: {0}")]
    Build(String),
    #[error("connection to the CA failed: {0}")]
    Transport(#[source] hyper_util::client::legacy::Error),
    #[error("reading the CA's answer failed: {0}")]
    Body(#[source] hyper::Error),
    #[error("the CA did not answer within {0:?}")]
    Timeout(Duration),
    /// An error status without a problem document: a proxy or load balancer in front of the
    /// CA answered (an HTML 502 page). Said as such, not as the JSON parser's complaint.
    #[error(
        "the CA answered {status} with {content_type:?}, not an ACME problem document: {snippet}"
    )]
    NotAcme {
        status: StatusCode,
        content_type: String,
        snippet: String,
    },
}

/// The [`RequestError::NotAcme`] for an error answer whose body is not JSON; `None` for a
/// success or a JSON body (a problem document, which instant-acme reads, labelled or not).
/// Pure.
pub(crate) fn not_acme(parts: &http::response::Parts, body: &[u8]) -> Option<RequestError> {
    if !(parts.status.is_client_error() || parts.status.is_server_error()) {
        return None;
    }
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.contains("json") || body.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    // Enough to recognise the page in a log line; control characters and runs of white space
    // folded so it stays one line.
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]);
    let snippet = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(RequestError::NotAcme {
        status: parts.status,
        content_type,
        snippet,
    })
}

/// How much of a non-ACME error body goes into the error.
const SNIPPET: usize = 200;

/// The latest `Retry-After` a CA sent with an error answer during one order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RetryAfter(Arc<Mutex<Option<SystemTime>>>);

impl RetryAfter {
    pub(crate) fn get(&self) -> Option<SystemTime> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, at: SystemTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }
}

/// Parses `Retry-After` (delay-seconds or HTTP-date) relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim();
    match value.parse::<u64>() {
        Ok(secs) => Some(now + Duration::from_secs(secs)),
        Err(_) => httpdate::parse_http_date(value).ok(),
    }
}

struct Recording {
    http: AcmeHttp,
    retry_after: RetryAfter,
    downloads: Downloads,
}

impl HttpClient for Recording {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let http = self.http.clone();
        let slot = self.retry_after.clone();
        let downloads = self.downloads.clone();
        let url = req.uri().to_string();
        Box::pin(async move {
            let rsp = http
                .send(req)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            if rsp.status().is_client_error()
                || rsp.status().is_server_error()
                || rsp.status() == StatusCode::TOO_MANY_REQUESTS
            {
                let value = rsp
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                if let Some(at) = value.and_then(|v| parse_retry_after(v, SystemTime::now())) {
                    slot.set(at);
                }
            }
            let (parts, body) = rsp.into_parts();
            if let Some(e) = not_acme(&parts, &body) {
                return Err(instant_acme::Error::Other(Box::new(e)));
            }
            downloads.record(&url, &parts, &body);
            Ok(BytesResponse::from(Response::from_parts(
                parts,
                Full::new(body),
            )))
        })
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
