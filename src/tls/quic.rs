//! The TLS side of HTTP/3: one rustls `ServerConfig` for the QUIC endpoint, built once, whose
//! resolver reads the same live snapshot as the TCP handshake (`Snapshot::decide_h3`): the same
//! certificates, swapped on disk the same way, and the same SNI rules — an unknown name gets
//! `default.crt` or no certificate, which ends the handshake. QUIC requires TLS 1.3, so
//! `SSL_POLICY` has nothing to choose; ALPN is `h3` only. Sites asking for client certificates
//! are not offered here (their CA is chosen per SNI before the handshake, which QUIC's single
//! config cannot do), so they stay on TCP.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::policy::{self, Policy};
use crate::live::{Decision, Live};

/// ALPN of HTTP/3 (RFC 9114 §3.1).
pub const ALPN_H3: &[u8] = b"h3";

/// The QUIC endpoint's TLS config: TLS 1.3 with aws-lc-rs, ALPN `h3`, certificates from `live`.
pub fn quic_config(live: Arc<Live>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(policy::provider(Policy::Modern)))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(QuicResolver { live }));
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    // quinn accepts only 0 or u32::MAX here; 0-RTT requests could be replayed: off.
    config.max_early_data_size = 0;
    Ok(Arc::new(config))
}

/// Resolves a QUIC ClientHello's SNI against the current snapshot (HTTP/3 sites only).
#[derive(Debug)]
struct QuicResolver {
    live: Arc<Live>,
}

impl ResolvesServerCert for QuicResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        match self.live.load().decide_h3(sni.as_deref()) {
            Decision::Serve { cert, .. } => Some(cert.key.clone()),
            Decision::Refuse | Decision::OnDemand => None,
        }
    }
}
