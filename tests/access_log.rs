//! Access log lines as a request produces them (one test per binary: the subscriber is global,
//! because worker threads log too).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use dockside::config::AccessLog;
use http::Request;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn vhost_and_json_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter("dockside::access=info")
        .with_writer(move || writer.clone())
        .init();
    let b = TestBackend::start("log").await;

    let d = Dockside::start(|c| c.access_log = AccessLog::Vhost).await;
    d.publish(vec![site("web.tld", &[b.addr])]).await;
    let req = Request::get(d.url("/x?y=1"))
        .header("host", "web.tld")
        .header("user-agent", "test-agent")
        .header("referer", "http://ref/");
    let reply = send(&d, req, empty_body()).await;
    let len = reply.body.len();
    let want = format!(
        "\"GET /x?y=1 HTTP/1.1\" 200 {len} \"http://ref/\" \"test-agent\" \"{}\"",
        b.addr
    );
    let line = find(&captured, "web.tld 127.0.0.1 - - [").await;
    assert!(line.ends_with(&want), "{line}\nwanted suffix {want}");
    assert_eq!(get(&d, "nowhere.tld", "/").await.status.as_u16(), 503);
    let line = find(&captured, "nowhere.tld 127.0.0.1").await;
    assert!(
        line.contains("\" 503 ") && line.ends_with("\"-\""),
        "{line}"
    );

    // A streamed (chunked) answer: `body_bytes_sent` is what was sent, not a declared length.
    let reply = get(&d, "web.tld", "/bytes/70000").await;
    assert_eq!(reply.body.len(), 70000);
    let line = find(&captured, "GET /bytes/70000").await;
    assert!(line.contains("\" 200 70000 \""), "{line}");

    let d = Dockside::start(|c| c.access_log = AccessLog::Json).await;
    d.publish(vec![site("json.tld", &[b.addr])]).await;
    get(&d, "json.tld", "/sleep/150").await;
    let line = find(&captured, "GET /sleep/150 HTTP/1.1").await;
    let json: serde_json::Value = serde_json::from_str(&line[line.find('{').unwrap()..]).unwrap();
    assert_eq!(json["status"], "200");
    assert_eq!(json["upstream_addr"], b.addr.to_string());
    // Both times include the backend's 150 ms.
    let secs = |key: &str| json[key].as_str().unwrap().parse::<f64>().unwrap();
    assert!(secs("request_time") >= 0.15, "{line}");
    assert!(secs("upstream_response_time") >= 0.15, "{line}");
    assert!(
        secs("upstream_response_time") <= secs("request_time"),
        "{line}"
    );

    let d = Dockside::start(|c| c.access_log = AccessLog::Off).await;
    d.publish(vec![site("off.tld", &[b.addr])]).await;
    get(&d, "off.tld", "/").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !captured.lines().iter().any(|l| l.contains("off.tld")),
        "logged although off"
    );
}

/// The first captured line containing `needle` (log lines are written after the response).
async fn find(captured: &Captured, needle: &str) -> String {
    for _ in 0..100 {
        if let Some(l) = captured.lines().into_iter().find(|l| l.contains(needle)) {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "no access log line with {needle:?} in {:?}",
        captured.lines()
    );
}
