//! The uwsgi wire format, pure: the request packet (header + vars block) and the response head
//! uWSGI sends back. No IO here; `client.rs` owns the socket.
//!
//! Every 16-bit length is checked before it is written: a key, a value or a whole vars block over
//! 65,535 bytes is a typed error, never a truncated packet (CVE-2020-11984 was that bug in
//! Apache's mod_proxy_uwsgi).

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

/// The largest vars block (and any single key or value) the u16 length fields can describe.
pub const MAX_VARS_LEN: usize = u16::MAX as usize;

/// Response heads larger than this are refused (uWSGI's own buffer-size tops out near this).
pub const MAX_HEAD_LEN: usize = 64 * 1024;

/// At most this many response headers; more is treated as a broken backend.
pub const MAX_HEADERS: usize = 128;

/// Why a vars block could not be encoded: the caller answers 431 instead of sending garbage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("uwsgi var name of {len} bytes exceeds 65535")]
    KeyTooLong { len: usize },
    #[error("uwsgi var {key} has a value of {len} bytes, over 65535")]
    ValueTooLong { key: String, len: usize },
    #[error("uwsgi vars block would be {len} bytes, over 65535")]
    BlockTooLarge { len: usize },
}

/// Builds one request packet: the 4-byte header followed by the vars block.
///
/// The header is reserved up front and filled in by [`PacketEncoder::finish`], so the vars are
/// copied once.
#[derive(Debug)]
pub struct PacketEncoder {
    buf: Vec<u8>,
}

impl Default for PacketEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketEncoder {
    /// An empty packet (header placeholder only).
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(1024);
        buf.extend_from_slice(&[0, 0, 0, 0]);
        PacketEncoder { buf }
    }

    /// Appends one `key = value` var; refuses anything that would not fit the u16 fields.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), EncodeError> {
        if key.len() > MAX_VARS_LEN {
            return Err(EncodeError::KeyTooLong { len: key.len() });
        }
        if value.len() > MAX_VARS_LEN {
            let key = String::from_utf8_lossy(key).into_owned();
            return Err(EncodeError::ValueTooLong {
                key,
                len: value.len(),
            });
        }
        let len = self.vars_len() + 4 + key.len() + value.len();
        if len > MAX_VARS_LEN {
            return Err(EncodeError::BlockTooLarge { len });
        }
        for part in [key, value] {
            self.buf
                .extend_from_slice(&(part.len() as u16).to_le_bytes());
            self.buf.extend_from_slice(part);
        }
        Ok(())
    }

    /// Bytes of vars so far (without the 4-byte header).
    pub fn vars_len(&self) -> usize {
        self.buf.len() - 4
    }

    /// The finished packet: modifier1 0, vars size (u16 LE), modifier2 0, then the vars.
    pub fn finish(mut self) -> Vec<u8> {
        // `push` keeps vars_len <= MAX_VARS_LEN, so this conversion cannot fail.
        let size = u16::try_from(self.vars_len()).unwrap_or(u16::MAX);
        self.buf[1..3].copy_from_slice(&size.to_le_bytes());
        self.buf
    }
}

/// Why a packet could not be decoded (used by tests and the fuzz round trip).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet modifiers are not 0/0")]
    Modifier,
    #[error("a var length runs past the vars block")]
    Overrun,
}

/// One decoded `(key, value)` var, borrowed from the packet.
#[cfg_attr(not(test), allow(dead_code))]
pub type Var<'a> = (&'a [u8], &'a [u8]);

/// Decodes a request packet back into its vars: `Ok(None)` while bytes are missing.
#[cfg_attr(not(test), allow(dead_code))]
pub fn decode_packet(buf: &[u8]) -> Result<Option<Vec<Var<'_>>>, DecodeError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    if head[0] != 0 || head[3] != 0 {
        return Err(DecodeError::Modifier);
    }
    let size = usize::from(u16::from_le_bytes([head[1], head[2]]));
    let Some(mut rest) = buf.get(4..4 + size) else {
        return Ok(None);
    };
    let mut vars = Vec::new();
    while !rest.is_empty() {
        let (key, after) = take_field(rest)?;
        let (value, after) = take_field(after)?;
        vars.push((key, value));
        rest = after;
    }
    Ok(Some(vars))
}

#[cfg_attr(not(test), allow(dead_code))]
fn take_field(buf: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let len = match buf {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => return Err(DecodeError::Overrun),
    };
    let field = buf.get(2..2 + len).ok_or(DecodeError::Overrun)?;
    Ok((field, &buf[2 + len..]))
}

/// The status and headers uWSGI answered with, before any body byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// From the status line, else the CGI `Status:` header, else 302 with `Location`, else 200.
    pub status: StatusCode,
    /// The app's headers in order, repeats kept (`Set-Cookie`); `Status` removed.
    pub headers: HeaderMap,
}

/// Result of looking at the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed; nothing is wrong yet.
    Incomplete,
    /// The head ends after `consumed` bytes; what follows is body.
    Complete { head: ResponseHead, consumed: usize },
}

