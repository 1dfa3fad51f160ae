//! The PROXY protocol header decoder on arbitrary bytes: never panics; a complete header is
//! complete, with the same addresses, on exactly its own bytes, and every shorter prefix of it
//! is incomplete ("incomplete" never hides "valid", so a trickled header is always accepted).
#![no_main]

use dockside_fuzz::server::proxy_header::{Decoded, MAX_V2, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Decoded::Complete(header)) = decode(data) else {
        return;
    };
    assert!(header.len > 0 && header.len <= data.len().min(MAX_V2));
    assert_eq!(decode(&data[..header.len]), Ok(Decoded::Complete(header)));
    for n in 0..header.len {
        assert_eq!(
            decode(&data[..n]),
            Ok(Decoded::Incomplete),
            "prefix of {n} bytes"
        );
    }
});
