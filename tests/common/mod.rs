//! The one test harness: where tests start dockside (in-process on 127.0.0.1:0, or its TLS layer
//! alone in `tls`), backends on real sockets, Pebble, uWSGI, the Docker engine's containers, and
//! clients (hyper, curl, openssl, tokio-rustls). Every wait has a timeout.
#![allow(
    dead_code,
    reason = "each test binary compiles the whole harness and uses a part of it"
)]

pub mod acme;
pub mod acme_double;
pub mod ask;
pub mod backend;
pub mod browser;
pub mod docker;
pub mod etcd;
pub mod exhaust;
pub mod fastcgi;
pub mod faults;
pub mod grpc;
pub mod h2hard;
pub mod h2raw;
pub mod h3;
pub mod https;
pub mod image;
pub mod knot;
pub mod load;
pub mod logs;
pub mod netns;
pub mod otlp;
pub mod pebble;
pub mod policy;
pub mod proxy_protocol;
pub mod recorder;
pub mod replica;
pub mod responders;
pub mod swarm;
pub mod tls;
pub mod upstream;
pub mod uwsgi;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dockside::app::{self, Running};
use dockside::config::Config;
use dockside::model::{Backend, BackendAddr, DesiredState, Health, Location, Proto, Site};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[allow(unused_imports)]
pub use backend::TestBackend;

/// Generous bound for any single network wait in tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running dockside and the temporary directory it uses.
pub struct Dockside {
    pub running: Running,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Dockside {
    /// Starts dockside on an ephemeral loopback port; `tweak` adjusts the test config.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Dockside {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = dockside::test_support::config(dir.path().to_path_buf());
        tweak(&mut config);
        let running = app::start(config).await.expect("dockside starts");
        let addr = running.http_addr;
        Dockside {
            running,
            addr,
            _dir: dir,
        }
    }

    /// Publishes `sites` and waits until every one of their hosts routes (≤ 1 s, as promised).
    pub async fn publish(&self, sites: Vec<Site>) {
        let hosts: Vec<String> = sites.iter().map(|s| s.host.clone()).collect();
        let want = DesiredState {
            sites: sites.into_iter().map(std::sync::Arc::new).collect(),
            ..Default::default()
        };
        self.running.publish(want);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let table = self.running.routes();
            if hosts.iter().all(|h| table.sites().any(|s| &s.host == h)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "route table not rebuilt within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Backend addresses of `host`'s `/` location in the live route table, in its order;
    /// `None` when no site has that host.
    #[allow(dead_code)]
    pub fn backends(&self, host: &str) -> Option<Vec<String>> {
        let table = self.running.routes();
        let site = table.sites().find(|s| s.host == host)?;
        Some(match site.location("/").map(|l| &l.action) {
            Some(dockside::routing::Action::Forward(up)) => up
                .backends
                .iter()
                .map(|b| match &b.addr {
                    BackendAddr::Tcp(a) => a.to_string(),
                    other => format!("{other:?}"),
                })
                .collect(),
            _ => Vec::new(),
        })
    }
}

/// A site with one `/` location over `backends`.
pub fn site(host: &str, backends: &[SocketAddr]) -> Site {
    site_paths(host, &[("/", "", backends)])
}

/// A site with `(VIRTUAL_PATH, VIRTUAL_DEST, backends)` locations.
pub fn site_paths(host: &str, locations: &[(&str, &str, &[SocketAddr])]) -> Site {
    Site {
        host: host.to_owned(),
        locations: locations
            .iter()
            .map(|(path, dest, backends)| location(path, dest, backends))
            .collect(),
        ..Default::default()
    }
}

pub fn location(path: &str, dest: &str, backends: &[SocketAddr]) -> Location {
    Location {
        path: path.to_owned(),
        dest: dest.to_owned(),
        proto: Proto::Http,
        keepalive: true,
        backends: backends
            .iter()
            .map(|a| Backend {
                addr: BackendAddr::Tcp(*a),
                source: format!("backend-{}", a.port()),
                health: Health::None,
            })
            .collect(),
        ..Default::default()
    }
}

/// An address nothing listens on: a port of [`pebble::free_port`], reserved for this test
/// process, so no other test's listener is handed it while this one counts on refusals.
pub fn dead_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], pebble::free_port()))
}

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A real HTTP/1.1 client (pooled, nodelay).
pub fn client() -> Client<HttpConnector, TestBody> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(http)
}

pub fn empty_body() -> TestBody {
    Empty::new().map_err(|n| match n {}).boxed()
}

pub fn full_body(b: impl Into<Bytes>) -> TestBody {
    Full::new(b.into()).map_err(|n| match n {}).boxed()
}

/// What a test reads back from a response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The backend's echo as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Which test backend answered.
    pub fn backend(&self) -> String {
        self.json()["backend"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// GET `path` with `Host: host` through dockside.
pub async fn get(d: &Dockside, host: &str, path: &str) -> Reply {
    send(
        d,
        Request::get(d.url(path)).header("host", host),
        empty_body(),
    )
    .await
}

/// Sends a request built by the caller and reads the whole answer (within `WAIT`).
pub async fn send(_d: &Dockside, builder: http::request::Builder, body: TestBody) -> Reply {
    let req = builder.body(body).expect("request");
    let c = client();
    let resp = tokio::time::timeout(WAIT, c.request(req))
        .await
        .expect("response within WAIT")
        .expect("response");
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("body within WAIT")
        .expect("body")
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Runs `curl` with `args` (adds `-sS --max-time 10`); panics with "install curl" if absent.
pub fn curl(args: &[&str]) -> std::process::Output {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output();
    match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("curl is not installed: install curl (apt-get install curl)")
        }
        Err(e) => panic!("running curl: {e}"),
    }
}

/// Fails (never skips) when a client tool is missing, naming the Debian package.
pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is required by this test: apt-get install -y {package}"
    );
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Reads a response head from a raw socket (bounded by `WAIT` and 16 KiB); empty on EOF.
pub async fn read_head(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tokio::time::timeout_at(deadline, s.read(&mut byte))
            .await
            .expect("head within WAIT")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A dockside binary child's stderr lines up to the one saying it is serving, and the HTTP address it names.
pub fn serving_on(child: &mut std::process::Child) -> (String, Vec<String>) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "never serving: {seen:#?}");
        let Some(Ok(line)) = lines.next() else {
            panic!("dockside exited before serving: {seen:#?}");
        };
        if line.contains("dockside is serving") {
            let http = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http="))
                .and_then(|list| list.split(',').next())
                .expect("the serving line names the HTTP address")
                .to_owned();
            // Keep draining stderr so the child never blocks on a full pipe (shown on failure).
            std::thread::spawn(move || lines.for_each(|l| eprintln!("dockside: {l:?}")));
            return (http, seen);
        }
        seen.push(line);
    }
}
