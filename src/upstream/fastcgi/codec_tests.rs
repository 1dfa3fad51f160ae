use super::*;

fn record(kind: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    let mut out = Header {
        kind,
        request_id: id,
        content_len: content.len() as u16,
        padding_len: padding,
    }
    .encode()
    .to_vec();
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0xAA, usize::from(padding)));
    out
}

fn end_request(app: u32, proto: u8) -> Vec<u8> {
    let mut body = app.to_be_bytes().to_vec();
    body.extend_from_slice(&[proto, 0, 0, 0]);
    record(kind::END_REQUEST, 1, &body, 0)
}

#[test]
fn every_prefix_of_each_record_is_incomplete_and_the_whole_is_complete() {
    let cases = [
        record(kind::STDOUT, 1, b"Status: 200\r\n\r\nhi", 6),
        record(kind::STDERR, 1, b"PHP Warning", 0),
        record(kind::STDOUT, 1, b"", 0),
        end_request(0, 0),
    ];
    for bytes in &cases {
        for n in 0..bytes.len() {
            assert_eq!(
                parse_record(&bytes[..n]),
                Ok(Parsed::Incomplete),
                "prefix {n} of {bytes:?}"
            );
        }
        let Ok(Parsed::Complete { consumed, .. }) = parse_record(bytes) else {
            panic!("whole record {bytes:?}");
        };
        assert_eq!(consumed, bytes.len(), "padding is consumed too");
    }
}

#[test]
fn records_decode_to_their_content_and_status() {
    let out = record(kind::STDOUT, 1, b"abc", 5);
    let mut two = out.clone();
    two.extend(end_request(255, 2));
    let Ok(Parsed::Complete { value, consumed }) = parse_record(&two) else {
        panic!()
    };
    assert_eq!(value, Record::Stdout { content: 8..11 });
    assert_eq!(&two[8..11], b"abc");
    let Ok(Parsed::Complete { value, .. }) = parse_record(&two[consumed..]) else {
        panic!()
    };
    let Record::EndRequest(end) = value else {
        panic!("{value:?}")
    };
    assert_eq!(end.app_status, 255);
    assert!(!end.is_complete(), "OVERLOADED is not a served request");
    let err = record(kind::STDERR, 1, b"oops", 0);
    assert!(matches!(
        parse_record(&err),
        Ok(Parsed::Complete {
            value: Record::Stderr { .. },
            ..
        })
    ));
}

#[test]
fn invalid_records_are_errors_not_incomplete() {
    let mut bad_version = record(kind::STDOUT, 1, b"x", 0);
    bad_version[0] = 2;
    assert_eq!(parse_record(&bad_version), Err(RecordError::Version(2)));
    // Already the first byte says so: no waiting for more from a non-FastCGI peer.
    assert_eq!(parse_record(b"H"), Err(RecordError::Version(b'H')));
    assert_eq!(
        parse_record(&record(kind::STDOUT, 7, b"x", 0)),
        Err(RecordError::RequestId(7))
    );
    assert_eq!(
        parse_record(&record(kind::END_REQUEST, 1, b"1234", 0)),
        Err(RecordError::EndRequestLength(4))
    );
    assert_eq!(
        parse_record(&record(kind::PARAMS, 1, b"", 0)),
        Err(RecordError::UnexpectedType(kind::PARAMS))
    );
    // Wrong type or id is decided from the header alone.
    assert_eq!(
        parse_record(&record(11, 1, b"xxxxxxxx", 0)[..8]),
        Err(RecordError::UnexpectedType(11))
    );
}

#[test]
fn params_round_trip_with_one_and_four_byte_lengths() {
    let long_name = vec![b'N'; 127];
    let long_value = vec![b'v'; 128];
    let huge = vec![b'h'; 70_000];
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"SCRIPT_FILENAME", b"/var/www/public/index.php"),
        (b"EMPTY", b""),
        (&long_name, b"x"),
        (b"LONG", &long_value),
        (b"HUGE", &huge),
    ];
    let mut stream = Vec::new();
    for (n, v) in &pairs {
        push_param(&mut stream, n, v).unwrap();
    }
    // 127 fits one byte; 128 takes four with the top bit set.
    let at = stream
        .windows(4)
        .position(|w| w == [0x80, 0, 0, 128])
        .is_some();
    assert!(at, "128-byte value uses a 4-byte length");
    assert_eq!(decode_params(&stream).unwrap(), pairs);
    // Every proper prefix that cuts a pair is an overrun for the whole-stream decoder.
    for n in [1, 2, 5, stream.len() - 1] {
        assert_eq!(
            decode_params(&stream[..n]),
            Err(DecodeError::Overrun),
            "{n}"
        );
    }
}

#[test]
fn params_past_the_bound_are_refused() {
    let mut stream = Vec::new();
    let big = vec![b'x'; MAX_PARAMS_LEN];
    assert!(matches!(
        push_param(&mut stream, b"X", &big),
        Err(ParamsError::BlockTooLarge { .. })
    ));
    assert!(stream.is_empty(), "nothing half-written");
    let mut out = Vec::new();
    assert!(push_len(&mut out, 0x8000_0000).is_err());
    assert!(push_len(&mut out, 0x7fff_ffff).is_ok());
}

#[test]
fn streams_are_split_into_records_and_terminated() {
    let data = vec![7u8; MAX_CONTENT + 10];
    let mut out = Vec::new();
    frame_stream(&mut out, kind::STDIN, &data);
    let mut at = 0;
    let mut lens = Vec::new();
    while at < out.len() {
        let Ok(Parsed::Complete { value: h, .. }) = parse_header(&out[at..]) else {
            panic!()
        };
        assert_eq!((h.kind, h.request_id, h.padding_len), (kind::STDIN, 1, 0));
        lens.push(usize::from(h.content_len));
        at += HEADER_LEN + h.body_len();
    }
    assert_eq!(lens, vec![MAX_CONTENT, 10, 0]);
    let begin = begin_request(true);
    assert_eq!(&begin[..8], &[1, kind::BEGIN_REQUEST, 0, 1, 0, 8, 0, 0]);
    assert_eq!(&begin[8..11], &[0, 1, 1], "responder, keep-conn");
    assert_eq!(begin_request(false)[10], 0);
}
