//! The request body sent after the vars. uwsgi frames it only by `CONTENT_LENGTH`, so a body
//! of known length streams straight through, and one of unknown length (chunked, HTTP/2) is
//! spooled first — in memory up to a bound, then in an unlinked temp file — to learn its length.

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

use super::UwsgiOptions;
use crate::exchange::{ProxyBody, ProxyError};

/// Chunk size when replaying a spool file.
const FILE_CHUNK: usize = 64 * 1024;

/// A request body ready to follow the vars, with its length known.
pub(in crate::upstream) enum Upload {
    /// No body: `CONTENT_LENGTH` is sent empty.
    None,
    /// Streamed from the client as it arrives; it must be exactly `length` bytes.
    Stream { body: ProxyBody, length: u64 },
    /// Spooled in memory, holding its share of the process-wide spool budget until sent.
    Memory {
        chunks: Vec<Bytes>,
        length: u64,
        budget: Option<OwnedSemaphorePermit>,
    },
    /// Spooled in an unlinked temp file, rewound to the start.
    File { file: tokio::fs::File, length: u64 },
}

/// Why sending the body stopped: the caller decides whether it still waits for a head.
#[derive(Debug)]
pub(in crate::upstream) enum SendError {
    /// The client's body failed or stalled: the request cannot complete.
    Client(ProxyError),
    /// The backend stopped reading (it may still answer, e.g. with an early error page).
    Backend(std::io::Error),
}

impl Upload {
    /// The value for `CONTENT_LENGTH`.
    pub(in crate::upstream) fn length(&self) -> Option<u64> {
        match self {
            Upload::None => None,
            Upload::Stream { length, .. }
            | Upload::Memory { length, .. }
            | Upload::File { length, .. } => Some(*length),
        }
    }

    /// Writes the whole body to the backend; every wait is bounded by `idle`.
    pub(in crate::upstream) async fn send<W>(
        self,
        w: &mut W,
        idle: Duration,
    ) -> Result<(), SendError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        match self {
            Upload::None => Ok(()),
            Upload::Stream { body, length } => stream(body, length, w, idle).await,
            Upload::Memory { chunks, budget, .. } => {
                // The budget is held until the body is written (dropped with it on failure).
                let _budget = budget;
                for chunk in chunks {
                    write(w, &chunk, idle).await?;
                }
                Ok(())
            }
            Upload::File { mut file, .. } => {
                let mut buf = vec![0u8; FILE_CHUNK];
                loop {
                    let n = file.read(&mut buf).await.map_err(spool_failed)?;
                    if n == 0 {
                        return Ok(());
                    }
                    write(w, &buf[..n], idle).await?;
                }
            }
        }
    }
}

/// Chooses how the body travels: declared length → stream; none and no body → nothing;
/// unknown length → spool. A declared length over `limit` (the site's `CLIENT_MAX_BODY_SIZE`)
/// is a 413; so is a spooled one over `limit`, or without it over `opts.spool_max`.
pub(in crate::upstream) async fn prepare(
    headers: &HeaderMap,
    body: ProxyBody,
    limit: Option<u64>,
    opts: &UwsgiOptions,
) -> Result<Upload, ProxyError> {
    let too_large = |n: u64| limit.is_some_and(|l| n > l);
    if let Some(length) = declared_length(headers)? {
        if too_large(length) {
            return Err(ProxyError::BodyTooLarge {
                limit: limit.unwrap_or(0),
            });
        }
        return Ok(Upload::Stream { body, length });
    }
    if http_body::Body::is_end_stream(&body) {
        return Ok(Upload::None);
    }
    let bounds = Spool {
        limit: limit.or(opts.spool_max),
        memory: opts.spool_memory,
        budget: &opts.spool_budget,
        dir: &opts.spool_dir,
        idle: opts.read_timeout,
    };
    spool(body, bounds).await
}

/// How far a body of unknown length may be spooled, and where.
struct Spool<'a> {
    /// Largest body accepted (413 past it).
    limit: Option<u64>,
    /// Bytes of this body kept in memory before it spills to a file.
    memory: usize,
    /// Memory all spooled bodies may hold at once: one permit a byte.
    budget: &'a Arc<Semaphore>,
    dir: &'a Path,
    idle: Duration,
}

fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, ProxyError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let bad = || ProxyError::BadRequest("invalid Content-Length".into());
    let text = value.to_str().map_err(|_| bad())?;
    text.trim().parse().map(Some).map_err(|_| bad())
}

