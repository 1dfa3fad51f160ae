//! Table tests for the HTTP/1.1 client codec.

use super::*;

fn parse(raw: &str, method: &Method) -> Result<Option<Head>, CodecError> {
    let mut buf = BytesMut::from(raw.as_bytes());
    parse_response_head(&mut buf, method)
}

fn framing_of(raw: &str, method: &Method) -> Result<(Framing, bool), CodecError> {
    parse(raw, method).map(|h| {
        let h = h.expect("complete head");
        (h.framing, h.keep_alive)
    })
}

#[test]
fn the_request_head_is_the_method_target_and_headers_as_given() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("app.test:8080"));
    headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    headers.append("x-multi", HeaderValue::from_static("a"));
    headers.append("x-multi", HeaderValue::from_static("b"));
    let mut out = Vec::new();
    encode_request_head(&Method::GET, "/a/b?c=1", &headers, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /a/b?c=1 HTTP/1.1\r\nhost: app.test:8080\r\nx-forwarded-for: 10.0.0.1\r\n\
         x-multi: a\r\nx-multi: b\r\n\r\n"
    );
}

#[test]
fn a_response_head_is_parsed_and_consumed_leaving_the_body() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello"[..],
    );
    let head = parse_response_head(&mut buf, &Method::GET)
        .unwrap()
        .unwrap();
    assert_eq!(head.response.status(), StatusCode::CREATED);
    assert_eq!(head.response.version(), Version::HTTP_11);
    let all: Vec<_> = head.response.headers().get_all("x-a").iter().collect();
    assert_eq!(all, ["1", "2"]);
    assert_eq!(head.framing, Framing::Length(5));
    assert!(head.keep_alive);
    assert_eq!(&buf[..], b"hello");
}

#[test]
fn an_incomplete_head_asks_for_more_and_consumes_nothing() {
    for cut in [
        "",
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
    ] {
        let mut buf = BytesMut::from(cut.as_bytes());
        assert!(
            parse_response_head(&mut buf, &Method::GET)
                .unwrap()
                .is_none()
        );
        assert_eq!(buf.len(), cut.len());
    }
}

#[test]
fn informational_answers_are_skipped_and_an_unasked_101_is_refused() {
    let (framing, _) = framing_of(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        &Method::GET,
    )
    .unwrap();
    assert_eq!(framing, Framing::Length(2));
    assert!(
        parse("HTTP/1.1 100 Continue\r\n\r\n", &Method::GET)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", &Method::GET).unwrap_err(),
        CodecError::UnaskedUpgrade
    );
}

#[test]
fn body_framing_follows_rfc_9112() {
    use Framing::*;
    let cases: &[(&str, Method, Framing, bool)] = &[
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            Method::GET,
            Length(10),
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            Method::HEAD,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 204 No Content\r\n\r\n",
            Method::GET,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            Method::GET,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Method::GET,
            Chunked,
            true,
        ),
        ("HTTP/1.1 200 OK\r\n\r\n", Method::GET, Close, false),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\n\r\n",
            Method::GET,
            Length(4),
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\n",
            Method::GET,
            Length(4),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n",
            Method::GET,
            Length(4),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 4\r\nConnection: Keep-Alive\r\n\r\n",
            Method::GET,
            Length(4),
            true,
        ),
    ];
    for (raw, method, framing, keep_alive) in cases {
        assert_eq!(
            framing_of(raw, method).unwrap(),
            (*framing, *keep_alive),
            "{raw:?} to {method}"
        );
    }
}

#[test]
fn framing_headers_are_normalised_for_the_client() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.0 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello"[..],
    );
    let head = parse_response_head(&mut buf, &Method::GET)
        .unwrap()
        .unwrap();
    let lengths: Vec<_> = head
        .response
        .headers()
        .get_all("content-length")
        .iter()
        .collect();
    assert_eq!(lengths, ["5"]);
    assert_eq!(head.framing, Framing::Length(5));
    // Our own version goes to the client, not the backend's HTTP/1.0.
    assert_eq!(head.response.version(), Version::HTTP_11);
    assert!(!head.keep_alive, "HTTP/1.0 without keep-alive");
}

