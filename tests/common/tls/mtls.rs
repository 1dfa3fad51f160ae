//! Client certificates (mTLS): CAs that sign client certificates and CRLs (rcgen), written as
//! PEM files for curl and openssl, and a tokio-rustls client that presents one and records
//! whether the server asked for it (a CertificateRequest) and with which CA names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA for client certificates.
pub struct ClientCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    /// The CA certificate, PEM: what `<host>.ca.crt` / `ca.crt` hold.
    pub pem: String,
}

/// A client certificate and key, as files (curl, openssl) and DER (rustls).
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl ClientCa {
    /// A CA whose common name is `cn` (it appears in CertificateRequest hints).
    pub fn new(cn: &str) -> ClientCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let pem = params.self_signed(&key).unwrap().pem();
        ClientCa { params, key, pem }
    }

    /// A client certificate (CN `cn`, serial `serial`, clientAuth EKU) written to
    /// `<dir>/<cn>.pem` and `<dir>/<cn>.key`; `expired` puts its validity in 2001.
    pub fn client(&self, dir: &Path, cn: &str, serial: u64, expired: bool) -> ClientCert {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.serial_number = Some(serial.into());
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let (cert_path, key_path) = (dir.join(format!("{cn}.pem")), dir.join(format!("{cn}.key")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        ClientCert {
            cert: cert_path,
            key: key_path,
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A CRL (PEM) revoking `serials`, valid from 2020 to 2100.
    pub fn crl(&self, serials: &[u64]) -> String {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2020, 1, 1),
            next_update: rcgen::date_time_ymd(2100, 1, 1),
            crl_number: 1u64.into(),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: (*serial).into(),
                    revocation_time: rcgen::date_time_ymd(2020, 1, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.signed_by(&issuer).unwrap().pem().unwrap()
    }
}

impl ClientCert {
    /// curl's `--cert … --key …`.
    pub fn curl_args(&self) -> Vec<String> {
        vec![
            "--cert".into(),
            self.cert.display().to_string(),
            "--key".into(),
            self.key.display().to_string(),
        ]
    }

    fn certified_key(&self) -> Arc<CertifiedKey> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = PrivateKeyDer::try_from(self.key_der.clone()).unwrap();
        let signer = provider.key_provider.load_private_key(key).unwrap();
        Arc::new(CertifiedKey::new(vec![self.der.clone()], signer))
    }
}

/// What a rustls client saw on one request.
#[derive(Debug)]
pub struct Asked {
    /// `None`: the server sent no CertificateRequest. Otherwise the CA names it listed (DER).
    pub hints: Option<Vec<Vec<u8>>>,
    /// Whether the session was resumed (no CertificateRequest is sent then).
    pub resumed: bool,
    /// The HTTP response (status line, headers, body) to `GET /` with `Host: <sni>`.
    pub response: String,
}

impl Asked {
    /// Whether the hints name a CA with this common name.
    pub fn names(&self, cn: &str) -> bool {
        self.hints
            .iter()
            .flatten()
            .any(|dn| dn.windows(cn.len()).any(|w| w == cn.as_bytes()))
    }
}

/// A rustls client that offers a client certificate when asked. The server's certificate is
/// not checked (curl does that in the other tests).
pub struct MtlsClient {
    config: Arc<ClientConfig>,
    resolver: Arc<Recording>,
}

impl MtlsClient {
    /// `cert` (or none) over `versions`; `resuming` keeps sessions and resumes with them.
    pub fn new(
        cert: Option<&ClientCert>,
        versions: &[&'static rustls::SupportedProtocolVersion],
        resuming: bool,
    ) -> MtlsClient {
        let resolver = Arc::new(Recording {
            key: cert.map(ClientCert::certified_key),
            asked: Mutex::new(None),
        });
        let base = if resuming {
            super::client::Client::resuming(versions)
        } else {
            super::client::Client::with(&[b"http/1.1"], versions)
        };
        let mut config: ClientConfig = (*base.config()).clone();
        config.client_auth_cert_resolver = resolver.clone();
        MtlsClient {
            config: Arc::new(config),
            resolver,
        }
    }

    /// Connects to `addr` with `sni` and sends `GET /`.
    pub async fn get(&self, addr: SocketAddr, sni: &str) -> std::io::Result<Asked> {
        self.resolver.asked.lock().unwrap().take();
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = ServerName::try_from(sni.to_owned()).unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let req = format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
        tls.write_all(req.as_bytes()).await?;
        let mut response = String::new();
        tls.read_to_string(&mut response).await?;
        let hints = self.resolver.asked.lock().unwrap().take();
        Ok(Asked {
            hints,
            resumed,
            response,
        })
    }
}

/// One full handshake to `addr` with `sni`, offering `cert` if asked, and `GET /`.
pub async fn request(
    addr: SocketAddr,
    sni: &str,
    cert: Option<&ClientCert>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<Asked> {
    MtlsClient::new(cert, versions, false).get(addr, sni).await
}

/// Presents `key` (or no certificate) and records the CertificateRequest's CA names.
#[derive(Debug)]
struct Recording {
    key: Option<Arc<CertifiedKey>>,
    asked: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ResolvesClientCert for Recording {
    fn resolve(&self, hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        *self.asked.lock().unwrap() = Some(hints.iter().map(|h| h.to_vec()).collect());
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}
