//! Keeps the certificate map current: inotify (`notify`) on the certificate directory
//! (recursively, for acme-companion's `<base>/` folders) and on directories symlinks point into,
//! debounced, plus a periodic rescan in case an event is missed (NFS, overlay quirks, a full
//! inotify queue). Events are level-triggered: any event only means "rescan"; a new map is
//! published only when it differs from the last one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::store::{CertMap, SETTLE};
use crate::tls::TlsState;

/// How long the directory must be quiet before a rescan (a renewal writes several files).
const DEBOUNCE: Duration = Duration::from_millis(150);
/// The safety-net rescan period.
const RESCAN: Duration = Duration::from_secs(30);

/// Scans `dir` once (blocking): the map to give [`TlsState::new`] at start.
pub fn load_initial(dir: &Path) -> Arc<CertMap> {
    Arc::new(CertMap::scan(dir, &CertMap::default()).0)
}

/// Starts the watcher task. The inotify watches are in place when this returns (so a test or
/// the ACME reconciler may write right away); the task rescans once at start, then on events
/// (within `DEBOUNCE` plus one scan, well under 2 s) and every `RESCAN`. It stops when `cancel`
/// fires. Must be called inside a tokio runtime.
pub fn spawn_watcher(
    dir: PathBuf,
    state: Arc<TlsState>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
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
    let mut previous = state.load().certs().as_ref().clone();
    if let Some(w) = watcher.as_mut() {
        watch_dirs(w, &dir, &previous, &mut watched);
    }
    tokio::spawn(async move {
        let mut published = previous.clone();
        let mut tick = tokio::time::interval(RESCAN);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    tokio::time::sleep(DEBOUNCE).await;
                    while rx.try_recv().is_ok() {}
                }
                _ = tick.tick() => {}
                () = settle => {}
            }
            let scan_dir = dir.clone();
            let prev = previous.clone();
            let Ok((map, _errors)) =
                tokio::task::spawn_blocking(move || CertMap::scan(&scan_dir, &prev)).await
            else {
                continue;
            };
            if map != published {
                tracing::info!(dir = %dir.display(), certificates = map.entries().count(), "certificate map updated");
                state.set_certs(Arc::new(map.clone()));
                published = map.clone();
            }
            previous = map;
        }
    })
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
