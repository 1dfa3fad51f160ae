//! The certificate side of startup: the directory watcher, ACME's reconciler, on-demand TLS,
//! `CREATE_DEFAULT_CERTIFICATE` and the `FILES_UID`/`FILES_GID` probe — one concept apart from
//! listeners, workers and providers.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::acme::{self, OnDemand, OnDemandParts, OnIssued, ReconcilerConfig, Stats};
use crate::certs;
use crate::config::Config;
use crate::discovery;
use crate::live::Live;
use crate::model::DesiredState;
use crate::store::{SharedStore, SyncTarget};

/// `FILES_UID`/`FILES_GID` that this process may not apply are dropped here, once, with the
/// fix in the warning: every later write then succeeds with dockside's own owner.
pub(super) fn probe_file_owner(config: &mut Config) {
    if config.cert_files.owner().is_none() {
        return;
    }
    let _ = std::fs::create_dir_all(&config.certs_dir);
    let (modes, warning) = config.cert_files.probe_owner(&config.certs_dir);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    config.cert_files = modes;
}

/// `CREATE_DEFAULT_CERTIFICATE`: once a day, regenerates ours when it expires within 90 days
/// (the watcher then picks the new pair up). Stops with the root token.
pub(super) fn spawn_default_certificate_check(config: &Config, shared: &Shared) {
    if !(config.create_default_certificate && shared.https) {
        return;
    }
    let (dir, modes) = (config.certs_dir.clone(), config.cert_files);
    let cancel = shared.cancel.child_token();
    shared.tracker.spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(86400));
        every.tick().await; // the first tick is now: startup already checked
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => {}
            }
            let (dir, modes) = (dir.clone(), modes);
            let _ =
                tokio::task::spawn_blocking(move || ensure_default_certificate(&dir, &modes)).await;
        }
    });
}

/// Creates or regenerates the default pair, logging what happened; never fatal.
pub(super) fn ensure_default_certificate(dir: &std::path::Path, modes: &certs::FileModes) {
    match certs::ensure_default(dir, modes) {
        Ok(certs::DefaultCert::Created) => {
            tracing::info!(dir = %dir.display(), "CREATE_DEFAULT_CERTIFICATE: wrote a self-signed default.crt/default.key")
        }
        Ok(certs::DefaultCert::Regenerated) => {
            tracing::info!(dir = %dir.display(), "CREATE_DEFAULT_CERTIFICATE: the generated default.crt expires within 90 days: replaced it")
        }
        Ok(certs::DefaultCert::Present) => {}
        Ok(certs::DefaultCert::Partial) => tracing::warn!(
            dir = %dir.display(),
            "CREATE_DEFAULT_CERTIFICATE: only one of default.crt/default.key exists; leaving both alone (remove the lone file to get a generated pair)"
        ),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "CREATE_DEFAULT_CERTIFICATE: cannot write default.crt/default.key")
        }
    }
}

/// ACME's counters, the on-demand TLS service, the handle `dockside renew` reaches the
/// reconciler through and the shared store (`--store`), each `None` when off.
pub(super) type Certificates = (
    Option<Arc<Stats>>,
    Option<Arc<OnDemand>>,
    Option<acme::Renewer>,
    Option<SharedStore>,
);

