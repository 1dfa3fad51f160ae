//! What the providers have been doing, for the admin dashboard, `/api/…` and `/metrics`: the
//! Docker engine connection, events seen, the last full sync, and how reloads of the routes file
//! and nginx-proxy's files went. Written by the provider tasks (never by a request), read at
//! scrape time; a plain mutex is enough at that rate.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Shared by the provider tasks and the admin listener; one per running dockside.
#[derive(Debug, Default)]
pub struct ProviderStatus {
    inner: Mutex<ProviderView>,
}

/// A copy of [`ProviderStatus`] at one moment: plain values the admin model is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderView {
    /// `None` while Docker discovery is off.
    pub docker: Option<DockerView>,
    /// Routes-file reads that were published (`ok`) or kept the last good routes (`failed`).
    pub routes_reloads: Reloads,
    /// Reads of nginx-proxy's folders (`vhost.d`, `htpasswd`, `conf.d`, `html/errors`) that changed them.
    pub nginx_files_reloads: Reloads,
    /// The routes file's last error, cleared by the next good read.
    pub routes_error: Option<String>,
}

/// Reload outcomes, counted since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloads {
    pub ok: u64,
    pub failed: u64,
}

/// The Docker provider's connection, as the watch loop last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerView {
    /// `DOCKER_HOST`, or the socket tried by default.
    pub endpoint: String,
    pub connected: bool,
    /// Why the last connection ended or failed; kept after a reconnect until the next failure.
    pub last_error: Option<String>,
    /// Engine events received since start.
    pub events_seen: u64,
    /// Unix seconds of the last full list + inspect.
    pub last_full_sync: Option<i64>,
    /// Containers in the last list (dockside's own excluded).
    pub containers: usize,
    /// Connection attempts that failed, since start.
    pub reconnects: u64,
}

impl ProviderStatus {
    /// A copy for one page or scrape.
    pub fn view(&self) -> ProviderView {
        self.lock().clone()
    }

    pub(crate) fn docker_watching(&self, endpoint: &str) {
        let mut s = self.lock();
        let docker = s.docker.get_or_insert_with(DockerView::default);
        docker.endpoint = endpoint.to_owned();
    }

    pub(crate) fn docker_connected(&self, connected: bool, error: Option<String>) {
        let mut s = self.lock();
        let docker = s.docker.get_or_insert_with(DockerView::default);
        docker.connected = connected;
        if let Some(e) = error {
            docker.last_error = Some(e);
            docker.reconnects += 1;
        }
    }

    pub(crate) fn docker_events(&self, n: u64) {
        if let Some(d) = self.lock().docker.as_mut() {
            d.events_seen += n;
        }
    }

    pub(crate) fn docker_synced(&self, containers: usize) {
        if let Some(d) = self.lock().docker.as_mut() {
            d.last_full_sync = Some(unix_now());
            d.containers = containers;
        }
    }

    pub(crate) fn routes_reloaded(&self, error: Option<String>) {
        let mut s = self.lock();
        match error {
            None => s.routes_reloads.ok += 1,
            Some(_) => s.routes_reloads.failed += 1,
        }
        s.routes_error = error;
    }

    pub(crate) fn nginx_files_reloaded(&self) {
        self.lock().nginx_files_reloads.ok += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProviderView> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Seconds since the epoch (0 on a clock before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
