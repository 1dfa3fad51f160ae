//! The request path as routing and the backends see it: normalised once, before the location
//! is chosen, the way nginx builds `$uri` — so that `VIRTUAL_PATH`, the `VIRTUAL_DEST` rewrite
//! and uwsgi's `PATH_INFO` all work on a path that cannot climb out of the location it matched.
//!
//! The steps (RFC 3986 §6.2.2 and §5.2.4, plus nginx's `merge_slashes on`):
//! 1. `%XX` of an unreserved character (`A-Z a-z 0-9 - . _ ~`) is decoded; every other escape
//!    stays encoded, with upper-case hex (`%2f` → `%2F`: an encoded slash is not a separator,
//!    so `group%2Fproject` keeps its meaning for the backends that rely on it);
//! 2. runs of `/` become one;
//! 3. `.` and `..` segments are removed.
//!
//! A path is refused (400) when a `..` would climb above `/`, when an escape decodes to NUL or a
//! control character, when an escape is malformed, or when a segment hides a `..` behind an
//! encoded slash or a backslash (`..%2F`, `%5C..`): a backend that decodes those would walk out
//! of its tree although the path looked contained here.
//!
//! Most paths need none of this: one scan finds no `%`, `\`, `//` or `/.` and the path is
//! borrowed as it is.

use std::borrow::Cow;

/// Why a request path is refused; the client gets 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path climbs above the root with '..'")]
    AboveRoot,
    #[error("the path hides a '..' segment behind an encoded slash or a backslash")]
    HiddenDotSegment,
    #[error("the path encodes NUL or a control character")]
    ControlCharacter,
    #[error("the path has a malformed percent-escape")]
    BadEscape,
}

/// The normalised form of `raw` (the path of the request target, without the query). A target
/// that is not a path (`*` of `OPTIONS *`, or the empty path of a `CONNECT`) is returned as is.
pub fn normalize(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') || is_normal(raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    let decoded = decode_unreserved(raw.as_bytes())?;
    let mut out = String::with_capacity(decoded.len());
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/').skip(1) {
        trailing_slash = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(PathError::AboveRoot)?;
            }
            other if hides_dot_segment(other) => return Err(PathError::HiddenDotSegment),
            other => segments.push(other),
        }
    }
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Whether the path has nothing to normalise: no escape, no backslash, no empty segment and no
/// segment starting with a dot (a superset of the dot segments, checked exactly when found).
fn is_normal(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in path {
        match b {
            b'%' | b'\\' => return false,
            b'/' | b'.' if prev == b'/' => return false,
            _ => {}
        }
        prev = b;
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Step 1: unreserved escapes decoded, the others kept with upper-case hex; NUL and control
/// characters refused wherever they are encoded.
fn decode_unreserved(raw: &[u8]) -> Result<String, PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(PathError::BadEscape);
        };
        let value = hi << 4 | lo;
        if value < 0x20 || value == 0x7f {
            return Err(PathError::ControlCharacter);
        }
        if is_unreserved(value) {
            out.push(value);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(hi)], HEX[usize::from(lo)]]);
        }
        i += 3;
    }
    // The input was a `&str` and only ASCII bytes were decoded into it.
    String::from_utf8(out).map_err(|_| PathError::BadEscape)
}

/// Whether a segment, read by a backend that also splits on `%2F`, `%5C` and `\`, has a `..`
/// piece (after step 1 the escapes are upper case).
fn hides_dot_segment(segment: &str) -> bool {
    segment.contains(['%', '\\'])
        && segment
            .replace("%2F", "/")
            .replace("%5C", "/")
            .replace('\\', "/")
            .split('/')
            .any(|piece| piece == "..")
}

#[cfg(test)]
#[path = "uri_path_tests.rs"]
mod tests;
