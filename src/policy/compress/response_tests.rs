use super::*;
use crate::exchange::{empty, full};
use crate::policy::compress::test_body::{Step, bytes_of, drain, script};
use Encoding::{Brotli, Gzip, Zstd};
use bytes::Bytes;
use std::io::Read;

fn cfg() -> Compression {
    Compression {
        encodings: vec![Zstd, Brotli, Gzip],
        types: vec!["application/json".into(), "text/plain".into()],
        min_length: 20,
        level: 1,
    }
}

const GZIP: CompressFacts = CompressFacts {
    head: false,
    encoding: Some(Gzip),
};
const NONE: CompressFacts = CompressFacts {
    head: false,
    encoding: None,
};

const JSON: &str = r#"{"items":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}"#;

/// A response with `headers` (`name: value` lines) and a JSON body of known length.
fn response(status: u16, headers: &[(&str, &str)]) -> Response<ProxyBody> {
    let mut r = Response::new(full(JSON));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert(CONTENT_LENGTH, JSON.len().to_string().parse().unwrap());
    for (n, v) in headers {
        r.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn json(extra: &[(&str, &str)]) -> Response<ProxyBody> {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(extra);
    response(200, &h)
}

fn header(r: &Response<ProxyBody>, name: http::HeaderName) -> Vec<String> {
    r.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn encoded(r: &Response<ProxyBody>) -> bool {
    r.headers().contains_key(CONTENT_ENCODING)
}

#[test]
fn json_is_compressed_and_its_headers_follow() {
    let r = compress(
        &cfg(),
        GZIP,
        json(&[("accept-ranges", "bytes"), ("etag", "\"v1\"")]),
    );
    assert_eq!(header(&r, CONTENT_ENCODING), ["gzip"]);
    assert_eq!(header(&r, VARY), ["Accept-Encoding"]);
    assert_eq!(header(&r, ETAG), ["W/\"v1\""]);
    assert!(!r.headers().contains_key(CONTENT_LENGTH));
    assert!(!r.headers().contains_key(ACCEPT_RANGES));
    let gz = bytes_of(&drain(r.into_body()));
    let mut out = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, JSON);
}

/// Responses left exactly as they are: no coding, no `Vary`.
#[test]
fn untouched() {
    let html = [("content-type", "text/html")];
    let cases: Vec<(&str, CompressFacts, Response<ProxyBody>)> = vec![
        ("already encoded", GZIP, json(&[("content-encoding", "br")])),
        (
            "identity named",
            GZIP,
            json(&[("content-encoding", "identity")]),
        ),
        (
            "image",
            GZIP,
            response(200, &[("content-type", "image/png")]),
        ),
        ("no type", GZIP, response(200, &[])),
        (
            "type prefix only",
            GZIP,
            response(200, &[("content-type", "application/jsonx")]),
        ),
        ("below min_length", GZIP, {
            let mut r = json(&[]);
            r.headers_mut()
                .insert(CONTENT_LENGTH, "19".parse().unwrap());
            r
        }),
        (
            "HEAD",
            CompressFacts {
                head: true,
                encoding: Some(Gzip),
            },
            json(&[]),
        ),
        ("101", GZIP, response(101, &html)),
        ("204", GZIP, response(204, &html)),
        ("206", GZIP, response(206, &html)),
        ("304", GZIP, response(304, &html)),
        (
            "no-transform",
            GZIP,
            json(&[("cache-control", "no-transform")]),
        ),
        (
            "no-transform in a list",
            GZIP,
            json(&[("cache-control", "public, No-Transform")]),
        ),
        (
            "no-transform, second line",
            GZIP,
            json(&[
                ("cache-control", "public"),
                ("cache-control", "no-transform"),
            ]),
        ),
        ("empty body", GZIP, {
            let mut r = Response::new(empty());
            r.headers_mut()
                .insert(CONTENT_TYPE, "text/html".parse().unwrap());
            r
        }),
    ];
    for (name, facts, r) in cases {
        let before = r.headers().clone();
        let status = r.status();
        let r = compress(&cfg(), facts, r);
        assert_eq!(r.headers(), &before, "{name}");
        assert_eq!(r.status(), status, "{name}");
    }
}

#[test]
fn eligible_types() {
    let mut all = cfg();
    all.types = vec!["*".into()];
    type Case<'a> = (&'a Compression, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        (&cfg(), &[("content-type", "text/html")], true),
        (
            &cfg(),
            &[("content-type", "TEXT/HTML; charset=utf-8")],
            true,
        ),
        (
            &cfg(),
            &[("content-type", "application/json ; charset=utf-8")],
            true,
        ),
        (&cfg(), &[("content-type", "Text/Plain")], true),
        (&cfg(), &[("content-type", "text/css")], false),
        (&all, &[("content-type", "image/png")], true),
        (&all, &[], true),
    ];
    for (c, headers, want) in cases {
        let r = compress(c, GZIP, response(200, headers));
        assert_eq!(encoded(&r), *want, "{headers:?}");
    }
}

#[test]
fn any_status_with_a_body_is_compressed() {
    for status in [200, 201, 301, 403, 404, 500, 503] {
        let r = compress(
            &cfg(),
            GZIP,
            response(status, &[("content-type", "text/html")]),
        );
        assert!(encoded(&r), "{status}");
    }
}

#[test]
fn length() {
    let mut exact = cfg();
    exact.min_length = JSON.len() as u64;
    assert!(
        encoded(&compress(&exact, GZIP, json(&[]))),
        "length = min_length"
    );
    exact.min_length += 1;
    assert!(
        !encoded(&compress(&exact, GZIP, json(&[]))),
        "length < min_length"
    );
    // No Content-Length: a body that knows its length is measured, a streamed one compressed.
    let mut known = json(&[]);
    known.headers_mut().remove(CONTENT_LENGTH);
    assert!(!encoded(&compress(&exact, GZIP, known)));
    let mut streamed = Response::new(script(vec![Step::Data(Bytes::from_static(b"x"))]));
    streamed
        .headers_mut()
        .insert(CONTENT_TYPE, "text/plain".parse().unwrap());
    assert!(encoded(&compress(&exact, GZIP, streamed)));
    // A length that is not a number: unknown, like a missing one.
    let bad = json(&[]);
    let mut bad = bad;
    bad.headers_mut()
        .insert(CONTENT_LENGTH, "lots".parse().unwrap());
    assert!(encoded(&compress(&cfg(), GZIP, bad)));
    // min_length 0 still leaves an empty body alone.
    let mut zero = cfg();
    zero.min_length = 0;
    let mut empty_json = json(&[]);
    empty_json
        .headers_mut()
        .insert(CONTENT_LENGTH, "0".parse().unwrap());
    assert!(!encoded(&compress(&zero, GZIP, empty_json)));
}

#[test]
fn eligible_but_not_accepted_still_varies() {
    let r = compress(&cfg(), NONE, json(&[("etag", "\"v1\"")]));
    assert!(!encoded(&r));
    assert_eq!(header(&r, VARY), ["Accept-Encoding"]);
    assert_eq!(header(&r, ETAG), ["\"v1\""]);
    assert_eq!(header(&r, CONTENT_LENGTH), [JSON.len().to_string()]);
}

#[test]
fn vary_is_merged_not_duplicated() {
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["Accept-Encoding"]),
        (&["Origin"], &["Origin", "Accept-Encoding"]),
        (&["origin, accept-encoding"], &["origin, accept-encoding"]),
        (
            &["Cookie", "ACCEPT-ENCODING"],
            &["Cookie", "ACCEPT-ENCODING"],
        ),
        (&["*"], &["*"]),
    ];
    for (before, after) in cases {
        let headers: Vec<(&str, &str)> = before.iter().map(|v| ("vary", *v)).collect();
        let r = compress(&cfg(), GZIP, json(&headers));
        assert_eq!(header(&r, VARY), *after, "{before:?}");
    }
}

