//! Providers of `SourceItem`s (the Docker engine, the static routes file) and the combiner
//! that turns all of them into one published `DesiredState`, only when it changed.
//!
//! Docker: `container` (our `ContainerInfo` and the pure §1.6.3 mapping), `own` (which
//! container's networks count), `endpoint` (settings, endpoint, errors), `docker` (the only
//! bollard user), `restart` (`ACME_RESTART_CONTAINER`'s queue), `service` (our `ServiceInfo` for Swarm
//! services and their mapping) and `watch` (the level-triggered loop behind [`spawn`]). Routes file: `file`.

mod container;
mod docker;
mod endpoint;
pub(crate) mod file;
pub(crate) mod nginx_files;
mod own;
mod restart;
mod service;
mod standalone;
mod status;
mod watch;

pub use docker::EngineVersion;
pub use endpoint::{DockerError, DockerSettings, Endpoint};
pub use restart::spawn_restarter;
pub(crate) use status::unix_now;
pub use status::{DockerView, ProviderStatus, ProviderView, Reloads};
pub(crate) use watch::describe;
pub use watch::{probe, snapshot, spawn, spawn_observed};

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::future::select_all;
use tokio::sync::watch::{Receiver, Sender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::{DesiredState, Severity, SourceItem};
use crate::settings::nginx::NginxFiles;

/// Whether a watcher's event may mean the watched files changed. Opening or reading a file is an
/// event too (notify's inotify mask has `IN_OPEN`): counted as a change, a provider's own read
/// would wake it again, and again — the routes file was re-read about 30 times a second. An
/// error (e.g. an inotify queue overflow) may hide a change, so it counts as one.
pub(crate) fn is_change(event: &notify::Result<notify::Event>) -> bool {
    event.as_ref().map_or(true, |e| !e.kind.is_access())
}

/// Rebuilds the desired state whenever any provider publishes, and publishes it only when it
/// differs from the last one. New warnings are logged once, not on every rebuild. The
/// `Merger` keeps what no changed item touches, so one changed container costs its own sites.
pub(crate) fn spawn_combiner(
    mut inputs: Vec<Receiver<Vec<SourceItem>>>,
    mut files: Receiver<Arc<NginxFiles>>,
    out: Sender<Arc<DesiredState>>,
    token: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut logged = BTreeSet::new();
        // A provider that ended (its sender dropped) keeps its last items; only its updates stop.
        let mut live: Vec<usize> = (0..inputs.len()).collect();
        let mut files_live = true;
        let mut merger = crate::settings::Merger::default();
        loop {
            let items: Vec<SourceItem> = inputs
                .iter_mut()
                .flat_map(|rx| rx.borrow_and_update().clone())
                .collect();
            let nginx = files.borrow_and_update().clone();
            let state = merger.build(items, &nginx);
            logged = log_new(&state, logged);
            out.send_if_modified(|current| {
                let differs = **current != state;
                if differs {
                    *current = Arc::new(state);
                }
                differs
            });
            if live.is_empty() && !files_live {
                token.cancelled().await;
                return;
            }
            let changed = async {
                if live.is_empty() {
                    return std::future::pending().await;
                }
                select_all(live.iter().map(|&i| {
                    let mut rx = inputs[i].clone();
                    Box::pin(async move { rx.changed().await })
                }))
                .await
            };
            let ended = tokio::select! {
                _ = token.cancelled() => return,
                (result, index, _) = changed => result.is_err().then_some(index),
                result = files.changed(), if files_live => {
                    files_live = result.is_ok();
                    None
                }
            };
            if let Some(index) = ended {
                live.remove(index);
            }
        }
    })
}

fn log_new(state: &DesiredState, before: BTreeSet<(String, String)>) -> BTreeSet<(String, String)> {
    let now: BTreeSet<_> = state
        .skipped
        .iter()
        .map(|s| (s.source.clone(), s.reason.clone()))
        .collect();
    for s in state
        .skipped
        .iter()
        .filter(|s| !before.contains(&(s.source.clone(), s.reason.clone())))
    {
        match s.severity {
            Severity::Warning => tracing::warn!(source = %s.source, "{}", s.reason),
            Severity::Info => tracing::debug!(source = %s.source, "{}", s.reason),
        }
    }
    now
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
