use super::*;
use crate::upstream::uwsgi::codec::{Parsed, parse_head};

fn framing(method: Method, raw: &str) -> (Result<Framing, FramingError>, HeaderMap) {
    let Ok(Parsed::Complete { mut head, .. }) = parse_head(raw.as_bytes()) else {
        panic!("{raw:?} does not parse");
    };
    (response_framing(&method, &mut head), head.headers)
}

#[test]
fn framing_table() {
    use Framing::*;
    let get = || Method::GET;
    let cases = [
        (
            get(),
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
            Ok(Length(12)),
        ),
        (
            get(),
            "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n",
            Ok(Length(3)),
        ),
        (get(), "HTTP/1.1 200 OK\r\n\r\n", Ok(UntilClose)),
        (get(), "Status: 500\r\n\r\n", Ok(UntilClose)),
        (
            Method::HEAD,
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
            Ok(Empty),
        ),
        (get(), "HTTP/1.1 204 No Content\r\n\r\n", Ok(Empty)),
        (get(), "HTTP/1.1 304 Not Modified\r\n\r\n", Ok(Empty)),
        (
            get(),
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            Err(FramingError::BadLength),
        ),
        (
            get(),
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            Err(FramingError::BadLength),
        ),
        (
            get(),
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Err(FramingError::ConflictingLength),
        ),
        (
            get(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Err(FramingError::TransferEncoding),
        ),
    ];
    for (method, raw, want) in cases {
        assert_eq!(framing(method, raw).0, want, "{raw:?}");
    }
}

#[test]
fn hop_by_hop_response_headers_are_removed() {
    let raw = "HTTP/1.1 200 OK\r\nConnection: close, x-private, content-length\r\n\
               Keep-Alive: 5\r\nX-Private: 1\r\nUpgrade: h2c\r\nX-Kept: 1\r\n\
               Content-Length: 1\r\n\r\n";
    let (f, headers) = framing(Method::GET, raw);
    assert_eq!(f, Ok(Framing::Length(1)));
    let mut names: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["content-length", "x-kept"]);
}

#[test]
fn no_content_drops_its_length() {
    let (_, headers) = framing(Method::GET, "Status: 204\r\nContent-Length: 0\r\n\r\n");
    assert!(headers.get(header::CONTENT_LENGTH).is_none());
}
