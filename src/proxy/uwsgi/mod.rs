//! Forwarding to uWSGI backends (`VIRTUAL_PROTO=uwsgi`) over the uwsgi binary protocol, as
//! nginx's `uwsgi_pass` does: vars packet, body sized by `CONTENT_LENGTH`, raw HTTP response.
//!
//! The pure parts ([`codec`], [`vars`], [`framing`]) do no IO; `client` owns the socket and
//! `upload` decides whether the request body streams or is spooled first.

pub mod codec;
pub mod framing;
pub mod vars;

mod client;
mod upload;

use std::{path::PathBuf, time::Duration};

use http::{Request, Response};

pub use client::UwsgiBodyError;

use crate::config::Limits;
use crate::model::BackendAddr;
use crate::proxy::{body::ProxyBody, error::ProxyError, meta::RequestMeta};

/// A sensible in-memory spool bound: bodies of unknown length up to this size never touch disk.
pub const DEFAULT_SPOOL_MEMORY: usize = 1024 * 1024;

/// How uwsgi forwarding is bounded; built once from `Config` by the proxy service.
#[derive(Debug, Clone)]
pub struct UwsgiOptions {
    /// Longest wait for the TCP or unix connect (→ 502).
    pub connect_timeout: Duration,
    /// Longest wait for the response head after the body was sent, and between any two reads
    /// or writes afterwards (→ 504 before the head, an aborted body after it).
    pub read_timeout: Duration,
    /// Bytes of a body of unknown length kept in memory before spilling to `spool_dir`.
    pub spool_memory: usize,
    /// Where spill files are created (unlinked at once, so nothing is left behind on a crash).
    pub spool_dir: PathBuf,
}

impl UwsgiOptions {
    /// The options dockside runs with: `Limits::connect_timeout`, `Limits::upstream_timeout` as
    /// the read timeout, [`DEFAULT_SPOOL_MEMORY`], and spill files in `spool_dir` (which must
    /// exist and be writable; the system temp dir is a fine default).
    pub fn from_limits(limits: &Limits, spool_dir: PathBuf) -> Self {
        UwsgiOptions {
            connect_timeout: limits.connect_timeout,
            read_timeout: limits.upstream_timeout,
            spool_memory: DEFAULT_SPOOL_MEMORY,
            spool_dir,
        }
    }
}

/// Forwards `req` (headers already rewritten by the proxy) to the uWSGI backend at `addr`.
///
/// Errors before the response head map to a status through [`ProxyError`]; after it, the
/// returned body yields an [`UwsgiBodyError`] so the client sees an aborted response rather
/// than a truncated one.
pub async fn forward(
    req: Request<ProxyBody>,
    meta: &RequestMeta,
    addr: &BackendAddr,
    opts: &UwsgiOptions,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (parts, body) = req.into_parts();
    let upload = upload::prepare(
        &parts.headers,
        body,
        meta.body_limit,
        opts.spool_memory,
        &opts.spool_dir,
        opts.read_timeout,
    )
    .await?;
    let vars = vars::request_vars(&parts, meta, upload.length());
    let packet = vars::encode(&vars).map_err(|e| ProxyError::HeadersTooLarge(e.to_string()))?;
    let deadlines = client::Deadlines {
        connect: opts.connect_timeout,
        idle: opts.read_timeout,
    };
    client::exchange(addr, packet, upload, &parts.method, &deadlines).await
}
