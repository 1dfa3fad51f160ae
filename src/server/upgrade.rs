//! A client connection after a `101 Switching Protocols` (WebSocket): both upgraded
//! connections spliced together in a task that still counts as the client's connection — it
//! keeps its `DOCKSIDE_MAX_CONNECTIONS` permit, runs in the task tracker that shutdown drains,
//! ends on shutdown, and is closed when no byte moved either way for the upstream timeout
//! (nginx's `proxy_read_timeout`, 60 s, which bounds a proxied WebSocket the same way).

use std::sync::Arc;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::idle::{Activity, Tracked};

/// The client's side of a requested upgrade, with what the spliced connection must keep.
pub(super) struct ClientUpgrade {
    pub(super) on: OnUpgrade,
    pub(super) permit: Option<Arc<OwnedSemaphorePermit>>,
    pub(super) tracker: TaskTracker,
    pub(super) shutdown: CancellationToken,
    pub(super) idle: Duration,
}

impl ClientUpgrade {
    /// Once both sides have switched, copies bytes both ways until either side closes, the
    /// connection is idle for `idle`, or shutdown.
    pub(super) fn spawn_splice(self, upstream: OnUpgrade) {
        let tracker = self.tracker.clone();
        tracker.spawn(self.splice(upstream));
    }

    async fn splice(self, upstream: OnUpgrade) {
        let _permit = self.permit;
        let (client, upstream) = match tokio::try_join!(self.on, upstream) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!("upgrade failed: {e}");
                return;
            }
        };
        // One request "in flight" for the connection's life: only the idle timeout applies.
        let activity = Activity::new();
        let _open = activity.request_started(false, None);
        let mut client = Tracked::new(TokioIo::new(client), activity.clone());
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(e) = copied {
                    tracing::debug!("upgraded connection ended: {e}");
                }
            }
            _ = activity.expired(self.idle, self.idle) => {
                tracing::debug!("upgraded connection idle for {}s; closing", self.idle.as_secs());
            }
            _ = self.shutdown.cancelled() => {}
        }
    }
}