/// With HTTPS: the certificate directory watcher and, with ACME on, the reconciler and
/// on-demand TLS (`ON_DEMAND_TLS`).
pub(super) fn spawn_certificates(
    config: &Config,
    shared: &Shared,
    desired: &watch::Sender<Arc<DesiredState>>,
) -> anyhow::Result<Certificates> {
    if !shared.https {
        return Ok((None, None, None, None));
    }
    let rescan = spawn_cert_watcher(config, &shared.live, shared.cancel.child_token());
    let store = spawn_store_sync(config, shared, &rescan)?;
    let Some(globals) = &config.acme else {
        return Ok((None, None, None, store));
    };
    let nudge = rescan.clone();
    let on_issued: OnIssued = Arc::new(move |base: &str| nudge.now(base));
    let mut cfg = ReconcilerConfig::new(
        globals.clone(),
        config.certs_dir.clone(),
        shared.challenges.clone(),
        on_issued,
    );
    cfg.files = config.cert_files;
    cfg.shared = store.clone();
    cfg.restart = config
        .docker
        .as_ref()
        .map(|docker| discovery::spawn_restarter(docker.clone(), shared.cancel.child_token()));
    let (renewer, inbox) = acme::renew_channel();
    cfg.renew = Some(inbox);
    let stats = cfg.stats.clone();
    let on_demand = match &config.on_demand {
        Some(settings) => {
            let orders = acme::Orders::new(&cfg).context("starting ACME")?;
            cfg.orders = Some(orders.clone());
            let on_demand = spawn_on_demand(config, shared, settings, &cfg, orders, rescan);
            cfg.on_demand = Some(on_demand.names());
            Some(on_demand)
        }
        None => None,
    };
    acme::spawn(cfg, desired.subscribe(), shared.cancel.child_token()).context("starting ACME")?;
    Ok((Some(stats), on_demand, Some(renewer), store))
}

/// `--store`: the shared store, mirrored into the certificate directory (published at once
/// through the watcher) and the challenge map. Fails only on an unusable encryption key file.
fn spawn_store_sync(
    config: &Config,
    shared: &Shared,
    rescan: &certs::Rescan,
) -> anyhow::Result<Option<SharedStore>> {
    let Some(settings) = &config.store else {
        return Ok(None);
    };
    let store = SharedStore::new(settings).context("DOCKSIDE_STORE_ENCRYPTION_KEY_FILE")?;
    let nudge = rescan.clone();
    let target = SyncTarget {
        certs: certs::CertsDir::new(config.certs_dir.clone()).with_modes(config.cert_files),
        publish: Arc::new(move |base: &str| nudge.now(base)),
        answers: shared.challenges.clone(),
    };
    store.spawn_sync(target, shared.cancel.child_token());
    tracing::info!(
        store = %settings.endpoints.join(","), replica = %settings.replica, prefix = %settings.prefix,
        "sharing certificates, ACME accounts and challenge answers with the other replicas through etcd"
    );
    Ok(Some(store))
}

/// On-demand TLS over the reconciler's settings, counters, issuer and order budgets
/// (`cfg.orders`), publishing through the certificate watcher.
fn spawn_on_demand(
    config: &Config,
    shared: &Shared,
    settings: &acme::OnDemandSettings,
    cfg: &ReconcilerConfig,
    orders: acme::Orders,
    rescan: certs::Rescan,
) -> Arc<OnDemand> {
    let parts = OnDemandParts {
        globals: cfg.globals.clone(),
        orders,
        rescan,
        stats: cfg.stats.clone(),
        order_timeout: cfg.order_timeout,
        cancel: shared.cancel.child_token(),
    };
    let on_demand = OnDemand::new(settings.clone(), parts);
    shared.live.enable_on_demand();
    match &config.defaults.default_host {
        Some(host) => {
            tracing::info!(ask = %settings.ask_redacted(), default_host = %host, "on-demand TLS is on: names no site serves get certificates during their first handshake and are served by the DEFAULT_HOST site")
        }
        None => {
            tracing::warn!(ask = %settings.ask_redacted(), "on-demand TLS is on but DEFAULT_HOST is not set: its names get certificates, and then 503 (set DEFAULT_HOST to the site that serves them)")
        }
    }
    on_demand
}

/// Keeps the live snapshot's certificates current; the handle lets ACME publish a new one at once.
fn spawn_cert_watcher(
    config: &Config,
    live: &Arc<Live>,
    cancel: CancellationToken,
) -> certs::Rescan {
    let first = live.load().certs().clone();
    let live = live.clone();
    let publish = move |map| live.set_certs(map);
    certs::spawn_watcher(config.certs_dir.clone(), first, publish, cancel)
}
