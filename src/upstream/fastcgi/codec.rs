//! The FastCGI 1.0 wire format, pure: record headers, name-value pairs (1- or 4-byte
//! lengths), the request records a responder needs (BEGIN_REQUEST, PARAMS, STDIN) and the
//! records it answers with (STDOUT, STDERR, END_REQUEST). No IO here; `client.rs` owns the
//! socket.
//!
//! Every length is checked before it is written or trusted: a record carries at most 65,535
//! content bytes, a name or value at most 2^31 − 1 bytes, and a params block at most
//! [`MAX_PARAMS_LEN`]. A decoder answers "incomplete" (more bytes needed) apart from
//! "invalid" (the peer broke the protocol).

/// The only protocol version (FastCGI 1.0).
pub const VERSION: u8 = 1;
/// Bytes of a record header.
pub const HEADER_LEN: usize = 8;
/// The most content one record can carry (its length field is 16 bits).
pub const MAX_CONTENT: usize = u16::MAX as usize;
/// The largest params block dockside sends: far above any real request head (hyper refuses
/// heads past its own limit first), and a bound on what one request can make us allocate.
pub const MAX_PARAMS_LEN: usize = 1 << 20;
/// The request id of every exchange: dockside never multiplexes (php-fpm does not either).
pub const REQUEST_ID: u16 = 1;

/// Record types (FastCGI 1.0 §8).
pub mod kind {
    pub const BEGIN_REQUEST: u8 = 1;
    pub const END_REQUEST: u8 = 3;
    pub const PARAMS: u8 = 4;
    pub const STDIN: u8 = 5;
    pub const STDOUT: u8 = 6;
    pub const STDERR: u8 = 7;
}

/// `FCGI_RESPONDER`: the role of a CGI-like request.
const ROLE_RESPONDER: u16 = 1;
/// `FCGI_KEEP_CONN`: the application must not close the connection after the request.
const KEEP_CONN: u8 = 1;

/// A record header: what follows it and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub request_id: u16,
    pub content_len: u16,
    pub padding_len: u8,
}

impl Header {
    /// The 8 header bytes.
    pub fn encode(self) -> [u8; HEADER_LEN] {
        let [id_hi, id_lo] = self.request_id.to_be_bytes();
        let [len_hi, len_lo] = self.content_len.to_be_bytes();
        [
            VERSION,
            self.kind,
            id_hi,
            id_lo,
            len_hi,
            len_lo,
            self.padding_len,
            0,
        ]
    }

    /// Bytes of content plus padding that follow the header.
    pub fn body_len(self) -> usize {
        usize::from(self.content_len) + usize::from(self.padding_len)
    }
}

/// The header of a request record of `kind` with `len` content bytes (no padding).
pub fn header(kind: u8, len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_CONTENT);
    Header {
        kind,
        request_id: REQUEST_ID,
        content_len: u16::try_from(len).unwrap_or(u16::MAX),
        padding_len: 0,
    }
    .encode()
}

/// Why bytes from the application cannot be a FastCGI record: the backend is at fault (502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("FastCGI record version {0}, expected 1")]
    Version(u8),
    #[error("FastCGI record for request {0}, expected {REQUEST_ID}")]
    RequestId(u16),
    #[error("END_REQUEST record of {0} bytes, expected 8")]
    EndRequestLength(u16),
    #[error("unexpected FastCGI record type {0}")]
    UnexpectedType(u8),
}

/// What the application said in one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Response bytes (head then body); `content` is the range of the input holding them.
    Stdout { content: std::ops::Range<usize> },
    /// Error-log text for us to log.
    Stderr { content: std::ops::Range<usize> },
    /// The request is over.
    EndRequest(EndRequest),
}

/// The END_REQUEST body: the script's exit status and whether the request was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndRequest {
    pub app_status: u32,
    /// 0 `REQUEST_COMPLETE`, 1 `CANT_MPX_CONN`, 2 `OVERLOADED`, 3 `UNKNOWN_ROLE`.
    pub protocol_status: u8,
}

impl EndRequest {
    /// Whether the application served the request (anything else means it refused it).
    pub fn is_complete(self) -> bool {
        self.protocol_status == 0
    }
}

/// Result of looking at the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// More bytes are needed; nothing is wrong yet.
    Incomplete,
    /// A whole item that ends after `consumed` bytes.
    Complete { value: T, consumed: usize },
}

/// Parses a record header from the start of `buf`.
pub fn parse_header(buf: &[u8]) -> Result<Parsed<Header>, RecordError> {
    let Some(h) = buf.get(..HEADER_LEN) else {
        if let Some(&v) = buf.first()
            && v != VERSION
        {
            return Err(RecordError::Version(v));
        }
        return Ok(Parsed::Incomplete);
    };
    if h[0] != VERSION {
        return Err(RecordError::Version(h[0]));
    }
    let value = Header {
        kind: h[1],
        request_id: u16::from_be_bytes([h[2], h[3]]),
        content_len: u16::from_be_bytes([h[4], h[5]]),
        padding_len: h[6],
    };
    Ok(Parsed::Complete {
        value,
        consumed: HEADER_LEN,
    })
}

