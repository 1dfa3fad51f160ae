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
    /// The listener's extra port (`EXTERNAL_HTTPS_PORT`), `None` on the default one.
    extra: Option<u16>,
}

impl CertResolver {
    /// A resolver reading `state`; `TlsAcceptor::new` makes the one all configs share.
    pub fn new(state: Arc<Live>, extra: Option<u16>) -> CertResolver {
        CertResolver { state, extra }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let live = self.state.load();
        let decision = match live.decide(self.extra, hello.server_name()) {
            // The acceptor got here only after on-demand TLS refused the name (else the
            // certificate is live now): it served what it would serve without on-demand.
            Decision::OnDemand => live.decide_without_on_demand(self.extra, hello.server_name()),
            decision => decision,
        };
        match decision {
            Decision::Serve { cert, .. } => Some(cert.key.clone()),
            Decision::Refuse | Decision::OnDemand => None,
        }
    }
}
