//! Site-policy tests (issue 14): nginx-proxy's folders (`vhost.d`, `htpasswd`, `conf.d`,
//! `html`) in a temp dir, a routes file whose entries carry policy settings, password hashes
//! made by the real tools (`htpasswd`, `openssl passwd`), and a content backend that answers
//! with chosen media types, encodings and pacing (compression and streaming tests).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dockside::config::NginxDirs;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::{Dockside, require_tool};

/// nginx-proxy's folders plus a routes file, all in one temp dir owned by the test.
pub struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    /// Creates `vhost.d/`, `htpasswd/`, `conf.d/` and `html/errors/`, all empty.
    pub fn new() -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["vhost.d", "htpasswd", "conf.d", "html/errors"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create nginx dir");
        }
        Files { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The folders as dockside's configuration names them.
    pub fn dirs(&self) -> NginxDirs {
        NginxDirs {
            vhost_d: self.path().join("vhost.d"),
            htpasswd: self.path().join("htpasswd"),
            conf_d: self.path().join("conf.d"),
            html: self.path().join("html"),
        }
    }

    /// Writes `rel` (e.g. `vhost.d/a.test`) the way editors and config management do: to a
    /// temporary name first, then renamed over the old file. Creates parent folders.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create parent");
        let tmp = self.path().join(format!(".{}.tmp", rel.replace('/', "_")));
        std::fs::write(&tmp, text).expect("write temp file");
        std::fs::rename(&tmp, &path).expect("rename into place");
    }

    pub fn routes_file(&self) -> PathBuf {
        self.path().join("routes.toml")
    }
}

/// One `[[site]]` of a routes file: host, optional `VIRTUAL_PATH`, backends, settings.
#[derive(Clone)]
pub struct Entry {
    host: String,
    backends: Vec<String>,
    settings: Vec<(String, String)>,
}

/// A routes-file entry for `host` over `backend`.
pub fn entry(host: &str, backend: SocketAddr) -> Entry {
    Entry {
        host: host.to_owned(),
        backends: vec![backend.to_string()],
        settings: Vec::new(),
    }
}

