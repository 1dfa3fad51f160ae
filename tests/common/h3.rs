//! A real HTTP/3 client for tests: quinn + h3 + h3-quinn on rustls with aws-lc-rs (the same
//! stack as dockside's server side), trusting the test CA, connecting to dockside's UDP port
//! with a chosen SNI.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request, Response};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Streams of one request, as h3's client gives them.
pub type Stream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// A client endpoint on 127.0.0.1:0 trusting one CA.
pub struct H3Client {
    endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
}

/// One HTTP/3 connection.
pub struct H3Conn {
    pub quic: quinn::Connection,
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for H3Conn {
    fn drop(&mut self) {
        self.quic.close(0u32.into(), b"");
        self.driver.abort();
    }
}

impl H3Client {
    /// A client on 127.0.0.1 trusting the CA in `ca` (PEM).
    pub fn new(ca: &Path) -> H3Client {
        H3Client::bound(ca, "127.0.0.1:0")
    }

    /// A client on the IPv6 loopback (`[::1]:0`), for `ENABLE_IPV6` twins.
    pub fn ipv6(ca: &Path) -> H3Client {
        H3Client::bound(ca, "[::1]:0")
    }

    /// A client on 127.0.0.1 that PINGs every `every` (QUIC keep-alive): it never idles out
    /// at the transport level.
    pub fn pinging(ca: &Path, every: Duration) -> H3Client {
        let mut client = H3Client::bound(ca, "127.0.0.1:0");
        let mut transport = quinn::TransportConfig::default();
        transport.max_idle_timeout(Some(Duration::from_secs(30).try_into().unwrap()));
        transport.keep_alive_interval(Some(every));
        client.config.transport_config(Arc::new(transport));
        client
    }

    fn bound(ca: &Path, local: &str) -> H3Client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        // Full handshakes only: a resumed session shows the certificate of its first handshake.
        tls.resumption = rustls::client::Resumption::disabled();
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport.max_idle_timeout(Some(Duration::from_secs(5).try_into().unwrap()));
        config.transport_config(Arc::new(transport));
        let endpoint = quinn::Endpoint::client(local.parse().unwrap()).unwrap();
        H3Client { endpoint, config }
    }

    /// Connects to `addr` with SNI `sni`; the error text says why the handshake failed.
    pub async fn connect(&self, addr: SocketAddr, sni: &str) -> Result<H3Conn, String> {
        let connecting = self
            .endpoint
            .connect_with(self.config.clone(), addr, sni)
            .map_err(|e| e.to_string())?;
        let quic = tokio::time::timeout(super::WAIT, connecting)
            .await
            .map_err(|_| "QUIC handshake timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(quic.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(H3Conn { quic, send, driver })
    }

    /// Sends a connection's first Initial to `addr` and returns without waiting for the
    /// handshake (keep the value: dropping it abandons the attempt).
    pub fn start_handshake(&self, addr: SocketAddr, sni: &str) -> quinn::Connecting {
        self.endpoint
            .connect_with(self.config.clone(), addr, sni)
            .unwrap()
    }

    /// Connects, retrying until `limit`: an endpoint bound when a site first asks for HTTP/3
    /// is ready a moment after the route table changed.
    pub async fn connect_within(&self, addr: SocketAddr, sni: &str, limit: Duration) -> H3Conn {
        let start = Instant::now();
        loop {
            let connecting = self
                .endpoint
                .connect_with(self.config.clone(), addr, sni)
                .unwrap();
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), connecting).await {
                return self.connect(addr, sni).await.unwrap();
            }
            assert!(
                start.elapsed() < limit,
                "no HTTP/3 on {addr} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl H3Conn {
    /// The leaf certificate the server presented.
    pub fn peer_leaf(&self) -> CertificateDer<'static> {
        let identity = self.quic.peer_identity().expect("server certificate");
        let chain = identity
            .downcast::<Vec<CertificateDer<'static>>>()
            .expect("a rustls certificate chain");
        chain[0].clone()
    }

    /// Starts a request to `https://{authority}{path}`; the body is sent by the caller.
    pub async fn start(&mut self, method: Method, authority: &str, path: &str) -> Stream {
        let req = Request::builder()
            .method(method)
            .uri(format!("https://{authority}{path}"))
            .body(())
            .unwrap();
        self.send(req).await
    }

    /// Starts `req` as it is (headers of the caller's choice).
    pub async fn send(&mut self, req: Request<()>) -> Stream {
        self.send.send_request(req).await.unwrap()
    }

    /// One whole exchange: `body` (if any) sent, the answer and its whole body read.
    pub async fn request(
        &mut self,
        method: Method,
        authority: &str,
        path: &str,
        body: Option<Bytes>,
    ) -> (Response<()>, Bytes) {
        let mut stream = self.start(method, authority, path).await;
        if let Some(body) = body {
            for chunk in body.chunks(64 * 1024) {
                stream
                    .send_data(Bytes::copy_from_slice(chunk))
                    .await
                    .unwrap();
            }
        }
        stream.finish().await.unwrap();
        let response = stream.recv_response().await.unwrap();
        let mut all = BytesMut::new();
        while let Some(mut chunk) = stream.recv_data().await.unwrap() {
            all.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
        }
        (response, all.freeze())
    }
}

/// The first certificate of a PEM file (a `<host>.crt` as dockside serves it).
pub fn leaf_of(crt: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(crt)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}
