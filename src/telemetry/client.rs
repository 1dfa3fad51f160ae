//! The OTLP exporter's HTTP client: hyper and rustls (aws-lc-rs), the stack dockside already
//! has, in place of the exporter's reqwest features (which would bring a second TLS stack).
//! The SDK's batch processor exports from a thread of its own without a tokio runtime, so the
//! exchange is spawned onto dockside's runtime and awaited from there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError};
use rustls::{ClientConfig, RootCertStore};

/// One export may take this long (the specification's `OTEL_EXPORTER_OTLP_TIMEOUT` default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// A collector's answer is a small protobuf; anything bigger is not read.
const MAX_ANSWER: usize = 64 * 1024;

/// Sends OTLP export requests; `Debug` because the exporter's trait asks for it.
#[derive(Debug)]
pub struct ExportClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
    /// The last export failed: the next failure is logged at debug level only, so an absent
    /// collector costs one warning, not one per batch.
    failing: Arc<AtomicBool>,
}

impl ExportClient {
    /// HTTP or HTTPS (verified against the Mozilla roots of webpki-roots).
    pub fn new(runtime: tokio::runtime::Handle) -> Result<ExportClient, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(EXPORT_TIMEOUT));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(ExportClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            runtime,
            failing: Arc::default(),
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let uri = request.uri().clone();
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        // The timer too is made on the runtime: this thread has none.
        let sent = self
            .runtime
            .spawn(async move { tokio::time::timeout(EXPORT_TIMEOUT, exchange).await })
            .await;
        let result = match sent {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(format!("no answer within {}s", EXPORT_TIMEOUT.as_secs()).into()),
            Err(e) => Err(e.into()),
        };
        let failed = match &result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("the collector answered {}", r.status())),
            Err(e) => Some(crate::error_chain::chain(e.as_ref())),
        };
        match failed {
            None => self.failing.store(false, Ordering::Relaxed),
            Some(reason) if self.failing.swap(true, Ordering::Relaxed) => {
                tracing::debug!("OTLP export to {uri} failed again: {reason}");
            }
            Some(reason) => tracing::warn!(
                "OTLP export to {uri} failed: {reason}; spans are dropped until it succeeds (check OTEL_EXPORTER_OTLP_ENDPOINT)"
            ),
        }
        result
    }
}