impl Entry {
    /// Adds a setting (`BASIC_AUTH`, `VIRTUAL_PATH`, …) with its value as the user writes it.
    pub fn set(mut self, name: &str, value: &str) -> Entry {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    fn toml(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let backends: Vec<String> = self.backends.iter().map(|b| quote(b)).collect();
        let mut text = format!(
            "[[site]]\nVIRTUAL_HOST = {}\nbackends = [{}]\n",
            quote(&self.host),
            backends.join(", ")
        );
        for (name, value) in &self.settings {
            text.push_str(&format!("{name} = {}\n", quote(value)));
        }
        text.push('\n');
        text
    }
}

/// The routes file for `entries`.
pub fn routes_toml(entries: &[Entry]) -> String {
    entries.iter().map(Entry::toml).collect()
}

/// Starts dockside on loopback with `files`' folders and a routes file of `entries`, and
/// waits until every entry's host routes. Access logs off: tests read answers, not logs.
pub async fn start(files: &Files, entries: &[Entry]) -> Dockside {
    start_with(files, entries, |_| {}).await
}

/// As [`start`], with a further tweak of the configuration.
pub async fn start_with(
    files: &Files,
    entries: &[Entry],
    tweak: impl FnOnce(&mut dockside::config::Config),
) -> Dockside {
    let routes = files.routes_file();
    files.write("routes.toml", &routes_toml(entries));
    let dirs = files.dirs();
    let d = Dockside::start(move |c| {
        c.routes = Some(routes);
        c.nginx_dirs = dirs;
        c.access_log = dockside::config::AccessLog::Off;
        tweak(c);
    })
    .await;
    // Regex hosts are routed under a name of the table's own: tests poll for those.
    let hosts: Vec<&str> = entries
        .iter()
        .map(|e| e.host.as_str())
        .filter(|h| !h.starts_with('~'))
        .collect();
    wait_hosts(&d, &hosts).await;
    d
}

/// Waits (≤ 10 s) until every one of `hosts` is in the live route table.
pub async fn wait_hosts(d: &Dockside, hosts: &[&str]) {
    let deadline = Instant::now() + super::WAIT;
    loop {
        let table = d.running.routes();
        if hosts.iter().all(|h| table.sites().any(|s| s.host == *h)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "hosts {hosts:?} not routed within {:?}",
            super::WAIT
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `sha1(VIRTUAL_PATH)` in hex, as nginx-proxy names per-path files
/// (`sha1("/")` = `42099b4af021e53fd8fd4e056c2568d7c2e3ffa8`).
pub fn sha1_hex(path: &str) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        path.as_bytes(),
    );
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The password hash formats an htpasswd file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// `htpasswd -nbB -C 5` (`$2y$`).
    Bcrypt2y,
    /// The same hash with the `$2b$` prefix (the same algorithm; what Python's bcrypt writes).
    Bcrypt2b,
    /// `openssl passwd -apr1` (`$apr1$`).
    Apr1,
    /// `openssl passwd -5` (`$5$`, SHA-256 crypt).
    Sha256Crypt,
    /// `openssl passwd -6` (`$6$`, SHA-512 crypt).
    Sha512Crypt,
    /// `htpasswd -nbs` (`{SHA}`, base64 of SHA-1).
    Sha1,
}

pub const ALL_HASHES: [HashKind; 6] = [
    HashKind::Bcrypt2y,
    HashKind::Bcrypt2b,
    HashKind::Apr1,
    HashKind::Sha256Crypt,
    HashKind::Sha512Crypt,
    HashKind::Sha1,
];

/// `password` hashed by the real tool for `kind` (fails with what to install if missing).
pub fn hash(kind: HashKind, password: &str) -> String {
    let run = |tool: &str, package: &str, args: &[&str]| {
        require_tool(tool, package);
        let out = Command::new(tool).args(args).output().expect(tool);
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // htpasswd -n prints `user:hash`.
    let after_colon = |line: String| line.split_once(':').expect("user:hash").1.to_owned();
    let h = match kind {
        HashKind::Bcrypt2y => after_colon(run(
            "htpasswd",
            "apache2-utils",
            &["-nbB", "-C", "5", "u", password],
        )),
        HashKind::Bcrypt2b => hash(HashKind::Bcrypt2y, password).replacen("$2y$", "$2b$", 1),
        HashKind::Apr1 => run("openssl", "openssl", &["passwd", "-apr1", password]),
        HashKind::Sha256Crypt => run("openssl", "openssl", &["passwd", "-5", password]),
        HashKind::Sha512Crypt => run("openssl", "openssl", &["passwd", "-6", password]),
        HashKind::Sha1 => after_colon(run("htpasswd", "apache2-utils", &["-nbs", "u", password])),
    };
    let prefix = match kind {
        HashKind::Bcrypt2y => "$2y$",
        HashKind::Bcrypt2b => "$2b$",
        HashKind::Apr1 => "$apr1$",
        HashKind::Sha256Crypt => "$5$",
        HashKind::Sha512Crypt => "$6$",
        HashKind::Sha1 => "{SHA}",
    };
    assert!(h.starts_with(prefix), "{kind:?} made {h:?}");
    h
}

/// `Authorization: Basic …` for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

type Body = BoxBody<Bytes, Infallible>;

/// A body nginx would compress: lines of text, `n` bytes.
pub fn compressible(n: usize) -> Vec<u8> {
    let line = b"dockside compresses this repetitive line of text for the client\n";
    line.iter().copied().cycle().take(n).collect()
}

/// The gzip file the content backend serves as an already-encoded body. Made with
/// `for i in $(seq 1 400); do printf '{"item":%d,"name":"already compressed by the backend"}\n' $i; done | gzip -9 -n`.
pub const PRE_GZ: &[u8] = include_bytes!("../data/policy/pre.json.gz");

/// A backend answering by path:
/// - `/body/<kind>/<n>`: `n` compressible bytes as `html` (text/html), `plain` (text/plain),
///   `json` (application/json) or `png` (image/png), with `Content-Length`;
/// - `/vary/<n>`: as `/body/html/<n>`, with the backend's own `Vary: Origin`;
/// - `/pregz`: [`PRE_GZ`] with `Content-Encoding: gzip` (application/json);
/// - `/stream`: text/plain without a length: a first chunk (starting `first-chunk`), then —
///   once the test calls [`ContentBackend::release`] — a last chunk ending `last-chunk`;
/// - `/headers`: `ok` with `Server: backend-server` and `X-Powered-By: php/8`;
/// - anything else: 404.
pub struct ContentBackend {
    pub addr: SocketAddr,
    gate: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// The first chunk of `/stream`: 4 KiB of text after the marker.
pub const FIRST_CHUNK_MARK: &str = "first-chunk";
pub const LAST_CHUNK_MARK: &str = "last-chunk";

impl ContentBackend {
    pub async fn start() -> ContentBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Arc::new(Notify::new());
        let g = gate.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let g = g.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let g = g.clone();
                        async move { Ok::<_, Infallible>(content(req, g)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        ContentBackend { addr, gate, task }
    }

    /// Lets the waiting (or next) `/stream` answer send its last chunk.
    pub fn release(&self) {
        self.gate.notify_one();
    }
}

impl Drop for ContentBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn content(req: Request<Incoming>, gate: Arc<Notify>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let full = |b: Bytes| Full::new(b).boxed();
    let answer = |ct: &str, body: Body| {
        Response::builder()
            .header("content-type", ct)
            .body(body)
            .unwrap()
    };
    match parts.as_slice() {
        ["body", kind, n] => {
            let n: usize = n.parse().unwrap_or(0);
            let ct = match *kind {
                "html" => "text/html; charset=utf-8",
                "plain" => "text/plain",
                "json" => "application/json",
                "png" => "image/png",
                _ => "application/octet-stream",
            };
            let body = Bytes::from(compressible(n));
            let mut r = answer(ct, full(body));
            r.headers_mut()
                .insert("content-length", n.to_string().parse().unwrap());
            r
        }
        ["vary", n] => {
            let n: usize = n.parse().unwrap_or(0);
            let mut r = answer("text/html", full(Bytes::from(compressible(n))));
            r.headers_mut().insert("vary", "Origin".parse().unwrap());
            r
        }
        ["pregz"] => {
            let mut r = answer("application/json", full(Bytes::from_static(PRE_GZ)));
            r.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            r
        }
        ["stream"] => {
            let first = format!(
                "{FIRST_CHUNK_MARK}\n{}",
                String::from_utf8(compressible(4096)).unwrap()
            );
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let (gate, first) = (gate.clone(), first.clone());
                async move {
                    match step {
                        0 => Some((Ok(Frame::data(Bytes::from(first))), 1)),
                        1 => {
                            gate.notified().await;
                            let last = format!("more text\n{LAST_CHUNK_MARK}\n");
                            Some((Ok(Frame::data(Bytes::from(last))), 2))
                        }
                        _ => None,
                    }
                }
            });
            answer("text/plain", StreamBody::new(stream).boxed())
        }
        ["headers"] => {
            let mut r = answer("text/plain", full(Bytes::from_static(b"ok")));
            let h = r.headers_mut();
            h.insert("server", "backend-server".parse().unwrap());
            h.insert("x-powered-by", "php/8".parse().unwrap());
            r
        }
        _ => {
            let mut r = answer("text/plain", full(Bytes::from_static(b"no such path")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}

/// What curl saw: status, headers (lower-case names, last response only), body bytes as
/// written by curl (decoded when `--compressed`), and how many bytes came over the wire.
pub struct CurlReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub wire_bytes: u64,
}

/// Bodies are long: a failing assertion shows their length and first bytes only.
impl std::fmt::Debug for CurlReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = &self.body[..self.body.len().min(80)];
        f.debug_struct("CurlReply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body_start", &String::from_utf8_lossy(head))
            .field("wire_bytes", &self.wire_bytes)
            .finish()
    }
}

impl CurlReply {
    /// The first value of `name` (lower-case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (lower-case).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Runs curl against dockside at `d` with `Host: host`, `extra` arguments before the URL, and
/// reads status, headers and body. The body goes to a file, so binary bodies survive.
pub fn curl_get(d: &Dockside, host: &str, path: &str, extra: &[&str]) -> CurlReply {
    require_tool("curl", "curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let host_header = format!("Host: {host}");
    let url = d.url(path);
    let mut args: Vec<&str> = vec![
        "-H",
        &host_header,
        "-D",
        head.to_str().unwrap(),
        "-o",
        body.to_str().unwrap(),
        "-w",
        "%{http_code} %{size_download}",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = super::curl(&args);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, size) = w.trim().split_once(' ').expect("curl -w output");
    let head = std::fs::read_to_string(&head).unwrap_or_default();
    // With redirects or 100-continue there may be several heads: keep the last one.
    let last = head
        .split("\r\n\r\n")
        .filter(|h| !h.trim().is_empty())
        .last()
        .unwrap_or("");
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    CurlReply {
        status: code.parse().expect("status"),
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
        wire_bytes: size.parse().expect("size_download"),
    }
}

/// GET through dockside from the client address `from` (any 127/8 address works on Linux's
/// loopback), so one test can be two different clients.
pub async fn get_from(
    d: &Dockside,
    from: std::net::IpAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> super::Reply {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_local_address(Some(from));
    let c: hyper_util::client::legacy::Client<_, super::TestBody> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(http);
    let mut req = Request::get(d.url(path)).header("host", host);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let req = req.body(super::empty_body()).unwrap();
    let resp = tokio::time::timeout(super::WAIT, c.request(req))
        .await
        .expect("response within WAIT")
        .expect("response");
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(super::WAIT, body.collect())
        .await
        .expect("body within WAIT")
        .expect("body")
        .to_bytes();
    super::Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET with extra request headers, from 127.0.0.1.
pub async fn get_with(
    d: &Dockside,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> super::Reply {
    get_from(d, [127, 0, 0, 1].into(), host, path, headers).await
}

/// A header of a hyper reply as text ("" when absent).
pub fn header<'a>(r: &'a super::Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
