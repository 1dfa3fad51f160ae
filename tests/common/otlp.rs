//! An OTLP/HTTP receiver on 127.0.0.1:0: accepts `POST /v1/traces`, decodes the protobuf
//! export with the official `opentelemetry-proto` messages, and keeps every span with its
//! resource's `service.name`. And the `dockside` binary started against it (the exporter is
//! installed by `main`, so traces are tested on the real binary).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;

/// One exported span and the `service.name` of the resource it came with.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub span: Span,
}

impl Received {
    /// A string or integer attribute, as text.
    pub fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let store = spans.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let store = store.clone();
                        async move { Ok::<_, Infallible>(export(&store, req).await) }
                    });
                    let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = server.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Receiver { addr, spans, task }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A decoding failure answers 400 and panics the test through the missing spans.
async fn export(store: &Mutex<Vec<Received>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let ok = req.method() == http::Method::POST
        && req.uri().path() == "/v1/traces"
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/x-protobuf");
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let decoded = body
        .ok()
        .and_then(|b| ExportTraceServiceRequest::decode(b).ok());
    let Some(request) = decoded.filter(|_| ok) else {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"not an OTLP trace export")));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        return resp;
    };
    let mut spans = store.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| attr(&r.attributes, "service.name"))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    service: service.clone(),
                    span,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: full success.
    let mut resp = Response::new(Full::new(Bytes::new()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-protobuf"),
    );
    resp
}

/// The `dockside` binary serving `routes` on an ephemeral loopback port, HTTP only, with the
/// `OTEL_*` variables of `env` (and none inherited from the test's environment).
pub struct Binary {
    child: Child,
    pub http: String,
}

impl Binary {
    pub fn start(routes: &Path, env: &[(&str, &str)]) -> Binary {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockside"));
        cmd.args(["--http", "127.0.0.1:0", "--https", "off", "--admin", "off"])
            .args(["--docker-host", "off", "--routes"])
            .arg(routes)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OTEL_")) {
            cmd.env_remove(name);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("dockside binary runs");
        let (http, _) = super::serving_on(&mut child);
        Binary { child, http }
    }

    /// SIGTERM (dockside drains and flushes its spans), then the exit code, within 10 s.
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "dockside did not exit within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
