//! The response-head parser on arbitrary bytes: never panics; a complete head is also complete
//! on exactly its own bytes and incomplete one byte earlier ("incomplete" never hides "valid").
#![no_main]

use dockside_fuzz::upstream::uwsgi::codec::{MAX_HEAD_LEN, Parsed, parse_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Parsed::Complete { head, consumed }) = parse_head(data) else {
        return;
    };
    assert!(consumed > 0 && consumed <= data.len().min(MAX_HEAD_LEN));
    match parse_head(&data[..consumed]) {
        Ok(Parsed::Complete {
            head: again,
            consumed: n,
        }) => {
            assert_eq!((again, n), (head, consumed));
        }
        other => panic!("complete head not complete on its own bytes: {other:?}"),
    }
    assert_eq!(parse_head(&data[..consumed - 1]), Ok(Parsed::Incomplete));
});
