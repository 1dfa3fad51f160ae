//! The yardstick for `codec`'s property tests and its fuzz target (`fuzz/fuzz_targets/
//! h1_response.rs`): `read` drives the codec over a response split into reads, the way `wire`
//! does; `reference` is a strict, whole-message reading of the same bytes written apart from the
//! codec (slow, simple, no streaming), so that a complete message the codec reports can be held
//! to it. Test code only: compiled under `cfg(test)` here and into the fuzz crate.

use bytes::BytesMut;
use http::Method;

use super::codec::{Chunk, Chunked, Framing, parse_response_head};

/// How a reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The message ended after this many bytes of the input.
    Complete(usize),
    /// The input ran out first.
    Incomplete,
    /// The bytes are refused.
    Invalid,
}

/// What the codec made of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The final answer's status, its framing, and the bytes of every head (1xx included).
    pub head: Option<(u16, Framing, usize)>,
    pub body: Vec<u8>,
    pub end: End,
}

/// Reads `pieces` (one read each, then EOF) as the answer to `method`, with the codec, as
/// `wire` does: the head, then the body by its framing.
pub fn read(pieces: &[&[u8]], method: &Method) -> Outcome {
    let mut reads = pieces.iter();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut more = |buf: &mut BytesMut| {
        let piece = reads.next()?;
        buf.extend_from_slice(piece);
        fed += piece.len();
        Some(fed)
    };
    let mut total = 0;
    let mut outcome = Outcome {
        head: None,
        body: Vec::new(),
        end: End::Incomplete,
    };
    let head = loop {
        match parse_response_head(&mut buf, method) {
            Err(_) => {
                outcome.end = End::Invalid;
                return outcome;
            }
            Ok(Some(head)) => break head,
            Ok(None) => match more(&mut buf) {
                Some(n) => total = n,
                None => return outcome,
            },
        }
    };
    let head_len = total - buf.len();
    outcome.head = Some((head.response.status().as_u16(), head.framing, head_len));
    let consumed = |total: usize, buf: &BytesMut| End::Complete(total - buf.len());
    match head.framing {
        Framing::Length(mut left) => loop {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            outcome.body.extend_from_slice(&buf.split_to(n));
            left -= n as u64;
            if left == 0 {
                outcome.end = consumed(total, &buf);
                return outcome;
            }
            match more(&mut buf) {
                Some(n) => total = n,
                None => return outcome,
            }
        },
        Framing::Chunked => {
            let mut decoder = Chunked::Size;
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Chunk::Data(data)) => outcome.body.extend_from_slice(&data),
                    Ok(Chunk::End) => {
                        outcome.end = consumed(total, &buf);
                        return outcome;
                    }
                    Ok(Chunk::More) => match more(&mut buf) {
                        Some(n) => total = n,
                        None => return outcome,
                    },
                    Err(_) => {
                        outcome.end = End::Invalid;
                        return outcome;
                    }
                }
            }
        }
        Framing::Close => {
            while let Some(n) = more(&mut buf) {
                total = n;
            }
            outcome.body = buf.to_vec();
            outcome.end = End::Complete(total);
            outcome
        }
    }
}

/// The strict reading of the body that follows the head the codec consumed (`input[..head_len]`):
/// the framing from the last head's own lines (RFC 9112 §6.3), then the body from the rest of
/// the input, with the input's end as EOF. `None`: the framing headers are refused.
pub fn reference(
    input: &[u8],
    head_len: usize,
    method: &Method,
) -> Option<(Framing, Vec<u8>, End)> {
    let framing = reference_framing(&input[..head_len], method)?;
    let rest = &input[head_len..];
    let (body, end) = match framing {
        Framing::Length(n) => match usize::try_from(n) {
            Ok(n) if n <= rest.len() => (rest[..n].to_vec(), End::Complete(head_len + n)),
            _ => (rest.to_vec(), End::Incomplete),
        },
        Framing::Close => (rest.to_vec(), End::Complete(input.len())),
        Framing::Chunked => match reference_chunked(rest) {
            Ok(Some((body, n))) => (body, End::Complete(head_len + n)),
            Ok(None) => (Vec::new(), End::Incomplete),
            Err(()) => (Vec::new(), End::Invalid),
        },
    };
    Some((framing, body, end))
}

