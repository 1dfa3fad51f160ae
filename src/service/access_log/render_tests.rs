use super::*;

fn default(value: &[u8]) -> String {
    let mut buf = Vec::new();
    escape_default(&mut buf, value);
    String::from_utf8(buf).unwrap()
}

fn json(value: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    escape_json(&mut buf, value);
    buf
}

#[test]
fn default_escaping_is_nginx_log_escape() {
    let table: [(&[u8], &str); 7] = [
        (b"curl/8.5", "curl/8.5"),
        (b"a \"b\"", "a \\x22b\\x22"),
        (b"back\\slash", "back\\x5Cslash"),
        (b"tab\tnl\n", "tab\\x09nl\\x0A"),
        (b"\x7f\x00", "\\x7F\\x00"),
        ("é".as_bytes(), "\\xC3\\xA9"),
        (b"\xe9", "\\xE9"),
    ];
    for (value, want) in table {
        assert_eq!(default(value), want, "{value:?}");
    }
}

#[test]
fn json_escaping_is_nginx_escape_json() {
    let table: [(&[u8], &[u8]); 6] = [
        (b"plain", b"plain"),
        (b"a \"b\" \\", b"a \\\"b\\\" \\\\"),
        (b"\n\r\t\x08\x0c", b"\\n\\r\\t\\b\\f"),
        (b"\x01\x1f", b"\\u0001\\u001F"),
        // 0x7F and UTF-8 pass as they are.
        (b"\x7f", b"\x7f"),
        ("é".as_bytes(), "é".as_bytes()),
    ];
    for (value, want) in table {
        assert_eq!(json(value), want, "{value:?}");
    }
}

#[test]
fn times_and_durations_as_nginx_writes_them() {
    let mut buf = Vec::new();
    seconds(&mut buf, Duration::from_micros(4_900));
    buf.push(b' ');
    seconds(&mut buf, Duration::from_millis(61_250));
    buf.push(b' ');
    let at = UNIX_EPOCH + Duration::from_secs(1_795_601_340);
    time_local(&mut buf, at);
    buf.push(b' ');
    time_iso8601(&mut buf, at);
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "0.004 61.250 25/Nov/2026:10:09:00 +0000 2026-11-25T10:09:00+00:00"
    );
}

#[test]
fn remote_user_is_the_basic_user_name() {
    let table: [(&str, Option<&str>); 6] = [
        ("Basic YWxpY2U6c2VjcmV0", Some("alice")), // alice:secret
        ("basic  YWxpY2U6", Some("alice")),        // alice: (padding optional)
        ("Basic OnB3", Some("")),                  // :pw
        ("Basic YWxpY2U=", None),                  // no colon
        ("Bearer abc", None),
        ("Basic !!", None),
    ];
    for (header, want) in table {
        let got = basic_user(header.as_bytes());
        assert_eq!(got.as_deref(), want.map(str::as_bytes), "{header}");
    }
}

#[test]
fn every_variable_renders() {
    use crate::exchange::{ConnInfo, Scheme};
    let template = "$remote_addr|$remote_port|$remote_user|$host|$request|$request_method|$request_uri|$args|$is_args|$server_protocol|$scheme|$https|$server_addr|$server_port|$status|$body_bytes_sent|$request_time|$upstream_addr|$upstream_response_time|$msec|$http_x_missing";
    let req = http::Request::builder()
        .method("POST")
        .uri("/a?b=1")
        .version(Version::HTTP_2)
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .body(())
        .unwrap();
    let conn = ConnInfo::new(
        "[::ffff:10.0.0.1]:5555".parse().unwrap(),
        ([10, 0, 0, 2], 443).into(),
        Scheme::Https,
        None,
        None,
    );
    let out = Outcome {
        host: "web.tld",
        conn: &conn,
        status: http::StatusCode::BAD_GATEWAY,
        body_bytes: 0,
        upstream: None,
        request_time: Duration::from_millis(1500),
        upstream_response_time: Some(Duration::from_millis(3)),
    };
    let at = UNIX_EPOCH + Duration::from_millis(1_795_601_340_007);
    let want_default = "10.0.0.1|5555|alice|web.tld|POST /a?b=1 HTTP/2.0|POST|/a?b=1|b=1|?|HTTP/2.0|https|on|10.0.0.2|443|502|0|1.500|-|0.003|1795601340.007|-";
    for (escape, want) in [
        (Escape::Default, want_default.to_owned()),
        (
            Escape::Json,
            want_default
                .replace("|-|0.003", "||0.003")
                .replace("|-", "|"),
        ),
        (
            Escape::None,
            want_default
                .replace("|-|0.003", "||0.003")
                .replace("|-", "|"),
        ),
    ] {
        let format = LogFormat::compile(template, escape).unwrap();
        let pending = Pending::capture(Some(&std::sync::Arc::new(format.clone())), &req).unwrap();
        assert_eq!(line(&format, &pending, &out, at), want, "{escape:?}");
    }
}