/// Why a response head is unusable: the backend is at fault (502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    #[error("response head exceeds {MAX_HEAD_LEN} bytes")]
    TooLarge,
    #[error("invalid status {0:?}")]
    BadStatus(String),
    #[error("invalid header {0:?}")]
    BadHeader(String),
    #[error("informational status {0} is not supported over uwsgi")]
    Informational(u16),
}

/// Parses the response head: an `HTTP/1.x` status line and headers, or CGI style with only
/// headers (`Status:` gives the status; `Location` alone means 302; otherwise 200).
pub fn parse_head(buf: &[u8]) -> Result<Parsed, HeadError> {
    let window = &buf[..buf.len().min(MAX_HEAD_LEN)];
    let parsed = if starts_like_status_line(window) {
        parse_status_line_head(window)?
    } else {
        parse_cgi_head(window)?
    };
    match parsed {
        Parsed::Incomplete if buf.len() >= MAX_HEAD_LEN => Err(HeadError::TooLarge),
        other => Ok(other),
    }
}

/// True when the bytes begin (or could still begin) with `HTTP/`.
fn starts_like_status_line(buf: &[u8]) -> bool {
    let n = buf.len().min(5);
    buf[..n] == b"HTTP/"[..n]
}

fn parse_status_line_head(buf: &[u8]) -> Result<Parsed, HeadError> {
    let Some(nl) = buf.iter().position(|b| *b == b'\n') else {
        return Ok(Parsed::Incomplete);
    };
    let code = parse_status_line(&buf[..nl])?;
    let status = status_from_code(code)?;
    let (consumed, mut headers) = match parse_headers(&buf[nl + 1..])? {
        None => return Ok(Parsed::Incomplete),
        Some((n, headers)) => (nl + 1 + n, headers),
    };
    // A CGI-style Status header next to a status line is nginx's fault to copy; drop it.
    headers.remove("status");
    Ok(Parsed::Complete {
        head: ResponseHead { status, headers },
        consumed,
    })
}

/// `HTTP/<major>[.<minor>] <3 digits>[ <reason>]`. uWSGI echoes the request's
/// `SERVER_PROTOCOL` here (so `HTTP/2.0` for h2 clients), which httparse would refuse.
fn parse_status_line(line: &[u8]) -> Result<u16, HeadError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let bad = || HeadError::BadStatus(String::from_utf8_lossy(line).into_owned());
    let rest = line.strip_prefix(b"HTTP/").ok_or_else(bad)?;
    let sp = rest.iter().position(|b| *b == b' ').ok_or_else(bad)?;
    let (version, rest) = (&rest[..sp], &rest[sp + 1..]);
    let mut parts = version.splitn(2, |b| *b == b'.');
    let digits = |p: &[u8]| !p.is_empty() && p.len() <= 2 && p.iter().all(u8::is_ascii_digit);
    if !parts.all(digits) {
        return Err(bad());
    }
    let code = rest.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit));
    let code = code.ok_or_else(bad)?;
    let reason = &rest[3..];
    let reason_ok = reason.is_empty()
        || (reason[0] == b' '
            && reason
                .iter()
                .all(|b| *b == b'\t' || *b >= 0x20 && *b != 0x7f));
    if !reason_ok {
        return Err(bad());
    }
    Ok(code.iter().fold(0, |acc, b| acc * 10 + u16::from(b - b'0')))
}

fn parse_cgi_head(buf: &[u8]) -> Result<Parsed, HeadError> {
    let Some((consumed, mut headers)) = parse_headers(buf)? else {
        return Ok(Parsed::Incomplete);
    };
    let status = match headers.remove("status") {
        Some(v) => status_from_cgi(&v)?,
        None if headers.contains_key(header::LOCATION) => StatusCode::FOUND,
        None => StatusCode::OK,
    };
    Ok(Parsed::Complete {
        head: ResponseHead { status, headers },
        consumed,
    })
}

/// `Status: 404 Not Found` → 404.
fn status_from_cgi(value: &HeaderValue) -> Result<StatusCode, HeadError> {
    let bytes = value.as_bytes();
    let digits = bytes.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
    let rest_ok = bytes.get(3).is_none_or(|b| *b == b' ');
    match digits {
        Some(d) if rest_ok => {
            let code = d.iter().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
            status_from_code(code)
        }
        _ => Err(HeadError::BadStatus(
            String::from_utf8_lossy(bytes).into_owned(),
        )),
    }
}

fn status_from_code(code: u16) -> Result<StatusCode, HeadError> {
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::BadStatus(code.to_string()))?;
    if status.is_informational() {
        return Err(HeadError::Informational(code));
    }
    Ok(status)
}

/// Header lines up to and including the empty line; `None` while it has not arrived.
fn parse_headers(buf: &[u8]) -> Result<Option<(usize, HeaderMap)>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(buf, &mut slots).map_err(HeadError::Malformed)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete((n, raw)) => Ok(Some((n, to_header_map(raw)?))),
    }
}

fn to_header_map(raw: &[httparse::Header<'_>]) -> Result<HeaderMap, HeadError> {
    let mut map = HeaderMap::with_capacity(raw.len());
    for h in raw {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::BadHeader(h.name.to_owned()))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| HeadError::BadHeader(h.name.to_owned()))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
