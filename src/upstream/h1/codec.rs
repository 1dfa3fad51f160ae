//! The HTTP/1.1 client side of a bodiless upstream exchange, as pure functions (bytes in, values
//! out): the request head, the response head, how the response body is framed (RFC 9112 §6.3),
//! and the chunked decoder. `wire` does the IO.
//!
//! Why our own: hyper's client connection moves every exchange through a request channel, a
//! response oneshot and a body channel, each a wake-up of the task; with the connection driven
//! inline that bookkeeping was the largest share of dockside's own CPU per proxied request. A
//! request without a body needs none of it: write the head, parse the answer, hand the body's
//! bytes on as they arrive. Requests with a body (which must be streamed while an early answer
//! is watched for) and protocol upgrades stay on hyper.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode, Version};

use crate::exchange::hop::connection_tokens;

/// A response head larger than this is refused (hyper's default limit for a client is larger,
/// but no backend behind nginx-proxy gets more than nginx's 4–8 KiB `proxy_buffer_size`).
pub const MAX_HEAD: usize = 64 * 1024;

/// At most this many response header fields.
const MAX_HEADERS: usize = 128;

/// Why a response could not be understood; the connection is closed after any of them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("invalid response head: {0}")]
    Head(String),
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid Content-Length {0:?}")]
    ContentLength(String),
    #[error("HTTP/1.0 response with Transfer-Encoding")]
    TransferEncoding10,
    #[error("response with both Transfer-Encoding and Content-Length")]
    LengthAndEncoding,
    #[error("Transfer-Encoding {0:?} does not end in chunked")]
    UnframedCoding(String),
    #[error("the backend switched protocols without being asked (101)")]
    UnaskedUpgrade,
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
}

/// Appends the request head: `METHOD target HTTP/1.1`, the headers as they are (names in
/// lower case, as hyper sends them), the blank line. `target` is origin-form.
pub fn encode_request_head(method: &Method, target: &str, headers: &HeaderMap, out: &mut Vec<u8>) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (0: no body — HEAD, 204, 304, `Content-Length: 0`).
    Length(u64),
    Chunked,
    /// Until the backend closes the connection (which then cannot be reused).
    Close,
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    pub response: Response<()>,
    pub framing: Framing,
    /// Whether the connection may carry another request after this body.
    pub keep_alive: bool,
}

/// Parses a response head at the start of `buf`, consuming it. `Ok(None)`: incomplete (read
/// more). Informational answers (100 Continue, 103 Early Hints) are consumed and skipped.
pub fn parse_response_head(
    buf: &mut BytesMut,
    method: &Method,
) -> Result<Option<Head>, CodecError> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(CodecError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(CodecError::Head(format!(
                    "more than {MAX_HEADERS} header fields"
                )));
            }
            Err(e) => return Err(CodecError::Head(e.to_string())),
        };
        if len > MAX_HEAD {
            return Err(CodecError::HeadTooLarge);
        }
        let code = parsed.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| CodecError::Head(format!("status {code}")))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(CodecError::UnaskedUpgrade);
            }
            buf.advance(len);
            continue;
        }
        let version = match parsed.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        // Names are checked now; values are cut from the head's bytes once `buf` is free,
        // shared rather than copied.
        let base = buf.as_ptr() as usize;
        let mut fields = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| CodecError::Head(format!("header name {:?}", h.name)))?;
            let start = h.value.as_ptr() as usize - base;
            fields.push((name, start, start + h.value.len()));
        }
        let head = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(fields.len());
        for (name, start, end) in fields {
            let value = HeaderValue::from_maybe_shared(head.slice(start..end))
                .map_err(|_| CodecError::Head(format!("value of {name}")))?;
            headers.append(name, value);
        }
        let framing = framing(status, method, version, &mut headers)?;
        let keep_alive = framing != Framing::Close && keeps_alive(version, &headers);
        // The client gets our own HTTP version (RFC 9110 §6.2), never the backend's.
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        return Ok(Some(Head {
            response,
            framing,
            keep_alive,
        }));
    }
}

/// RFC 9112 §6.3: how the body is delimited, after `check_framing_headers`.
fn framing(
    status: StatusCode,
    method: &Method,
    version: Version,
    headers: &mut HeaderMap,
) -> Result<Framing, CodecError> {
    if version == Version::HTTP_10 && headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(CodecError::TransferEncoding10);
    }
    let declared = check_framing_headers(headers)?;
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || *method == Method::HEAD
        || (*method == Method::CONNECT && status.is_success())
    {
        return Ok(Framing::Length(0));
    }
    Ok(declared)
}

