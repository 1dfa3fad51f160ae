//! The `ResolvesServerCert` every SSL_POLICY config shares, reading the live snapshot.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::live::{Decision, Live};

/// The `ResolvesServerCert` shared by every policy config: it re-decides from the current table,
/// so a certificate swapped on disk is served to the next handshake without touching configs.
#[derive(Debug)]
pub struct CertResolver {
    state: Arc<Live>,
}

impl CertResolver {
    /// A resolver reading `state`; `TlsAcceptor::new` makes the one all configs share.
    pub fn new(state: Arc<Live>) -> CertResolver {
        CertResolver { state }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.state.load().decide(hello.server_name()) {
            Decision::Serve { cert, .. } => Some(cert.key.clone()),
            Decision::Refuse => None,
        }
    }
}
