//! `ENABLE_PROXY_PROTOCOL`: reading the PROXY protocol header a load balancer puts before the
//! client's bytes (plain HTTP or the TLS ClientHello). `codec` is the pure parser; this file
//! owns the socket while the header is read.

mod codec;

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub(crate) use codec::ProxyHeader;
use codec::{Decoded, InvalidHeader, decode};

/// Bytes looked at per wait: a whole v1 line or a usual v2 header at once (the protocol's
/// own advice to receivers that peek).
const PEEK: usize = 536;

/// Why a connection is closed before anything is answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error(transparent)]
    Invalid(#[from] InvalidHeader),
    #[error("closed before a complete PROXY protocol header")]
    Closed,
    #[error("no complete PROXY protocol header within {0}s")]
    Timeout(u64),
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the header at the start of `stream` within `timeout` (`DOCKSIDE_HEADER_TIMEOUT`),
/// taking exactly its bytes off the socket: what follows stays there for hyper or rustls, so
/// the stream needs no wrapper. Bytes are peeked, and only those known to belong to the header
/// are read; a header trickling in is waited for (the socket is empty between waits, so a
/// peek never spins).
pub(crate) async fn read_header(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<ProxyHeader, HeaderError> {
    tokio::time::timeout(timeout, read(stream))
        .await
        .map_err(|_| HeaderError::Timeout(timeout.as_secs()))?
}

async fn read(stream: &mut TcpStream) -> Result<ProxyHeader, HeaderError> {
    // The header's bytes taken so far; bounded because `decode` refuses long headers.
    let mut buf = Vec::with_capacity(PEEK);
    loop {
        let start = buf.len();
        buf.resize(start + PEEK, 0);
        let n = stream.peek(&mut buf[start..]).await?;
        if n == 0 {
            return Err(HeaderError::Closed);
        }
        buf.truncate(start + n);
        // Incomplete: everything peeked is header; complete: only up to its length.
        let take = match decode(&buf)? {
            Decoded::Incomplete => None,
            Decoded::Complete(header) => Some(header),
        };
        let end = take.map_or(buf.len(), |h| h.len);
        stream.read_exact(&mut buf[start..end]).await?;
        if let Some(header) = take {
            return Ok(header);
        }
    }
}
