//! Keeps the certificate map current: inotify (`notify`) on the certificate directory
//! (recursively, for acme-companion's `<base>/` folders) and on directories symlinks point into,
//! debounced, plus a periodic rescan in case an event is missed (NFS, overlay quirks, a full
//! inotify queue), plus a [`Rescan`] on request. Events are level-triggered: any event only means
//! "rescan"; a new map is published only when it differs from the last one. Scans run on the
//! blocking pool, never on the task that asked for one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::store::{CertMap, SETTLE};

/// How long the directory must be quiet before a rescan (a renewal writes several files).
const DEBOUNCE: Duration = Duration::from_millis(150);
/// The safety-net rescan period.
const RESCAN: Duration = Duration::from_secs(30);

/// How many [`Rescan::now`] requests may wait; past that a rescan is already pending anyway.
const REQUESTS: usize = 16;

/// Scans `dir` once (blocking): the first map, before anything is served.
pub fn load_initial(dir: &Path) -> Arc<CertMap> {
    Arc::new(CertMap::scan(dir, &CertMap::default()).0)
}

/// Asks the watcher to scan at once, without waiting for inotify or the debounce: the ACME
/// reconciler calls it right after writing a certificate, so the new certificate is served
/// within one scan while the reconciler's own task never reads the directory.
#[derive(Debug, Clone)]
pub struct Rescan {
    requests: mpsc::Sender<Request>,
}

/// A certificate just written, and who waits for it to be live.
type Request = (String, Option<oneshot::Sender<()>>);

impl Rescan {
    /// Requests a scan for the certificate just written to `<base>/`; returns at once. The
    /// watcher logs `certificate written and live` once the scan is published. A full queue
    /// means scans are already pending that will see this write: only that log line is lost.
    pub fn now(&self, base: &str) {
        let _ = self.requests.try_send((base.to_owned(), None));
    }

    /// As `now`, but returns once a scan that started after this call has been published: a
    /// handshake waiting for an on-demand certificate goes on only when it is served. Returns
    /// early if the watcher has stopped.
    pub async fn live(&self, base: &str) {
        let (done, wait) = oneshot::channel();
        if self
            .requests
            .send((base.to_owned(), Some(done)))
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
    }
}

/// Starts the watcher task over `first` (the map already published); every changed map goes to
/// `publish`. The inotify watches are in place when this returns (so a test or the ACME
/// reconciler may write right away); the task rescans once at start, then on events (within
/// `DEBOUNCE` plus one scan, well under 2 s), on [`Rescan::now`] and every `RESCAN`. It stops
/// when `cancel` fires. Must be called inside a tokio runtime.
pub fn spawn_watcher(
    dir: PathBuf,
    first: Arc<CertMap>,
    publish: impl Fn(Arc<CertMap>) + Send + 'static,
    cancel: CancellationToken,
) -> Rescan {
    let (requests, mut requested) = mpsc::channel::<Request>(REQUESTS);
    // Capacity 1: a pending wake-up already means "rescan", more would be redundant.
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let handler = move |event: notify::Result<notify::Event>| {
        // An error (e.g. inotify queue overflow) may hide changes: rescan then too.
        if event.map_or(true, |e| !e.kind.is_access()) {
            let _ = tx.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => Some(w),
        Err(err) => {
            tracing::warn!(dir = %dir.display(), "cannot watch certificates ({err}); rescanning every {RESCAN:?}");
            None
        }
    };
    let mut watched = BTreeSet::new();
    // Shared, never copied: a map of 10,000 certificates is not cloned per scan.
    let mut previous = first;
    if let Some(w) = watcher.as_mut() {
        watch_dirs(w, &dir, &previous, &mut watched);
    }
    tokio::spawn(async move {
        let mut published = previous.clone();
        let mut tick = tokio::time::interval(RESCAN);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut written = Vec::new();
        loop {
            if let Some(w) = watcher.as_mut() {
                watch_dirs(w, &dir, &previous, &mut watched);
            }
            // A pair caught mid-write is looked at again once it has settled.
            let settle = async {
                if previous.is_unsettled() {
                    tokio::time::sleep(SETTLE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                Some(()) = rx.recv() => {
                    // A writer asking for a scan is done writing: no need to wait any longer
                    // (an on-demand handshake waits for this scan).
                    tokio::select! {
                        () = tokio::time::sleep(DEBOUNCE) => {}
                        Some(request) = requested.recv() => written.push(request),
                    }
                    while rx.try_recv().is_ok() {}
                }
                Some(base) = requested.recv() => {
                    written.push(base);
                    while let Ok(base) = requested.try_recv() {
                        written.push(base);
                    }
                }
                _ = tick.tick() => {}
                () = settle => {}
            }
            let scan_dir = dir.clone();
            let prev = previous.clone();
            let started = std::time::Instant::now();
            let Ok((map, _errors)) =
                tokio::task::spawn_blocking(move || CertMap::scan(&scan_dir, &prev)).await
            else {
                continue;
            };
            let scan_ms = started.elapsed().as_secs_f64() * 1000.0;
            let map = Arc::new(map);
            if map != published {
                tracing::info!(dir = %dir.display(), certificates = map.entries().count(), scan_ms, "certificate map updated");
                publish(map.clone());
                published = map.clone();
            }
            for (base, done) in written.drain(..) {
                tracing::info!(certificate = base, "certificate written and live");
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            previous = map;
        }
    });
    Rescan { requests }
}

/// Adds watches for the store itself and every directory a symlink points into. Failures are
/// retried at the next scan (the directory may not exist yet).
fn watch_dirs(
    watcher: &mut notify::RecommendedWatcher,
    dir: &Path,
    map: &CertMap,
    watched: &mut BTreeSet<PathBuf>,
) {
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    if !watched.contains(&root) && watcher.watch(dir, RecursiveMode::Recursive).is_ok() {
        watched.insert(root.clone());
    }
    for link_dir in &map.link_dirs {
        if !link_dir.starts_with(&root)
            && !watched.contains(link_dir)
            && watcher.watch(link_dir, RecursiveMode::NonRecursive).is_ok()
        {
            watched.insert(link_dir.clone());
        }
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