/// Parses one whole response record (header, content, padding) from the start of `buf`.
/// Content ranges index `buf`.
pub fn parse_record(buf: &[u8]) -> Result<Parsed<Record>, RecordError> {
    let header = match parse_header(buf)? {
        Parsed::Incomplete => return Ok(Parsed::Incomplete),
        Parsed::Complete { value, .. } => value,
    };
    if header.request_id != REQUEST_ID {
        return Err(RecordError::RequestId(header.request_id));
    }
    if header.kind == kind::END_REQUEST && header.content_len != 8 {
        return Err(RecordError::EndRequestLength(header.content_len));
    }
    if !matches!(header.kind, kind::STDOUT | kind::STDERR | kind::END_REQUEST) {
        return Err(RecordError::UnexpectedType(header.kind));
    }
    let end = HEADER_LEN + header.body_len();
    if buf.len() < end {
        return Ok(Parsed::Incomplete);
    }
    let content = HEADER_LEN..HEADER_LEN + usize::from(header.content_len);
    let value = match header.kind {
        kind::STDOUT => Record::Stdout { content },
        kind::STDERR => Record::Stderr { content },
        _ => {
            let b = &buf[content];
            Record::EndRequest(EndRequest {
                app_status: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                protocol_status: b[4],
            })
        }
    };
    Ok(Parsed::Complete {
        value,
        consumed: end,
    })
}

/// BEGIN_REQUEST for a responder; `keep_conn` asks the application to keep the connection.
pub fn begin_request(keep_conn: bool) -> [u8; HEADER_LEN + 8] {
    let mut out = [0u8; HEADER_LEN + 8];
    out[..HEADER_LEN].copy_from_slice(&header(kind::BEGIN_REQUEST, 8));
    out[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&ROLE_RESPONDER.to_be_bytes());
    out[HEADER_LEN + 2] = if keep_conn { KEEP_CONN } else { 0 };
    out
}

/// Why a params block could not be encoded: the caller answers 431 instead of sending it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("FastCGI param of {len} bytes exceeds 2^31 - 1")]
    TooLong { len: usize },
    #[error("FastCGI params would be {len} bytes, over {MAX_PARAMS_LEN}")]
    BlockTooLarge { len: usize },
}

/// A name-value length: 1 byte below 128, else 4 bytes with the top bit set.
fn push_len(out: &mut Vec<u8>, len: usize) -> Result<(), ParamsError> {
    if len < 0x80 {
        out.push(len as u8);
        return Ok(());
    }
    let n = u32::try_from(len)
        .ok()
        .filter(|n| *n <= 0x7fff_ffff)
        .ok_or(ParamsError::TooLong { len })?;
    out.extend_from_slice(&(n | 0x8000_0000).to_be_bytes());
    Ok(())
}

/// Appends one name-value pair to a params stream.
pub fn push_param(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), ParamsError> {
    let len = out.len() + 8 + name.len() + value.len();
    if len > MAX_PARAMS_LEN {
        return Err(ParamsError::BlockTooLarge { len });
    }
    push_len(out, name.len())?;
    push_len(out, value.len())?;
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    Ok(())
}

/// Frames `stream` of `kind` into records of at most [`MAX_CONTENT`] bytes, then the empty
/// record that ends the stream, appended to `out`.
pub fn frame_stream(out: &mut Vec<u8>, kind: u8, stream: &[u8]) {
    out.reserve(stream.len() + HEADER_LEN * (2 + stream.len() / MAX_CONTENT));
    for chunk in stream.chunks(MAX_CONTENT) {
        out.extend_from_slice(&header(kind, chunk.len()));
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&header(kind, 0));
}

/// Why a params stream could not be decoded (tests and the fuzz round trip).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("a name-value pair runs past the end of the params")]
    Overrun,
}

/// One decoded `(name, value)` pair, borrowed from the stream.
#[cfg_attr(not(test), allow(dead_code))]
pub type Param<'a> = (&'a [u8], &'a [u8]);

/// Decodes a whole params stream (the contents of the PARAMS records, joined).
#[cfg_attr(not(test), allow(dead_code))]
pub fn decode_params(mut buf: &[u8]) -> Result<Vec<Param<'_>>, DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (name_len, rest) = take_len(buf)?;
        let (value_len, rest) = take_len(rest)?;
        let name = rest.get(..name_len).ok_or(DecodeError::Overrun)?;
        let value = rest
            .get(name_len..name_len.saturating_add(value_len))
            .ok_or(DecodeError::Overrun)?;
        out.push((name, value));
        buf = &rest[name_len + value_len..];
    }
    Ok(out)
}

#[cfg_attr(not(test), allow(dead_code))]
fn take_len(buf: &[u8]) -> Result<(usize, &[u8]), DecodeError> {
    match buf {
        [b, rest @ ..] if *b < 0x80 => Ok((usize::from(*b), rest)),
        [a, b, c, d, rest @ ..] => {
            let n = u32::from_be_bytes([*a & 0x7f, *b, *c, *d]);
            Ok((n as usize, rest))
        }
        _ => Err(DecodeError::Overrun),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
