use super::*;
use crate::exchange::Scheme;
use std::time::UNIX_EPOCH;

fn request() -> Request<()> {
    Request::builder()
        .uri("/p?q=1")
        .header("user-agent", "curl/8 \"x\"")
        .header("x-forwarded-for", "9.9.9.9")
        .body(())
        .unwrap()
}

fn conn() -> ConnInfo {
    ConnInfo::new(
        ([10, 0, 0, 1], 5555).into(),
        ([10, 0, 0, 2], 80).into(),
        Scheme::Http,
        None,
        None,
    )
}

fn outcome(conn: &ConnInfo) -> Outcome<'_> {
    Outcome {
        host: "web.tld",
        conn,
        status: StatusCode::OK,
        body_bytes: 5,
        upstream: Some("127.0.0.1:81".into()),
        request_time: Duration::from_millis(4),
        upstream_response_time: None,
    }
}

fn line(format: &LogFormat, at: SystemTime) -> String {
    let req = request();
    let pending = Pending::capture(Some(&std::sync::Arc::new(format.clone())), &req).unwrap();
    let conn = conn();
    render::line(format, &pending, &outcome(&conn), at)
}

#[test]
fn vhost_line_matches_nginx_proxy_format() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_601_340);
    assert_eq!(
        line(&LogFormat::vhost(), at),
        "web.tld 10.0.0.1 - - [25/Nov/2026:10:09:00 +0000] \"GET /p?q=1 HTTP/1.1\" 200 5 \"-\" \"curl/8 \\x22x\\x22\" \"127.0.0.1:81\""
    );
}

#[test]
fn json_line_has_the_nginx_proxy_keys() {
    let line = line(&LogFormat::json(), UNIX_EPOCH);
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
    // nginx-proxy's template quotes every value; a missing one is empty.
    assert_eq!(v["status"], "200");
    assert_eq!(v["request_time"], "0.004");
    assert_eq!(v["upstream_response_time"], "");
    assert_eq!(v["http_user_agent"], "curl/8 \"x\"");
    assert_eq!(v["request_id"].as_str().map(str::len), Some(32));
}

#[test]
fn off_captures_nothing() {
    let req = Request::new(());
    assert!(Pending::capture(None, &req).is_none());
}

#[test]
fn settings_pick_nginx_proxy_formats() {
    let pick = |disabled, json, format, escape| {
        AccessLog::from_settings(disabled, json, format, escape).unwrap()
    };
    assert_eq!(pick(false, false, None, None), AccessLog::Vhost);
    assert_eq!(pick(false, true, None, None), AccessLog::Json);
    assert_eq!(pick(true, true, Some("$status"), None), AccessLog::Off);
    // Empty values are unset, as in nginx-proxy's template.
    assert_eq!(pick(false, false, Some(""), Some(" ")), AccessLog::Vhost);
    // LOG_FORMAT wins over LOG_JSON's format; the escape still follows LOG_JSON.
    let AccessLog::Custom(f) = pick(false, true, Some("$status"), None) else {
        panic!("custom format expected");
    };
    assert_eq!((f.source(), f.escape()), ("$status", Escape::Json));
    let AccessLog::Custom(f) = pick(false, false, None, Some("none")) else {
        panic!("custom format expected");
    };
    assert_eq!((f.source(), f.escape()), (format::VHOST, Escape::None));
}

#[test]
fn bad_settings_name_the_setting_even_when_off() {
    let err = AccessLog::from_settings(true, false, Some("$nope"), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("LOG_FORMAT: unknown variable \"$nope\"")
    );
    let err = AccessLog::from_settings(false, false, None, Some("yaml")).unwrap_err();
    assert!(err.to_string().starts_with("LOG_FORMAT_ESCAPE=\"yaml\""));
}

#[test]
fn repeated_headers_are_joined_as_nginx_does() {
    let req = Request::builder()
        .header("x-forwarded-for", "1.1.1.1")
        .header("x-forwarded-for", "2.2.2.2")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(())
        .unwrap();
    let format = LogFormat::compile("$http_x_forwarded_for|$http_cookie", Escape::Default).unwrap();
    let pending = Pending::capture(Some(&std::sync::Arc::new(format.clone())), &req).unwrap();
    let conn = conn();
    assert_eq!(
        render::line(&format, &pending, &outcome(&conn), UNIX_EPOCH),
        "1.1.1.1, 2.2.2.2|a=1; b=2"
    );
}
