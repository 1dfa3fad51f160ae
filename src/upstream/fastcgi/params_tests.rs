//! Table tests for the FastCGI params.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, Request};

use super::*;
use crate::exchange::{ConnInfo, RequestMeta, Scheme};
use crate::upstream::fastcgi::codec::{Parsed, decode_params, parse_header};

fn meta(scheme: Scheme, path: &str) -> RequestMeta {
    RequestMeta {
        conn: Arc::new(ConnInfo::new(
            "[::ffff:10.1.2.3]:40000".parse().unwrap(),
            "[::ffff:172.17.0.2]:8443".parse().unwrap(),
            scheme,
            None,
            None,
        )),
        host: "app.example.test".into(),
        request_uri: format!("/orig{path}?x=1"),
        path: path.into(),
        query: "x=1".into(),
        body_limit: None,
        timeouts: Default::default(),
    }
}

fn params_of(req: Request<()>, meta: &RequestMeta, len: Option<u64>) -> BTreeMap<String, String> {
    let (parts, ()) = req.into_parts();
    let stream = encode_params(&parts, meta, "/var/www/public", len).unwrap();
    let pairs = decode_params(&stream).unwrap();
    let map: BTreeMap<_, _> = pairs
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    assert_eq!(map.len(), pairs.len(), "a param was sent twice");
    map
}

#[test]
fn params_follow_fastcgi_conf() {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/orig/app/a%20b.php?x=1")
        .header("host", "app.example.test:8443")
        .header("content-type", "application/json")
        .header("content-length", "5")
        .header("x-forwarded-for", "10.1.2.3")
        .header("connection", "x-drop")
        .header("x-drop", "1")
        .header("proxy", "http://evil")
        .body(())
        .unwrap();
    let p = params_of(req, &meta(Scheme::Https, "/app/a%20b.php"), Some(5));
    let want = [
        ("SCRIPT_FILENAME", "/var/www/public/app/a b.php"),
        ("QUERY_STRING", "x=1"),
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/json"),
        ("CONTENT_LENGTH", "5"),
        ("SCRIPT_NAME", "/app/a b.php"),
        ("REQUEST_URI", "/orig/app/a%20b.php?x=1"),
        ("DOCUMENT_URI", "/app/a b.php"),
        ("DOCUMENT_ROOT", "/var/www/public"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "https"),
        ("HTTPS", "on"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REMOTE_ADDR", "10.1.2.3"),
        ("REMOTE_PORT", "40000"),
        ("SERVER_ADDR", "172.17.0.2"),
        ("SERVER_PORT", "8443"),
        ("SERVER_NAME", "app.example.test"),
        ("REDIRECT_STATUS", "200"),
        ("HTTP_HOST", "app.example.test:8443"),
        ("HTTP_X_FORWARDED_FOR", "10.1.2.3"),
    ];
    for (k, v) in want {
        assert_eq!(p.get(k).map(String::as_str), Some(v), "{k}: {p:#?}");
    }
    assert!(p["SERVER_SOFTWARE"].starts_with("dockside/"));
    for absent in [
        "HTTP_PROXY",
        "HTTP_CONNECTION",
        "HTTP_X_DROP",
        "HTTP_CONTENT_TYPE",
    ] {
        assert!(!p.contains_key(absent), "{absent}: {p:#?}");
    }
}

#[test]
fn plain_http_has_no_https_and_a_directory_runs_its_index() {
    let req = Request::builder().uri("/dir/").body(()).unwrap();
    let p = params_of(req, &meta(Scheme::Http, "/dir/"), None);
    assert!(!p.contains_key("HTTPS"));
    assert_eq!(p["CONTENT_LENGTH"], "");
    assert_eq!(p["SCRIPT_NAME"], "/dir/index.php");
    assert_eq!(p["SCRIPT_FILENAME"], "/var/www/public/dir/index.php");
    assert_eq!(p["DOCUMENT_URI"], "/dir/");
    assert_eq!(p["HTTP_HOST"], "app.example.test", "h1 without Host: $host");
}

#[test]
fn the_prefix_is_begin_params_and_stdin_end_when_there_is_no_body() {
    let req = Request::builder().uri("/i.php").body(()).unwrap();
    let (parts, ()) = req.into_parts();
    let m = meta(Scheme::Http, "/i.php");
    let out = request_prefix(&parts, &m, "/srv/", None, true).unwrap();
    let mut kinds = Vec::new();
    let mut params = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let Ok(Parsed::Complete { value: h, .. }) = parse_header(&out[at..]) else {
            panic!("truncated at {at}")
        };
        let content = &out[at + 8..at + 8 + usize::from(h.content_len)];
        if h.kind == kind::PARAMS {
            params.extend_from_slice(content);
        }
        kinds.push((h.kind, h.content_len == 0));
        at += 8 + h.body_len();
    }
    assert_eq!(
        kinds,
        [
            (kind::BEGIN_REQUEST, false),
            (kind::PARAMS, false),
            (kind::PARAMS, true),
            (kind::STDIN, true)
        ]
    );
    let pairs = decode_params(&params).unwrap();
    assert!(pairs.contains(&(&b"SCRIPT_FILENAME"[..], &b"/srv/i.php"[..])));
    assert!(pairs.contains(&(&b"DOCUMENT_ROOT"[..], &b"/srv/"[..])));
    // With a body, the STDIN records follow from the client.
    let with_body = request_prefix(&parts, &m, "/srv", Some(3), true).unwrap();
    assert!(!with_body.ends_with(&codec::header(kind::STDIN, 0)));
}
