//! Client certificates (mTLS, nginx-proxy's `ssl_verify_client`) in the handshake.
//!
//! nginx answers a missing or invalid client certificate with an HTTP 400, not a TLS alert, so
//! the handshake must not fail on it: a site with a CA file gets configs whose verifier *offers*
//! client authentication (listing the CA's names), never makes it mandatory, checks the
//! CertificateVerify signature (proof the client holds the key) and accepts any chain. After the
//! handshake [`judge`] verifies the chain against the CA and CRL (`certs::ClientCa`) and the HTTP
//! layer answers from that verdict. Judging after the handshake also covers resumption: a
//! resumed session's certificate is verified again, against the CA and CRL of now.
//!
//! Configs are built once per CA file contents, on the first handshake that needs them (4 per
//! CA: policy × HTTP/2), and dropped with the CA they belong to. Each CA's configs have their
//! own session cache and ticket keys, so a session from a site without client authentication
//! (or from another CA) is never resumed into one with it — nginx gets the same from a session
//! ID context per server. Sites without a CA file keep the shared configs untouched.

use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ResolvesServerCert, ServerSessionMemoryCache};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use super::policy::{self, Configs, Policy, Shared};
use crate::certs::{ClientCa, ClientCas};
use crate::model::VerifyClient;

/// Sessions kept per CA for ID-based resumption of client-authenticated connections.
const SESSION_CACHE: usize = 1024;

/// A site's client-certificate check: the CA file that applies and how strictly.
#[derive(Debug)]
pub struct ClientAuth {
    /// `on`, `optional` or `optional_no_ca` (`off` never makes a `ClientAuth`).
    pub mode: VerifyClient,
    pub ca: Arc<ClientCa>,
}

/// nginx-proxy §1.5: the site's `<VH>.ca.crt`, else the global `ca.crt`; none (and nothing is
/// asked of clients) without either, or with `ssl_verify_client` `off`.
pub fn select(mode: VerifyClient, vh: &str, cas: &ClientCas) -> Option<Arc<ClientAuth>> {
    if mode == VerifyClient::Off {
        return None;
    }
    let ca = cas.for_site(vh)?.clone();
    Some(Arc::new(ClientAuth { mode, ca }))
}

/// What the client's certificate turned out to be, for the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutcome {
    /// No certificate was sent (`$ssl_client_verify` `NONE`).
    None,
    /// Signed by the CA, in its validity window, not revoked. `subject` is the RFC 2253 DN.
    Verified { subject: String },
    /// `reason` in OpenSSL's words where nginx would show them (`FAILED:<reason>`).
    Failed {
        reason: String,
        subject: Option<String>,
    },
}

/// The verdict on a connection's client certificate under its site's mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientVerdict {
    pub mode: VerifyClient,
    pub outcome: ClientOutcome,
}

/// Why nginx refuses the request (400) under the site's `ssl_verify_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `on` and no certificate: "No required SSL certificate was sent".
    NoCertificate,
    /// `on` or `optional` and a certificate that failed: "The SSL certificate error".
    BadCertificate,
}

impl ClientVerdict {
    /// nginx's decision: `on` needs a valid certificate, `optional` refuses only an invalid one,
    /// `optional_no_ca` refuses nothing (the backend reads the verification result).
    pub fn refusal(&self) -> Option<Refusal> {
        match (&self.outcome, self.mode) {
            (ClientOutcome::None, VerifyClient::On) => Some(Refusal::NoCertificate),
            (ClientOutcome::Failed { .. }, VerifyClient::On | VerifyClient::Optional) => {
                Some(Refusal::BadCertificate)
            }
            _ => None,
        }
    }

    /// nginx's `$ssl_client_verify`: `SUCCESS`, `NONE` or `FAILED:<reason>`.
    pub fn verify_text(&self) -> String {
        match &self.outcome {
            ClientOutcome::None => "NONE".to_owned(),
            ClientOutcome::Verified { .. } => "SUCCESS".to_owned(),
            ClientOutcome::Failed { reason, .. } => format!("FAILED:{reason}"),
        }
    }

    /// nginx's `$ssl_client_s_dn` (empty when no certificate was sent).
    pub fn subject(&self) -> Option<&str> {
        match &self.outcome {
            ClientOutcome::None => None,
            ClientOutcome::Verified { subject } => Some(subject),
            ClientOutcome::Failed { subject, .. } => subject.as_deref(),
        }
    }
}