#[test]
fn etags_are_weakened_as_nginx_does() {
    for (before, after) in [
        (Some("\"abc\""), Some("W/\"abc\"")),
        (Some("W/\"abc\""), Some("W/\"abc\"")),
        (Some("abc"), None),
        (None, None),
    ] {
        let headers: Vec<(&str, &str)> = before.iter().map(|v| ("etag", *v)).collect();
        let r = compress(&cfg(), GZIP, json(&headers));
        let got = r.headers().get(ETAG).map(|v| v.to_str().unwrap());
        assert_eq!(got, after, "{before:?}");
    }
}

#[test]
fn each_coding_is_named() {
    for e in [Gzip, Brotli, Zstd] {
        let facts = CompressFacts {
            head: false,
            encoding: Some(e),
        };
        let r = compress(&cfg(), facts, json(&[]));
        assert_eq!(header(&r, CONTENT_ENCODING), [e.token()]);
    }
}

#[test]
fn facts_come_from_the_request() {
    let mut h = HeaderMap::new();
    h.insert(http::header::ACCEPT_ENCODING, "gzip, br".parse().unwrap());
    let f = CompressFacts::new(&cfg(), &Method::GET, &h);
    assert_eq!(
        f,
        CompressFacts {
            head: false,
            encoding: Some(Brotli)
        }
    );
    let f = CompressFacts::new(&cfg(), &Method::HEAD, &HeaderMap::new());
    assert_eq!(
        f,
        CompressFacts {
            head: true,
            encoding: None
        }
    );
}