async fn spool(mut body: ProxyBody, bounds: Spool<'_>) -> Result<Upload, ProxyError> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut length = 0u64;
    let mut file: Option<tokio::fs::File> = None;
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(data) = next_data(&mut body, bounds.idle)
        .await
        .map_err(SendError::into_proxy)?
    {
        length += data.len() as u64;
        if bounds.limit.is_some_and(|l| length > l) {
            return Err(ProxyError::BodyTooLarge {
                limit: bounds.limit.unwrap_or(0),
            });
        }
        if file.is_none() && !keep_in_memory(&bounds, length, data.len(), &mut held) {
            let mut f = open_spool_file(bounds.dir).await?;
            for c in chunks.drain(..) {
                f.write_all(&c).await.map_err(spool_io)?;
            }
            // The memory is free again once the chunks are in the file.
            held = None;
            file = Some(f);
        }
        match file.as_mut() {
            Some(f) => f.write_all(&data).await.map_err(spool_io)?,
            None => chunks.push(data),
        }
    }
    let Some(mut file) = file else {
        // An empty body (e.g. behind a wrapper that cannot say it is empty) is sent as no
        // body, like nginx: CONTENT_LENGTH stays empty.
        if length == 0 {
            return Ok(Upload::None);
        }
        return Ok(Upload::Memory {
            chunks,
            length,
            budget: held,
        });
    };
    file.flush().await.map_err(spool_io)?;
    file.rewind().await.map_err(spool_io)?;
    Ok(Upload::File { file, length })
}

/// Whether a chunk of `more` bytes, bringing the body to `length`, may stay in memory: within
/// the body's own bound and the process-wide budget (whose permits `held` collects).
fn keep_in_memory(
    bounds: &Spool<'_>,
    length: u64,
    more: usize,
    held: &mut Option<OwnedSemaphorePermit>,
) -> bool {
    if length > bounds.memory as u64 {
        return false;
    }
    let Ok(permits) = u32::try_from(more) else {
        return false;
    };
    let Ok(permit) = bounds.budget.clone().try_acquire_many_owned(permits) else {
        return false;
    };
    match held {
        Some(h) => h.merge(permit),
        None => *held = Some(permit),
    }
    true
}

async fn open_spool_file(dir: &Path) -> Result<tokio::fs::File, ProxyError> {
    let dir = dir.to_path_buf();
    let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(dir))
        .await
        .map_err(|e| ProxyError::Internal(format!("spool file task: {e}")))?
        .map_err(spool_io)?;
    Ok(tokio::fs::File::from_std(file))
}

fn spool_io(e: std::io::Error) -> ProxyError {
    ProxyError::Internal(format!("uwsgi request spool: {e}"))
}

fn spool_failed(e: std::io::Error) -> SendError {
    SendError::Client(spool_io(e))
}

impl SendError {
    /// While spooling nothing is written to the backend, so only client errors occur.
    fn into_proxy(self) -> ProxyError {
        match self {
            SendError::Client(e) => e,
            SendError::Backend(e) => ProxyError::Internal(e.to_string()),
        }
    }
}

/// The next data frame of the client's body (trailers are skipped: uwsgi cannot carry them).
async fn next_data(body: &mut ProxyBody, idle: Duration) -> Result<Option<Bytes>, SendError> {
    loop {
        let frame = match timeout(idle, body.frame()).await {
            Err(_) => return Err(SendError::Client(ProxyError::RequestTimeout)),
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => {
                let msg = format!("request body: {e}");
                return Err(SendError::Client(ProxyError::BadRequest(msg)));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
        {
            return Ok(Some(data));
        }
    }
}

async fn stream<W>(
    mut body: ProxyBody,
    length: u64,
    w: &mut W,
    idle: Duration,
) -> Result<(), SendError>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut sent = 0u64;
    while let Some(data) = next_data(&mut body, idle).await? {
        sent += data.len() as u64;
        if sent > length {
            let msg = format!("request body longer than its Content-Length {length}");
            return Err(SendError::Client(ProxyError::BadRequest(msg)));
        }
        write(w, &data, idle).await?;
    }
    if sent < length {
        let msg = format!("request body ended after {sent} of {length} bytes");
        return Err(SendError::Client(ProxyError::BadRequest(msg)));
    }
    Ok(())
}

async fn write<W>(w: &mut W, data: &[u8], idle: Duration) -> Result<(), SendError>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    match timeout(idle, w.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SendError::Backend(e)),
        Err(_) => Err(SendError::Backend(std::io::ErrorKind::TimedOut.into())),
    }
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