/// Verifies the chain a client presented (`None`: it sent none) for `auth`, at `now`.
pub fn judge(
    auth: &ClientAuth,
    chain: Option<&[CertificateDer<'_>]>,
    now: UnixTime,
) -> ClientVerdict {
    let outcome = match chain.filter(|c| !c.is_empty()) {
        None => ClientOutcome::None,
        Some(chain) => {
            let subject = crate::certs::subject_dn(&chain[0]);
            match auth.ca.verify(chain, now) {
                Some(Ok(())) => ClientOutcome::Verified {
                    subject: subject.unwrap_or_default(),
                },
                Some(Err(err)) => ClientOutcome::Failed {
                    reason: reason(&err),
                    subject,
                },
                None => ClientOutcome::Failed {
                    reason: "CA file unusable".to_owned(),
                    subject,
                },
            }
        }
    };
    ClientVerdict {
        mode: auth.mode,
        outcome,
    }
}

/// OpenSSL's texts for the failures users meet (nginx logs and exposes these).
fn reason(err: &rustls::Error) -> String {
    use rustls::CertificateError as E;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            E::Revoked => "certificate revoked".to_owned(),
            E::Expired | E::ExpiredContext { .. } => "certificate has expired".to_owned(),
            E::NotValidYet | E::NotValidYetContext { .. } => {
                "certificate is not yet valid".to_owned()
            }
            E::UnknownIssuer => "unable to get local issuer certificate".to_owned(),
            E::BadSignature => "certificate signature failure".to_owned(),
            E::UnknownRevocationStatus => "unable to get certificate CRL".to_owned(),
            E::ExpiredRevocationList | E::ExpiredRevocationListContext { .. } => {
                "CRL has expired".to_owned()
            }
            E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
                "unsupported certificate purpose".to_owned()
            }
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// Offers client authentication with the CA's names and checks only the handshake signature;
/// the chain is judged after the handshake ([`judge`]), so a bad one becomes nginx's 400.
#[derive(Debug)]
struct OfferVerifier {
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for OfferVerifier {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The configs of the CAs in use, built on first use and dropped with their CA.
pub struct ClientConfigs {
    resolver: Arc<dyn ResolvesServerCert>,
    built: ArcSwap<Vec<(Weak<ClientCa>, Configs)>>,
    /// Serializes builds, so two first handshakes do not build the same configs twice.
    building: Mutex<()>,
}

impl std::fmt::Debug for ClientConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfigs")
            .field("cas", &self.built.load().len())
            .finish_non_exhaustive()
    }
}

impl ClientConfigs {
    /// Configs over the same certificate resolver as the shared ones.
    pub fn new(resolver: Arc<dyn ResolvesServerCert>) -> ClientConfigs {
        ClientConfigs {
            resolver,
            built: ArcSwap::from_pointee(Vec::new()),
            building: Mutex::new(()),
        }
    }

    /// The config asking for a certificate signed by `ca`, for `policy` and ALPN.
    pub fn get(
        &self,
        ca: &Arc<ClientCa>,
        policy: Policy,
        h2: bool,
    ) -> Result<Arc<ServerConfig>, rustls::Error> {
        if let Some(configs) = find(&self.built.load(), ca) {
            return Ok(configs.get(policy, h2).clone());
        }
        let _guard = self.building.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.built.load_full();
        if let Some(configs) = find(&current, ca) {
            return Ok(configs.get(policy, h2).clone());
        }
        let configs = self.build(ca)?;
        let config = configs.get(policy, h2).clone();
        let mut next: Vec<_> = current
            .iter()
            .filter(|(weak, _)| weak.strong_count() > 0)
            .cloned()
            .collect();
        next.push((Arc::downgrade(ca), configs));
        self.built.store(Arc::new(next));
        Ok(config)
    }

    fn build(&self, ca: &ClientCa) -> Result<Configs, rustls::Error> {
        let algs = policy::provider(Policy::Intermediate).signature_verification_algorithms;
        let verifier = Arc::new(OfferVerifier {
            hints: ca.hints().to_vec(),
            algs,
        });
        let shared = Shared {
            resolver: self.resolver.clone(),
            sessions: ServerSessionMemoryCache::new(SESSION_CACHE),
            ticketer: rustls::crypto::aws_lc_rs::Ticketer::new()?,
        };
        Configs::with_client_auth(&shared, verifier)
    }
}

fn find<'a>(built: &'a [(Weak<ClientCa>, Configs)], ca: &Arc<ClientCa>) -> Option<&'a Configs> {
    built
        .iter()
        .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(ca)) && weak.strong_count() > 0)
        .map(|(_, configs)| configs)
}

#[cfg(test)]
#[path = "client_auth_tests.rs"]
mod tests;
