//! The process's open-file limit, raised once at start so `DOCKSIDE_MAX_CONNECTIONS` can be
//! reached: every proxied connection holds two descriptors (client and backend).
//!
//! Docker (since 25) starts containers with a soft limit of 1024 and a hard one of 524288,
//! systemd services likewise; a Rust program, unlike Go's runtime or nginx's
//! `worker_rlimit_nofile`, keeps the soft one. With 1024, a slowloris of ~1000 connections took
//! every descriptor: accepts failed (`EMFILE`) and real clients waited in the backlog until
//! slow ones timed out, far below the 10240 connections the limit promises
//! (`tests/hardening_exhaustion.rs`, slowloris).

use rustix::process::{Resource, getrlimit, setrlimit};

/// Descriptors kept for everything but client connections: listeners, certificate reads,
/// the Docker socket, log files, the runtime's own.
const RESERVED: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, and warns when even that cannot hold
/// `max_connections` proxied connections (a client and a backend descriptor each).
pub(super) fn raise_descriptor_limit(max_connections: usize) {
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        return; // unlimited: nothing to raise
    };
    let soft = if soft < hard {
        let raised = rustix::process::Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
                soft
            }
        }
    } else {
        soft
    };
    let needed = 2 * max_connections as u64 + RESERVED;
    if soft < needed {
        tracing::warn!(
            "the open-file limit ({soft}) holds about {} proxied connections, fewer than DOCKSIDE_MAX_CONNECTIONS={max_connections}: raise it (`ulimit -n {needed}`, `docker run --ulimit nofile={needed}`) or lower DOCKSIDE_MAX_CONNECTIONS",
            soft.saturating_sub(RESERVED) / 2
        );
    }
}
