//! The PROXY protocol header (HAProxy's v1 text line and v2 binary block) as a pure codec: the
//! first bytes of a connection in, "need more bytes", the header, or "invalid" out. No IO; the
//! reader in `mod.rs` owns the socket. Parsing is `ppp`'s; this file decides which version the
//! bytes are, bounds them, and turns the result into the addresses dockside uses.

use std::net::SocketAddr;

use ppp::v1;
use ppp::v2;

/// The v1 line, `\r\n` included, is at most 107 bytes (the protocol's own bound).
pub const MAX_V1: usize = 107;

/// The longest v2 header accepted: the 16-byte fixed part, addresses and TLVs. The protocol
/// allows 16 + 65535 bytes; load balancers send a few hundred at most (AWS, GCP, HAProxy), and
/// a connection may not make dockside hold more before it has said who it is.
pub const MAX_V2: usize = 4096;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// Signature, version/command, family/protocol, then the big-endian length of the rest.
const V2_FIXED: usize = 16;

/// A complete header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Bytes the header takes at the start of the connection; what follows is the client's.
    pub len: usize,
    /// Source (the client) and destination (the address the client connected to, on the
    /// load balancer). `None` for v2 `LOCAL` (a health check by the balancer itself), v1
    /// `UNKNOWN`, and v2 families without IP addresses: the socket's own addresses stand.
    pub addresses: Option<(SocketAddr, SocketAddr)>,
}

/// What the bytes so far are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A prefix of a valid header: wait for more bytes.
    Incomplete,
    Complete(ProxyHeader),
}

/// Why a connection's first bytes are not a PROXY header; more bytes cannot change it.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum InvalidHeader {
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    #[error("the PROXY protocol v1 line is longer than {MAX_V1} bytes")]
    V1TooLong,
    #[error("bad PROXY protocol v1 line: {0}")]
    V1(#[source] v1::BinaryParseError),
    #[error("the PROXY protocol v2 header is {0} bytes, more than the {MAX_V2} accepted")]
    V2TooLong(usize),
    #[error("bad PROXY protocol v2 header: {0}")]
    V2(#[source] v2::ParseError),
}

/// Decodes the header at the start of `buf` (the connection's first bytes, possibly followed
/// by the request or the TLS ClientHello).
pub fn decode(buf: &[u8]) -> Result<Decoded, InvalidHeader> {
    if starts_like(buf, V2_SIGNATURE) {
        decode_v2(buf)
    } else if starts_like(buf, V1_PREFIX) {
        decode_v1(buf)
    } else {
        Err(InvalidHeader::Missing)
    }
}

/// Whether `buf` begins with `prefix`, or is a beginning of it.
fn starts_like(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf[..n] == prefix[..n]
}

/// The line is judged once it has ended (`\n`): `ppp` calls some prefixes of a valid line
/// invalid (one ending in the space after the source port), and a line is short.
fn decode_v1(buf: &[u8]) -> Result<Decoded, InvalidHeader> {
    let end = memchr::memchr(b'\n', &buf[..buf.len().min(MAX_V1)]);
    let Some(end) = end else {
        return if buf.len() >= MAX_V1 {
            Err(InvalidHeader::V1TooLong)
        } else {
            Ok(Decoded::Incomplete)
        };
    };
    let line = &buf[..=end];
    let header = v1::Header::try_from(line).map_err(InvalidHeader::V1)?;
    // `ppp` stops at the first `\r`: anything between it and the `\n` is not a v1 line.
    if header.header.len() != line.len() {
        return Err(InvalidHeader::V1(v1::ParseError::InvalidSuffix.into()));
    }
    let addresses = match header.addresses {
        v1::Addresses::Tcp4(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v1::Addresses::Tcp6(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v1::Addresses::Unknown => None,
    };
    Ok(Decoded::Complete(ProxyHeader {
        len: line.len(),
        addresses,
    }))
}

fn decode_v2(buf: &[u8]) -> Result<Decoded, InvalidHeader> {
    if buf.len() >= V2_FIXED {
        let total = V2_FIXED + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        if total > MAX_V2 {
            return Err(InvalidHeader::V2TooLong(total));
        }
    }
    let header = match v2::Header::try_from(buf) {
        Ok(header) => header,
        Err(v2::ParseError::Incomplete(_) | v2::ParseError::Partial(..)) => {
            return Ok(Decoded::Incomplete);
        }
        Err(e) => return Err(InvalidHeader::V2(e)),
    };
    let addresses = match (header.command, header.addresses) {
        (v2::Command::Local, _) => None,
        (v2::Command::Proxy, v2::Addresses::IPv4(a)) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        (v2::Command::Proxy, v2::Addresses::IPv6(a)) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        (v2::Command::Proxy, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => None,
    };
    Ok(Decoded::Complete(ProxyHeader {
        len: header.len(),
        addresses,
    }))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