#[test]
fn bad_heads_are_errors() {
    let bad = [
        "HTTP/1.1 200 OK\r\nContent-Length: 4, 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +4\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
    ];
    for raw in bad {
        assert!(parse(raw, &Method::GET).is_err(), "{raw:?}");
    }
    let huge = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(
        parse(&huge, &Method::GET).unwrap_err(),
        CodecError::HeadTooLarge
    );
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let raw = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
    assert!(matches!(
        parse(&raw, &Method::GET),
        Err(CodecError::Head(_))
    ));
}

/// Feeds `wire` to the decoder in pieces of `step` bytes; returns the data and whether it ended.
fn dechunk(wire: &[u8], step: usize) -> Result<(Vec<u8>, bool), CodecError> {
    let mut dec = Chunked::Size;
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for piece in wire.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf)? {
                Chunk::Data(d) => data.extend_from_slice(&d),
                Chunk::More => break,
                Chunk::End => return Ok((data, true)),
            }
        }
    }
    Ok((data, false))
}

#[test]
fn chunked_bodies_decode_whatever_the_read_sizes() {
    let wire = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    for step in [1, 2, 3, 7, 64] {
        let (data, ended) = dechunk(wire, step).unwrap();
        assert_eq!(data, b"hello 0123456789", "step {step}");
        assert!(ended, "step {step}");
    }
    let (data, ended) = dechunk(b"5\r\nhel", 64).unwrap();
    assert_eq!((data.as_slice(), ended), (&b"hel"[..], false));
}

#[test]
fn bad_chunked_bodies_are_errors() {
    for wire in [
        &b"x\r\n"[..],
        b"\r\n",
        b"5\r\nhelloXX",
        b"fffffffffffffffffffff\r\n",
    ] {
        assert!(
            dechunk(wire, 64).is_err(),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let long = vec![b'1'; MAX_LINE + 10];
    assert!(dechunk(&long, 64).is_err());
}

#[test]
fn chunk_lines_with_a_bare_cr_or_lf_or_a_trailer_that_is_no_field_are_errors() {
    // Each of these is complete to a reader that ends lines at a bare LF, at another place
    // than the CRLF reading (or takes the stray line for the end of the trailers).
    for wire in [
        &b"5;a\nb\r\nhello\r\n0\r\n\r\n"[..],
        b"5;a\rb\r\nhello\r\n0\r\n\r\n",
        b"0\r\n\nX: 1\r\n\r\n",
        b"0\r\nnot a field\r\n\r\n",
        b"0\r\n: no name\r\n\r\n",
        b"0\r\nX: a\x00b\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5\x0b\r\nhello\r\n0\r\n\r\n",
    ] {
        assert!(
            dechunk(wire, 64).is_err(),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    // Allowed: whitespace before extensions or the line's end, obs-text in an extension.
    let (data, ended) = dechunk(
        b"5 \r\nhello\r\n5\t;x=\"\xe9\"\r\nworld\r\n0\r\nX: \xe9\r\n\r\n",
        3,
    )
    .unwrap();
    assert_eq!((data.as_slice(), ended), (&b"helloworld"[..], true));
}

#[test]
fn a_line_of_the_longest_length_is_accepted_whatever_the_reads() {
    let mut line = b"5;".to_vec();
    line.resize(MAX_LINE, b'x');
    let wire = [&line[..], b"\r\nhello\r\n0\r\n\r\n"].concat();
    // The first read ends between the line's CR and its LF.
    for step in [MAX_LINE + 1, 64, 4097, 5000] {
        let (data, ended) = dechunk(&wire, step).unwrap();
        assert_eq!(
            (data.as_slice(), ended),
            (&b"hello"[..], true),
            "step {step}"
        );
    }
    line.push(b'x');
    let too_long = [&line[..], b"\r\nhello\r\n0\r\n\r\n"].concat();
    assert!(dechunk(&too_long, MAX_LINE + 1).is_err());
    assert!(dechunk(&too_long, 64).is_err());
}
