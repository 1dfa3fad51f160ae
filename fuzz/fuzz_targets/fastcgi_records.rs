//! The FastCGI codec on arbitrary bytes: a record that parses is complete on exactly its own
//! bytes and incomplete on every shorter prefix ("incomplete" never hides "valid" or
//! "invalid"), its content lies inside it; and name-value pairs round-trip through the encoder.
#![no_main]

use dockside_fuzz::upstream::fastcgi::codec::{
    Parsed, Record, decode_params, parse_record, push_param,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Complete { value, consumed }) = parse_record(data) {
        assert!(consumed >= 8 && consumed <= data.len());
        if let Record::Stdout { content } | Record::Stderr { content } = &value {
            assert!(content.start == 8 && content.end <= consumed);
        }
        assert_eq!(
            parse_record(&data[..consumed]),
            Ok(Parsed::Complete {
                value: value.clone(),
                consumed
            })
        );
        for n in [0, 1, 7, 8, consumed - 1] {
            if n < consumed {
                assert_eq!(parse_record(&data[..n]), Ok(Parsed::Incomplete), "prefix {n}");
            }
        }
    }
    // Pairs split on 0xFF: whatever is accepted decodes back to exactly the same pairs.
    let fields: Vec<&[u8]> = data.split(|b| *b == 0xff).collect();
    let mut stream = Vec::new();
    let mut pairs = Vec::new();
    for pair in fields.chunks(2) {
        let (name, value) = (pair[0], pair.get(1).copied().unwrap_or_default());
        if push_param(&mut stream, name, value).is_ok() {
            pairs.push((name, value));
        }
    }
    assert_eq!(decode_params(&stream).unwrap(), pairs);
    let _ = decode_params(data);
});
