//! OpenTelemetry traces (issue 18 part 5): the `dockside` binary with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! exports a server span per request (and a client span around the upstream exchange) to a
//! real OTLP/HTTP receiver decoding the protobuf; the backend receives a `traceparent` of the
//! same trace; an incoming `traceparent` is continued. Without the setting, no header is added.

mod common;

use common::otlp::{Binary, Received, Receiver};
use common::*;

const INCOMING_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_SPAN: &str = "00f067aa0ba902b7";

fn routes(dir: &std::path::Path, backend: std::net::SocketAddr) -> std::path::PathBuf {
    let path = dir.join("routes.toml");
    let text = format!("[[site]]\nVIRTUAL_HOST = \"traced.test\"\nbackends = [\"{backend}\"]\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// GET through the binary with curl; the backend's echo of the headers it received.
fn headers_seen(http: &str, path: &str, extra: &[&str]) -> serde_json::Value {
    let url = format!("http://{http}{path}");
    let mut args = vec!["-H", "Host: traced.test"];
    for h in extra {
        args.extend(["-H", h]);
    }
    args.push(&url);
    let out = curl(&args);
    assert!(out.status.success(), "{out:?}");
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no echo ({e}): {:?}", String::from_utf8_lossy(&out.stdout)));
    echo["headers"].clone()
}

/// `00-<trace id>-<parent id>-<flags>` split into its fields.
fn traceparent(headers: &serde_json::Value) -> (String, String, String) {
    let value = headers["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("no traceparent in {headers}"));
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one span `pred` picks out of the export.
fn find(spans: &[Received], pred: impl Fn(&Received) -> bool) -> &Received {
    spans
        .iter()
        .find(|s| pred(s))
        .unwrap_or_else(|| panic!("no such span in {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_become_spans_and_backends_get_their_traceparent() {
    let receiver = Receiver::start().await;
    let backend = TestBackend::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{}", receiver.addr);
    let dockside = Binary::start(
        &routes(dir.path(), backend.addr),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "dockside-test"),
        ],
    );
    let http = dockside.http.clone();
    let (fresh, continued) = tokio::task::spawn_blocking(move || {
        let fresh = headers_seen(&http, "/fresh", &[]);
        let incoming = format!("traceparent: 00-{INCOMING_TRACE}-{INCOMING_SPAN}-01");
        let continued = headers_seen(&http, "/continued", &[&incoming, "tracestate: v=1"]);
        (fresh, continued)
    })
    .await
    .unwrap();
    // SIGTERM: the queued spans are exported before the exit.
    assert_eq!(dockside.terminate().await, Some(0));
    let spans = receiver.spans();

    // A request without a traceparent: a new trace, started by dockside.
    let server = find(&spans, |s| s.attr("url.path").as_deref() == Some("/fresh"));
    assert_eq!(server.service, "dockside-test");
    assert_eq!(server.span.kind, 2, "server span");
    assert_eq!(server.span.name, "GET");
    assert!(server.span.parent_span_id.is_empty(), "a root span");
    let want = [
        ("http.request.method", "GET"),
        ("server.address", "traced.test"),
        ("http.response.status_code", "200"),
        ("url.scheme", "http"),
        ("network.protocol.version", "1.1"),
        ("client.address", "127.0.0.1"),
    ];
    for (key, value) in want {
        assert_eq!(
            server.attr(key).as_deref(),
            Some(value),
            "{key}: {server:#?}"
        );
    }
    let upstream = backend.addr.to_string();
    assert_eq!(
        server.attr("dockside.upstream.address"),
        Some(upstream.clone())
    );
    let client = find(&spans, |s| s.span.parent_span_id == server.span.span_id);
    assert_eq!(client.span.kind, 3, "client span");
    assert_eq!(client.attr("server.address"), Some(upstream));
    assert_eq!(
        client.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    let (trace, parent, flags) = traceparent(&fresh);
    assert_eq!(trace, hex(&server.span.trace_id));
    assert_eq!(
        parent,
        hex(&client.span.span_id),
        "the backend's parent is the client span"
    );
    assert_eq!(flags, "01");
    assert!(fresh.get("tracestate").is_none(), "{fresh}");

    // A request with a traceparent: the same trace, dockside's span a child of the caller's.
    let server = find(&spans, |s| {
        s.attr("url.path").as_deref() == Some("/continued")
    });
    assert_eq!(hex(&server.span.trace_id), INCOMING_TRACE);
    assert_eq!(hex(&server.span.parent_span_id), INCOMING_SPAN);
    let client = find(&spans, |s| s.span.parent_span_id == server.span.span_id);
    let (trace, parent, _) = traceparent(&continued);
    assert_eq!(trace, INCOMING_TRACE);
    assert_eq!(parent, hex(&client.span.span_id));
    assert_eq!(continued["tracestate"].as_str(), Some("v=1"));
}

/// Traces off (no `OTEL_EXPORTER_OTLP_ENDPOINT`): the backend gets no traceparent from
/// dockside, and a client's own passes through untouched, as before traces existed.
#[tokio::test]
async fn without_an_endpoint_no_trace_header_is_added() {
    let d = Dockside::start(|_| {}).await;
    let b = TestBackend::start("b").await;
    d.publish(vec![site("plain.test", &[b.addr])]).await;
    let reply = get(&d, "plain.test", "/").await;
    let headers = &reply.json()["headers"];
    assert!(headers.get("traceparent").is_none(), "{headers}");
    assert!(headers.get("tracestate").is_none(), "{headers}");
    let theirs = format!("00-{INCOMING_TRACE}-{INCOMING_SPAN}-01");
    let req = http::Request::get(d.url("/"))
        .header("host", "plain.test")
        .header("traceparent", &theirs);
    let reply = send(&d, req, empty_body()).await;
    assert_eq!(
        reply.json()["headers"]["traceparent"].as_str(),
        Some(theirs.as_str())
    );
}
