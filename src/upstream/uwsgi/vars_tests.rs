//! Table tests for the uwsgi vars.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, Request, Version};

use super::*;
use crate::exchange::{ConnInfo, RequestMeta, Scheme};

fn meta(scheme: Scheme) -> RequestMeta {
    RequestMeta {
        conn: Arc::new(ConnInfo::new(
            "[::ffff:10.1.2.3]:40000".parse().unwrap(),
            "0.0.0.0:8443".parse().unwrap(),
            scheme,
            None,
            None,
        )),
        host: "app.example.test".into(),
        request_uri: "/api/a%20b?x=1".into(),
        path: "/a%20b".into(),
        query: "x=1".into(),
        body_limit: None,
        timeouts: Default::default(),
    }
}

fn vars_of(req: Request<()>, meta: &RequestMeta, len: Option<u64>) -> BTreeMap<String, String> {
    let (parts, ()) = req.into_parts();
    let vars = request_vars(&parts, meta, len);
    let map: BTreeMap<_, _> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    assert_eq!(map.len(), vars.len(), "a var was sent twice: {vars:?}");
    map
}

#[test]
fn cgi_vars_follow_uwsgi_params() {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/a%20b?x=1")
        .header("host", "app.example.test:8443")
        .header("content-type", "application/json")
        .header("content-length", "5")
        .body(())
        .unwrap();
    let v = vars_of(req, &meta(Scheme::Https), Some(5));
    let want = [
        ("QUERY_STRING", "x=1"),
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/json"),
        ("CONTENT_LENGTH", "5"),
        ("REQUEST_URI", "/api/a%20b?x=1"),
        ("PATH_INFO", "/a b"),
        ("DOCUMENT_ROOT", DOCUMENT_ROOT),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "https"),
        ("HTTPS", "on"),
        ("REMOTE_ADDR", "10.1.2.3"),
        ("REMOTE_PORT", "40000"),
        ("SERVER_PORT", "8443"),
        ("SERVER_NAME", "app.example.test"),
        ("UWSGI_SCHEME", "https"),
        ("HTTP_HOST", "app.example.test:8443"),
    ];
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(v, want);
}

#[test]
fn plain_http_without_body_sends_empty_length_and_no_https() {
    let req = Request::builder()
        .version(Version::HTTP_2)
        .uri("https://h2.example.test:8443/p")
        .body(())
        .unwrap();
    let v = vars_of(req, &meta(Scheme::Http), None);
    assert_eq!(v["CONTENT_LENGTH"], "");
    assert_eq!(v["CONTENT_TYPE"], "");
    assert_eq!(v["SERVER_PROTOCOL"], "HTTP/2.0");
    assert_eq!(v["REQUEST_SCHEME"], "http");
    assert_eq!(v["HTTP_HOST"], "h2.example.test:8443");
    assert!(!v.contains_key("HTTPS"));
}

#[test]
fn headers_become_http_vars_with_the_right_policy() {
    let req = Request::builder()
        .header("x-forwarded-for", "1.2.3.4, 10.1.2.3")
        .header("accept", "text/html")
        .header("accept", "application/json")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .header("x_spoofed", "1")
        .header("proxy", "http://evil")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("upgrade", "websocket")
        .header("transfer-encoding", "chunked")
        .header("content-length", "3")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let v = vars_of(req, &meta(Scheme::Http), Some(3));
    let http: BTreeMap<_, _> = v.iter().filter(|(k, _)| k.starts_with("HTTP_")).collect();
    let want: BTreeMap<String, String> = [
        ("HTTP_HOST", "app.example.test"),
        ("HTTP_X_FORWARDED_FOR", "1.2.3.4, 10.1.2.3"),
        ("HTTP_ACCEPT", "text/html, application/json"),
        ("HTTP_COOKIE", "a=1; b=2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(http, want.iter().collect());
}

#[test]
fn path_info_is_decoded_bytes() {
    let cases: &[(&str, &[u8])] = &[
        ("/a%20b", b"/a b"),
        ("/%e2%82%ac", "/€".as_bytes()),
        ("/%ff", b"/\xff"),
        ("/bad%zz%4", b"/bad%zz%4"),
        ("/%", b"/%"),
        ("", b""),
    ];
    for (raw, want) in cases {
        assert_eq!(percent_decode(raw.as_bytes()), *want, "{raw}");
    }
}

#[test]
fn oversized_headers_are_a_typed_error() {
    let req = Request::builder()
        .header("x-big", "a".repeat(70_000))
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    let meta = meta(Scheme::Http);
    let vars = request_vars(&parts, &meta, None);
    assert!(matches!(
        encode(&vars),
        Err(EncodeError::ValueTooLong { len: 70_000, .. })
    ));
    let empty = parts_of(Request::new(()));
    let small = request_vars(&empty, &meta, None);
    let pkt = encode(&small).unwrap();
    let decoded = super::super::codec::decode_packet(&pkt).unwrap().unwrap();
    assert_eq!(decoded.len(), small.len());
}

fn parts_of(req: Request<()>) -> http::request::Parts {
    req.into_parts().0
}
