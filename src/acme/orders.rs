//! What every order of a dockside goes through, built once: one `Issuer` (its account lock
//! keeps a fresh volume from registering an account twice) and one order budget per account
//! (`ACME_MAX_ORDERS_PER_HOUR`). The reconciler and on-demand TLS share them.

use std::sync::Arc;

use crate::acme::budget::{self, Budgets};
use crate::acme::client::{AcmeHttp, ClientSetupError};
use crate::acme::options::ReconcilerConfig;
use crate::acme::order::Issuer;
use crate::certs::CertsDir;

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Orders {
    pub(crate) http: AcmeHttp,
    pub(crate) store: CertsDir,
    pub(crate) issuer: Arc<Issuer>,
    pub(crate) budgets: Budgets,
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders")
            .field("budgets", &self.budgets)
            .finish_non_exhaustive()
    }
}

impl Orders {
    /// Over `cfg`'s CA bundle, certificate directory, file modes and challenges. Fails only on
    /// a bad `CA_BUNDLE`.
    pub fn new(cfg: &ReconcilerConfig) -> Result<Orders, ClientSetupError> {
        let http = AcmeHttp::new(cfg.globals.ca_bundle.as_deref(), cfg.http_timeout)?;
        let store = CertsDir::new(cfg.certs_dir.clone()).with_modes(cfg.files);
        let issuer = Issuer::new(
            http.clone(),
            store.clone(),
            cfg.challenges.clone(),
            cfg.http_timeout,
        )
        .with_dns_propagation_max(cfg.dns_propagation_max)
        .with_shared(cfg.shared.clone());
        let per_hour = cfg
            .globals
            .max_orders_per_hour
            .unwrap_or(budget::DEFAULT_ORDERS_PER_HOUR);
        Ok(Orders {
            http,
            store,
            issuer: Arc::new(issuer),
            budgets: Budgets::new(per_hour),
        })
    }
}