/// The one rule for a backend's framing headers, applied on both upstream paths (ours above,
/// and hyper's client, which would forward them as they are): what cannot be forwarded
/// unambiguously is refused — the caller answers 502, as nginx does, and drops the connection.
/// - `Transfer-Encoding` with `Content-Length`: the length is stale (RFC 9112 §6.3 lets an
///   intermediary reject it; forwarding it truncated the body on a kept-alive connection);
/// - a `Transfer-Encoding` whose final coding is not `chunked` (re-framing it would hand the
///   client coded bytes with no label);
/// - a `Content-Length` list whose members disagree (RFC 9110 §8.6); one whose members agree is
///   left as a single value.
///
/// Returns the framing the headers declare (`Close` when they declare none).
pub fn check_framing_headers(headers: &mut HeaderMap) -> Result<Framing, CodecError> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if headers.contains_key(header::CONTENT_LENGTH) {
            return Err(CodecError::LengthAndEncoding);
        }
        if !only_chunked(headers) {
            let codings: Vec<&str> = headers
                .get_all(header::TRANSFER_ENCODING)
                .iter()
                .map(|v| v.to_str().unwrap_or("?"))
                .collect();
            return Err(CodecError::UnframedCoding(codings.join(", ")));
        }
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    let mut listed = false;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let invalid =
            || CodecError::ContentLength(String::from_utf8_lossy(value.as_bytes()).into());
        for part in value.to_str().map_err(|_| invalid())?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let n: u64 = part.parse().map_err(|_| invalid())?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid());
            }
            listed |= length.is_some();
            length = Some(n);
        }
    }
    match length {
        Some(n) if listed => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            Ok(Framing::Length(n))
        }
        Some(n) => Ok(Framing::Length(n)),
        None => Ok(Framing::Close),
    }
}

/// Exactly one coding, `chunked`, as nginx accepts: `gzip, chunked` would hand the client
/// gzip-coded bytes with no label, and `chunked` twice is forbidden (RFC 9112 §6.1).
fn only_chunked(headers: &HeaderMap) -> bool {
    let mut codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty());
    codings
        .next()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        && codings.next().is_none()
}

/// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with
/// `Connection: keep-alive`.
fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| connection_tokens(headers).any(|t| t.eq_ignore_ascii_case(token));
    if version == Version::HTTP_10 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

/// What the chunked decoder produced from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Bytes),
    /// The buffer holds no complete piece: read more.
    More,
    /// The last chunk and the trailer section are consumed (trailers are dropped, as nginx
    /// does by default).
    End,
}

/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Streaming decoder for `Transfer-Encoding: chunked` over a read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes left.
    Data(u64),
    /// After a chunk's data: expecting its CRLF.
    DataEnd,
    /// After the last chunk: expecting trailer lines or the final blank line.
    Trailer,
    Done,
}

impl Chunked {
    /// Consumes from `buf` what it can and returns the next piece.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Chunk, CodecError> {
        loop {
            match *self {
                Chunked::Done => return Ok(Chunk::End),
                Chunked::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Chunk::More);
                    };
                    let size = chunk_size(&line)?;
                    *self = if size == 0 {
                        Chunked::Trailer
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Chunk::More);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let left = left - n as u64;
                    *self = if left == 0 {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left)
                    };
                    return Ok(Chunk::Data(buf.split_to(n).freeze()));
                }
                Chunked::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Chunk::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(CodecError::Chunked("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    *self = Chunked::Size;
                }
                Chunked::Trailer => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Chunk::More);
                    };
                    if line.is_empty() {
                        *self = Chunked::Done;
                    } else if !is_field_line(&line) {
                        return Err(CodecError::Chunked("trailer line is not a field"));
                    }
                }
            }
        }
    }
}

/// The size of a chunk-size line: hexadecimal digits, then optional whitespace, then
/// extensions after `;` (ignored, as nginx does). Every byte of the line must be text: a bare
/// CR or LF inside it is refused, since a reader that ends lines at a bare LF would find a
/// different end of the body on the same bytes (the "funky chunks" smuggling class).
fn chunk_size(line: &[u8]) -> Result<u64, CodecError> {
    if !line.iter().all(|&b| is_text(b)) {
        return Err(CodecError::Chunked("control byte in a chunk-size line"));
    }
    let end = line.iter().position(|b| *b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii_end();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(CodecError::Chunked("chunk size is not hexadecimal"));
    }
    // Only hex digits: valid UTF-8.
    let digits = std::str::from_utf8(digits).unwrap_or_default();
    u64::from_str_radix(digits, 16).map_err(|_| CodecError::Chunked("chunk size too large"))
}

/// A trailer field line (RFC 9112 §7.1.2, RFC 9110 §5.5): a token, `:`, then text (no
/// control byte but HTAB).
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon].iter().all(|&b| is_tchar(b))
        && line[colon + 1..].iter().all(|&b| is_text(b))
}

/// Field text: HTAB, SP, visible ASCII, obs-text; no other control byte.
fn is_text(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One CRLF-terminated line (without the CRLF), consumed from `buf`; `None` if incomplete.
/// A line of `MAX_LINE` bytes is accepted whatever the reads: its CR may arrive without its LF.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, CodecError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= MAX_LINE => {
            let line = buf.split_to(end);
            buf.advance(2);
            Ok(Some(line))
        }
        Some(_) => Err(CodecError::Chunked("line too long")),
        None if buf.len() > MAX_LINE + 1 => Err(CodecError::Chunked("line too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
