//! Forwarding to uWSGI backends (`VIRTUAL_PROTO=uwsgi`) over the uwsgi binary protocol, as
//! nginx's `uwsgi_pass` does: vars packet, body sized by `CONTENT_LENGTH`, raw HTTP response.
//!
//! The pure parts ([`codec`], [`vars`], [`framing`]) do no IO; `client` owns the socket and
//! `upload` decides whether the request body streams or is spooled first.

mod codec;
mod framing;
mod vars;

mod client;
mod upload;

use std::{path::PathBuf, sync::Arc, time::Duration};

use http::{Request, Response};
use tokio::sync::Semaphore;

pub use client::UwsgiBodyError;

/// What the FastCGI forwarder shares with uwsgi: both speak CGI — the same meta-variables, the
/// same `Status:`-style response head and framing, and a request body sized by
/// `CONTENT_LENGTH` (spooled when the client did not say its length).
pub(in crate::upstream) mod cgi {
    pub(in crate::upstream) use super::codec::{Parsed, ResponseHead, parse_head};
    pub(in crate::upstream) use super::framing::{Framing, response_framing};
    pub(in crate::upstream) use super::upload::{SendError, Upload, prepare};
    pub(in crate::upstream) use super::vars::{
        header_vars, http_host, percent_decode, server_protocol,
    };
}

use crate::config::Limits;
use crate::exchange::{ProxyBody, ProxyError, RequestMeta};
use crate::model::BackendAddr;

/// Bytes of one spooled body kept in memory before it spills to its file: small, so that many
/// stalled uploads cost little memory (nginx's `client_body_buffer_size` is 8–16 KiB).
pub const DEFAULT_SPOOL_MEMORY: usize = 64 * 1024;

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
    /// Largest body of unknown length spooled when the site sets no `CLIENT_MAX_BODY_SIZE`
    /// (`DOCKSIDE_UWSGI_SPOOL_MAX`; `None`: unlimited).
    pub spool_max: Option<u64>,
    /// Memory all spooled bodies may hold at once, one permit a byte
    /// (`DOCKSIDE_UWSGI_SPOOL_MEMORY`), shared by every worker.
    pub spool_budget: Arc<Semaphore>,
}

impl UwsgiOptions {
    /// The options dockside runs with: `Limits::connect_timeout`, `Limits::upstream_timeout` as
    /// the read timeout, [`DEFAULT_SPOOL_MEMORY`], the spool bounds of `limits`, and spill files
    /// in `spool_dir` (which must exist and be writable; the system temp dir is a fine
    /// default). `spool_budget` comes from [`spool_budget`], once per process.
    pub fn from_limits(limits: &Limits, spool_dir: PathBuf, spool_budget: Arc<Semaphore>) -> Self {
        UwsgiOptions {
            connect_timeout: limits.connect_timeout,
            read_timeout: limits.upstream_timeout,
            spool_memory: DEFAULT_SPOOL_MEMORY,
            spool_dir,
            spool_max: limits.uwsgi_spool_max,
            spool_budget,
        }
    }
}

/// The process-wide memory budget for spooled bodies (`Limits::uwsgi_spool_memory` bytes).
pub fn spool_budget(limits: &Limits) -> Arc<Semaphore> {
    let bytes = usize::try_from(limits.uwsgi_spool_memory).unwrap_or(usize::MAX);
    Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)))
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
    let upload = upload::prepare(&parts.headers, body, meta.body_limit, opts).await?;
    let vars = vars::request_vars(&parts, meta, upload.length());
    let packet = vars::encode(&vars).map_err(|e| ProxyError::HeadersTooLarge(e.to_string()))?;
    let deadlines = client::Deadlines {
        connect: meta.timeouts.connect.unwrap_or(opts.connect_timeout),
        idle: meta.timeouts.read.unwrap_or(opts.read_timeout),
        send: meta
            .timeouts
            .send
            .or(meta.timeouts.read)
            .unwrap_or(opts.read_timeout),
    };
    client::exchange(addr, packet, upload, &parts.method, &deadlines).await
}
