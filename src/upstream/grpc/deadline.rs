//! The `grpc-timeout` request header (gRPC over HTTP/2 spec): a call's deadline, which
//! dockside honours up to the location's upstream timeout. Pure: a header value in, a duration
//! (or "not a valid timeout") out.

use std::time::Duration;

/// The client's deadline from `grpc-timeout`: 1 to 8 ASCII digits and a unit (`H`ours,
/// `M`inutes, `S`econds, `m`illiseconds, `u`/microseconds, `n`anoseconds). `None` for anything
/// else: a malformed header is left to the backend, as if no deadline were set.
pub fn parse(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