/// The framing the last head in `heads` declares; `None` if it cannot be forwarded.
fn reference_framing(heads: &[u8], method: &Method) -> Option<Framing> {
    let lines: Vec<&[u8]> = heads
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let start = lines.iter().rposition(|l| l.starts_with(b"HTTP/"))?;
    let status_line = lines[start];
    let version_10 = status_line.starts_with(b"HTTP/1.0");
    let status: u16 = std::str::from_utf8(status_line.get(9..12)?)
        .ok()?
        .parse()
        .ok()?;
    let mut lengths = Vec::new();
    let mut codings = Vec::new();
    let mut encoded = false;
    for line in &lines[start + 1..] {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = std::str::from_utf8(&line[colon + 1..]).ok();
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value?.split(',') {
                let part = part.trim_matches([' ', '\t']);
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                lengths.push(part.parse::<u64>().ok()?);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            encoded = true;
            codings.extend(
                value?
                    .split(',')
                    .map(|c| c.trim_matches([' ', '\t']).to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            );
        }
    }
    let declared = if encoded {
        if version_10 || !lengths.is_empty() || codings != ["chunked"] {
            return None;
        }
        Framing::Chunked
    } else if let Some(first) = lengths.first() {
        if lengths.iter().any(|l| l != first) {
            return None;
        }
        Framing::Length(*first)
    } else {
        Framing::Close
    };
    let bodiless = status == 204
        || status == 304
        || *method == Method::HEAD
        || (*method == Method::CONNECT && (200..300).contains(&status));
    Some(if bodiless {
        Framing::Length(0)
    } else {
        declared
    })
}

/// A chunked body at the start of `data` by the letter of RFC 9112 §7.1: `Ok(Some((body,
/// length)))` when complete, `Ok(None)` when `data` ends first, `Err` when it breaks the grammar.
/// Extensions are any text after `;` (not parsed further, as the codec ignores them); lines end
/// in CRLF only.
pub fn reference_chunked(data: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ()> {
    let mut at = 0;
    let mut body = Vec::new();
    let line = |at: usize| -> Result<Option<(&[u8], usize)>, ()> {
        let Some(rel) = data[at..].iter().position(|b| *b == b'\n') else {
            return Ok(None);
        };
        let l = &data[at..at + rel];
        let l = l.strip_suffix(b"\r").ok_or(())?;
        if !l.iter().all(|&b| is_text(b)) {
            return Err(());
        }
        Ok(Some((l, at + rel + 1)))
    };
    loop {
        let Some((size_line, next)) = line(at)? else {
            return Ok(None);
        };
        let digits_end = size_line
            .iter()
            .position(|b| !b.is_ascii_hexdigit())
            .unwrap_or(size_line.len());
        let (digits, after) = size_line.split_at(digits_end);
        let after = after.trim_ascii_start();
        if digits.is_empty() || !(after.is_empty() || after[0] == b';') {
            return Err(());
        }
        let size = u64::from_str_radix(std::str::from_utf8(digits).map_err(|_| ())?, 16)
            .map_err(|_| ())?;
        at = next;
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).map_err(|_| ())?;
        if data.len() - at < size {
            return Ok(None);
        }
        body.extend_from_slice(&data[at..at + size]);
        at += size;
        match data.get(at..at + 2) {
            Some(b"\r\n") => at += 2,
            Some(_) => return Err(()),
            None if data[at..] == *b"\r" || data[at..].is_empty() => return Ok(None),
            None => return Err(()),
        }
    }
    loop {
        let Some((field, next)) = line(at)? else {
            return Ok(None);
        };
        at = next;
        if field.is_empty() {
            return Ok(Some((body, at)));
        }
        let colon = field.iter().position(|b| *b == b':').ok_or(())?;
        if colon == 0 || !field[..colon].iter().all(|&b| is_tchar(b)) {
            return Err(());
        }
    }
}

fn is_text(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
