//! A backend response on arbitrary bytes, read by the HTTP/1.1 client codec (response head,
//! then the body by its framing: length, chunked, or close) as `wire` reads it: never panics;
//! the same result whatever the read sizes; never more body than the framing allows; and a
//! message the codec finds complete is complete, with the same body and end, by the strict
//! reading of `codec_check::reference`. The first byte picks the method (GET or HEAD) and the
//! read size.
#![no_main]

use dockside_fuzz::upstream::h1::codec::Framing;
use dockside_fuzz::upstream::h1::codec_check::{End, read, reference};
use http::Method;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let method = if first & 1 == 1 {
        Method::HEAD
    } else {
        Method::GET
    };
    let step = usize::from(first >> 1) + 1;
    let whole = read(&[bytes], &method);
    let pieces: Vec<&[u8]> = bytes.chunks(step).collect();
    assert_eq!(read(&pieces, &method), whole, "read {step} bytes at a time");
    let Some((_, framing, head_len)) = whole.head else {
        assert!(whole.body.is_empty());
        return;
    };
    assert!(whole.body.len() <= bytes.len() - head_len);
    if let Framing::Length(n) = framing {
        assert!(whole.body.len() as u64 <= n);
    }
    if let End::Complete(at) = whole.end {
        assert!(at <= bytes.len());
        assert_eq!(
            reference(bytes, head_len, &method),
            Some((framing, whole.body.clone(), End::Complete(at)))
        );
    }
});
