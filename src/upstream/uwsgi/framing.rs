//! How the body after a uwsgi response head ends, pure: decided from the request method, the
//! status and the app's headers, which are cleaned of hop-by-hop fields on the way.
//!
//! uWSGI closes the connection after each response, so a body without `Content-Length` runs to
//! EOF; with one, an early EOF is a truncation the client must see as an error.

use http::{HeaderMap, Method, StatusCode, header};

use super::codec::ResponseHead;
use crate::exchange::hop::{self, strip_hop_by_hop};

/// Where the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body may be sent (HEAD, 204, 304): whatever the app wrote is discarded.
    Empty,
    /// Exactly this many bytes; fewer before EOF is an error.
    Length(u64),
    /// Until uWSGI closes the connection.
    UntilClose,
}

/// An app response whose framing cannot be trusted (the backend is at fault: 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("invalid Content-Length")]
    BadLength,
    #[error("conflicting Content-Length values")]
    ConflictingLength,
    #[error("the app sent Transfer-Encoding; uwsgi bodies are raw until close")]
    TransferEncoding,
}

/// Strips hop-by-hop headers from `head` and decides how its body is framed.
pub fn response_framing(method: &Method, head: &mut ResponseHead) -> Result<Framing, FramingError> {
    strip_hop_by_hop(&mut head.headers, hop::Framing::Keep);
    let status = head.status;
    let no_body = method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if no_body {
        head.headers.remove(header::TRANSFER_ENCODING);
        if status == StatusCode::NO_CONTENT {
            head.headers.remove(header::CONTENT_LENGTH);
        }
        return Ok(Framing::Empty);
    }
    if head.headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(FramingError::TransferEncoding);
    }
    match content_length(&head.headers)? {
        Some(n) => Ok(Framing::Length(n)),
        None => Ok(Framing::UntilClose),
    }
}

/// One agreed Content-Length (repeats allowed only when equal, as RFC 9110 permits).
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, FramingError> {
    let mut found = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value
            .to_str()
            .map_err(|_| FramingError::BadLength)?
            .split(',')
        {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FramingError::BadLength);
            }
            let n: u64 = part.parse().map_err(|_| FramingError::BadLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(FramingError::ConflictingLength);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
