//! Table and every-prefix tests for the uwsgi codec.

use super::*;

#[test]
fn packet_layout_matches_what_nginx_sends() {
    let mut enc = PacketEncoder::new();
    enc.push(b"REQUEST_METHOD", b"GET").unwrap();
    enc.push(b"A", b"").unwrap();
    let pkt = enc.finish();
    let mut want = vec![0u8, 26, 0, 0];
    want.extend_from_slice(&[14, 0]);
    want.extend_from_slice(b"REQUEST_METHOD");
    want.extend_from_slice(&[3, 0]);
    want.extend_from_slice(b"GET");
    want.extend_from_slice(&[1, 0, b'A', 0, 0]);
    assert_eq!(pkt, want);
    let vars = decode_packet(&pkt).unwrap().unwrap();
    assert_eq!(
        vars,
        vec![(&b"REQUEST_METHOD"[..], &b"GET"[..]), (&b"A"[..], &b""[..])]
    );
}

#[test]
fn lengths_are_bounded_never_truncated() {
    let mut enc = PacketEncoder::new();
    let big = vec![b'x'; 65536];
    assert_eq!(
        enc.push(&big, b"v"),
        Err(EncodeError::KeyTooLong { len: 65536 })
    );
    assert!(matches!(
        enc.push(b"K", &big),
        Err(EncodeError::ValueTooLong { len: 65536, .. })
    ));
    // The largest value that fits: 4 length bytes + 1 key byte + value == 65535.
    let fits = vec![b'y'; MAX_VARS_LEN - 5];
    enc.push(b"K", &fits).unwrap();
    assert_eq!(enc.vars_len(), MAX_VARS_LEN);
    assert_eq!(
        enc.push(b"", b""),
        Err(EncodeError::BlockTooLarge {
            len: MAX_VARS_LEN + 4
        })
    );
    let pkt = enc.finish();
    assert_eq!(&pkt[..4], &[0, 0xff, 0xff, 0]);
    assert_eq!(pkt.len(), 4 + MAX_VARS_LEN);
    assert_eq!(decode_packet(&pkt).unwrap().unwrap()[0].1.len(), 65530);
}

#[test]
fn decode_every_prefix_is_incomplete_and_bad_lengths_are_errors() {
    let mut enc = PacketEncoder::new();
    enc.push(b"PATH_INFO", b"/a/b").unwrap();
    enc.push(b"QUERY_STRING", b"x=1").unwrap();
    let pkt = enc.finish();
    for n in 0..pkt.len() {
        assert_eq!(decode_packet(&pkt[..n]), Ok(None), "prefix {n}");
    }
    assert_eq!(decode_packet(&[1, 0, 0, 0]), Err(DecodeError::Modifier));
    assert_eq!(
        decode_packet(&[0, 3, 0, 0, 9, 0, b'a']),
        Err(DecodeError::Overrun)
    );
}

const VALID_HEADS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.0 404 Not Found\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
    b"Status: 201 Created\r\nContent-Type: a/b\r\n\r\n",
    b"Location: /elsewhere\r\n\r\n",
    b"Content-Type: text/html\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/2.0 200 OK\r\nX: y\r\n\r\n",
    b"HTTP/1.1 200\nX: y\n\n",
    b"\r\n",
];

#[test]
fn every_prefix_of_a_valid_head_is_incomplete() {
    for full in VALID_HEADS {
        for n in 0..full.len() {
            assert_eq!(
                parse_head(&full[..n]),
                Ok(Parsed::Incomplete),
                "prefix {n} of {:?}",
                String::from_utf8_lossy(full)
            );
        }
        let mut with_body = full.to_vec();
        with_body.extend_from_slice(b"body");
        match parse_head(&with_body) {
            Ok(Parsed::Complete { consumed, .. }) => assert_eq!(consumed, full.len()),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(full)),
        }
    }
}

fn complete(input: &[u8]) -> ResponseHead {
    match parse_head(input) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn status_comes_from_the_line_the_status_header_or_location() {
    let cases: &[(&[u8], u16)] = &[
        (b"HTTP/1.1 200 OK\r\n\r\n", 200),
        (b"HTTP/2.0 201 Created\r\n\r\n", 201),
        (b"HTTP/1.0 404\r\n\r\n", 404),
        (b"HTTP/1.1 503 Busy\r\nStatus: 200 OK\r\n\r\n", 503),
        (b"Status: 404 Not Found\r\n\r\n", 404),
        (b"Status: 304\r\n\r\n", 304),
        (b"Location: /x\r\n\r\n", 302),
        (b"Status: 301 Moved\r\nLocation: /x\r\n\r\n", 301),
        (b"X-Only: 1\r\n\r\n", 200),
    ];
    for (input, want) in cases {
        let head = complete(input);
        assert_eq!(
            head.status.as_u16(),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!head.headers.contains_key("status"));
    }
}

#[test]
fn repeated_headers_are_kept_in_order() {
    let head = complete(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n");
    let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn invalid_heads_are_errors_not_incomplete() {
    let cases: &[&[u8]] = &[
        b"HTTP/x.0 200 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200OK\r\n\r\n",
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"Status: abc\r\n\r\n",
        b"Status: 99\r\n\r\n",
        b"Status: 2000\r\n\r\n",
        b"Status: 101 Switching\r\n\r\n",
        b"Bad Header Name: x\r\n\r\n",
        b"X: \x01\r\n\r\n",
        b"\0\0\0",
    ];
    for input in cases {
        assert!(
            parse_head(input).is_err(),
            "{:?} → {:?}",
            String::from_utf8_lossy(input),
            parse_head(input)
        );
    }
}

#[test]
fn head_size_and_header_count_are_bounded() {
    let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long.resize(MAX_HEAD_LEN, b'a');
    assert_eq!(parse_head(&long), Err(HeadError::TooLarge));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_head(&many),
        Err(HeadError::Malformed(httparse::Error::TooManyHeaders))
    );
}
