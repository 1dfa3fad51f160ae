use super::*;
use std::time::Duration;

fn pending() -> Pending {
    let req = Request::builder()
        .uri("/p?q=1")
        .header("user-agent", "curl/8 \"x\"")
        .header("x-forwarded-for", "9.9.9.9")
        .body(())
        .unwrap();
    Pending::capture(AccessLog::Vhost, &req).unwrap()
}

fn outcome() -> Outcome<'static> {
    Outcome {
        host: "web.tld",
        remote: ([10, 0, 0, 1], 5555).into(),
        status: StatusCode::OK,
        body_bytes: 5,
        upstream: Some("127.0.0.1:81".into()),
        request_time: std::time::Duration::from_millis(1250),
        upstream_response_time: Some(std::time::Duration::from_millis(1000)),
    }
}

#[test]
fn vhost_line_matches_nginx_proxy_format() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_601_340);
    assert_eq!(
        pending().vhost(&outcome(), at),
        "web.tld 10.0.0.1 - - [25/Nov/2026:10:09:00 +0000] \"GET /p?q=1 HTTP/1.1\" 200 5 \"-\" \"curl/8 \\x22x\\x22\" \"127.0.0.1:81\""
    );
}

#[test]
fn json_line_has_the_nginx_proxy_keys() {
    let line = pending().json(&outcome(), UNIX_EPOCH);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    for key in [
        "time_local",
        "client_ip",
        "remote_addr",
        "request",
        "status",
        "body_bytes_sent",
        "request_time",
        "upstream_response_time",
        "upstream_addr",
        "http_referrer",
        "http_user_agent",
        "request_id",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {line}");
    }
    assert_eq!(v["time_local"], "1970-01-01T00:00:00+00:00");
    assert_eq!(v["client_ip"], "9.9.9.9");
    assert_eq!(v["request_time"], "1.250");
    assert_eq!(v["upstream_response_time"], "1.000");
}

#[test]
fn off_captures_nothing() {
    let req = Request::new(());
    assert!(Pending::capture(AccessLog::Off, &req).is_none());
}
