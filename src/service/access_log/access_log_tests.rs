use super::*;
use crate::exchange::Scheme;
use std::time::Instant;
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

/// The line as `format!` built it before the compiled formats (the baseline of the benchmark
/// below): the request's text copied at capture, then one `format!` with an `escape` per value.
mod before {
    use super::*;
    use std::fmt::Write as _;

    pub struct Old {
        pub method: Method,
        pub uri: String,
        pub version: Version,
        pub referer: Option<String>,
        pub user_agent: Option<String>,
        #[allow(
            dead_code,
            reason = "captured for LOG_JSON on every request before: the baseline keeps its cost"
        )]
        pub forwarded_for: Option<String>,
    }

    fn text(h: &HeaderMap, name: &str) -> Option<String> {
        h.get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    pub fn capture<B>(req: &Request<B>) -> Old {
        Old {
            method: req.method().clone(),
            uri: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().to_string(), |p| p.to_string()),
            version: req.version(),
            referer: text(req.headers(), "referer"),
            user_agent: text(req.headers(), "user-agent"),
            forwarded_for: text(req.headers(), "x-forwarded-for"),
        }
    }

    fn escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'"' | b'\\' => {
                    let _ = write!(out, "\\x{b:02X}");
                }
                0x20..=0x7e => out.push(b as char),
                _ => {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
        }
        out
    }

    pub fn vhost(o: &Old, out: &Outcome<'_>, now: SystemTime) -> String {
        let mut t = Vec::new();
        render::time_local_for_bench(&mut t, now);
        format!(
            "{} {} - - [{}] \"{}\" {} {} \"{}\" \"{}\" \"{}\"",
            out.host,
            out.conn.client.ip(),
            String::from_utf8_lossy(&t),
            escape(&format!("{} {} {:?}", o.method, o.uri, o.version)),
            out.status.as_u16(),
            out.body_bytes,
            escape(o.referer.as_deref().unwrap_or("-")),
            escape(o.user_agent.as_deref().unwrap_or("-")),
            out.upstream.as_deref().unwrap_or("-"),
        )
    }
}

/// `cargo test --release --lib access_log::tests::render_cost -- --ignored --nocapture`:
/// capture + render of the default vhost line, before and after (docs/benchmarks.md).
#[test]
#[ignore = "a measurement, run by hand"]
fn render_cost() {
    const N: u32 = 200_000;
    let req = Request::builder()
        .uri("/some/path?with=query&and=more")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        )
        .header("referer", "https://example.com/previous/page")
        .header("accept", "*/*")
        .body(())
        .unwrap();
    let conn = conn();
    let out = outcome(&conn);
    let format = LogFormat::vhost();
    let now = SystemTime::now();
    let mut total = 0usize;
    for round in 0..3 {
        let start = Instant::now();
        for _ in 0..N {
            let old = before::capture(&req);
            total += before::vhost(&old, &out, now).len();
        }
        let old_ns = start.elapsed().as_nanos() / u128::from(N);
        let start = Instant::now();
        for _ in 0..N {
            let pending =
                Pending::capture(Some(&std::sync::Arc::new(format.clone())), &req).unwrap();
            total += render::line(&format, &pending, &out, now).len();
        }
        let new_ns = start.elapsed().as_nanos() / u128::from(N);
        println!("round {round}: before {old_ns} ns/line, compiled format {new_ns} ns/line");
    }
    assert!(total > 0);
}
