//! Container restarts asked for by ACME (`ACME_RESTART_CONTAINER`): a bounded queue in front
//! of one task that talks to the engine, so the reconciler never waits on Docker.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::docker::Engine;
use super::endpoint::DockerSettings;
use crate::error_chain::chain;

/// Restarts queued beyond this are dropped with a warning (a burst of renewals at startup
/// restarts each container once anyway; more would be a loop).
const QUEUE: usize = 64;

/// Starts the restart task until `cancel`; the returned function queues a restart of the
/// container with that name (or id) and returns at once.
pub fn spawn_restarter(
    settings: DockerSettings,
    cancel: CancellationToken,
) -> Arc<dyn Fn(&str) + Send + Sync> {
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                () = cancel.cancelled() => return,
                name = rx.recv() => match name {
                    Some(name) => name,
                    None => return,
                },
            };
            let result = tokio::select! {
                () = cancel.cancelled() => return,
                r = restart(&settings, &name) => r,
            };
            match result {
                Ok(()) => {
                    tracing::info!(container = %name, "restarted the container (ACME_RESTART_CONTAINER)")
                }
                Err(e) => {
                    tracing::warn!(container = %name, error = %chain(&e), "ACME_RESTART_CONTAINER: cannot restart the container")
                }
            }
        }
    });
    Arc::new(move |name: &str| {
        if tx.try_send(name.to_owned()).is_err() {
            tracing::warn!(container = %name, "ACME_RESTART_CONTAINER: too many restarts queued; not restarting");
        }
    })
}

/// Restarts are rare: a connection per restart keeps no idle engine session.
async fn restart(settings: &DockerSettings, name: &str) -> Result<(), super::DockerError> {
    Engine::connect(settings).await?.restart(name).await
}
