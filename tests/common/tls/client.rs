//! A tokio-rustls client that records what the server presented (leaf CN, ALPN, version,
//! resumption). It accepts any certificate: the tests check *which* one was served; curl does
//! the real verification against the test CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, HandshakeKind, SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one connection saw.
#[derive(Debug)]
pub struct Seen {
    /// Common name of the leaf certificate.
    pub cn: String,
    pub alpn: Option<Vec<u8>>,
    pub version: rustls::ProtocolVersion,
    pub resumed: bool,
    /// The response to `GET /` (HTTP/1.1 only; empty otherwise).
    pub body: String,
}

/// A client config reused across connections. Resumption is off unless asked for: a resumed
/// session reports the certificate of the original handshake, not the one served now.
#[derive(Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
}

impl Client {
    /// TLS 1.2 + 1.3, ALPN `http/1.1`, full handshakes only.
    pub fn new() -> Client {
        Client::with(
            &[b"http/1.1"],
            &[&rustls::version::TLS13, &rustls::version::TLS12],
        )
    }

    /// Like `with`, but keeps session tickets/IDs and resumes with them.
    pub fn resuming(versions: &[&'static rustls::SupportedProtocolVersion]) -> Client {
        let mut client = Client::with(&[b"http/1.1"], versions);
        let config = Arc::make_mut(&mut client.config);
        config.resumption = rustls::client::Resumption::in_memory_sessions(64);
        client
    }

    pub fn with(alpn: &[&[u8]], versions: &[&'static rustls::SupportedProtocolVersion]) -> Client {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.resumption = rustls::client::Resumption::disabled();
        Client {
            config: Arc::new(config),
        }
    }

    /// The config, for clients that add to it (`mtls`: a client certificate).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// Polls fresh handshakes with `sni` (every 50 ms, for at most `limit`) until the leaf's
    /// common name is `cn`; returns the time that took, `None` if it never happened.
    pub async fn serves_within(
        &self,
        addr: SocketAddr,
        sni: &str,
        cn: &str,
        limit: Duration,
    ) -> Option<Duration> {
        super::within(limit, || async {
            self.get(addr, sni).await.is_ok_and(|s| s.cn == cn)
        })
        .await
    }

    /// Connects with `sni`; sends `GET /` when `http/1.1` was negotiated.
    pub async fn get(&self, addr: SocketAddr, sni: &str) -> std::io::Result<Seen> {
        self.get_after(addr, &[], sni).await
    }

    /// As `get`, with `preamble` (a PROXY protocol header) written before the ClientHello.
    pub async fn get_after(
        &self,
        addr: SocketAddr,
        preamble: &[u8],
        sni: &str,
    ) -> std::io::Result<Seen> {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.write_all(preamble).await?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let name = ServerName::try_from(sni.to_owned()).unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let (_, conn) = tls.get_ref();
        let leaf = conn.peer_certificates().unwrap()[0].clone();
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let version = conn.protocol_version().unwrap();
        let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
        let mut body = String::new();
        if alpn.as_deref() == Some(b"http/1.1") {
            let req = format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
            tls.write_all(req.as_bytes()).await?;
            tls.read_to_string(&mut body).await?;
        }
        Ok(Seen {
            cn: common_name(&leaf),
            alpn,
            version,
            resumed,
            body,
        })
    }
}

/// The alert a failed handshake received, if that is why it failed.
pub fn alert(err: &std::io::Error) -> Option<AlertDescription> {
    match err.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

pub fn common_name(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_owned()
}

#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        acme_tolerant(rustls::crypto::verify_tls12_signature(
            message, cert, dss, algs,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        acme_tolerant(rustls::crypto::verify_tls13_signature(
            message, cert, dss, algs,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// webpki refuses to parse a TLS-ALPN-01 validation certificate (critical acmeIdentifier
/// extension) even to check a signature; ACME validators accept it, so this client does too.
fn acme_tolerant(
    result: Result<HandshakeSignatureValid, rustls::Error>,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    match result {
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(e)))
            if format!("{e:?}").contains("UnsupportedCriticalExtension") =>
        {
            Ok(HandshakeSignatureValid::assertion())
        }
        other => other,
    }
}
