//! The attacks of the security-defects issue, replayed through the whole proxy with raw sockets
//! (a client library would normalise the bytes they depend on): path traversal past
//! `VIRTUAL_PATH`/`VIRTUAL_DEST` against a real static file server, HTTP/2 connections kept
//! alive by PINGs alone, WebSocket upgrades escaping the connection limit, a pipelined partial
//! head escaping the header timeout, and request-side conformance (`Host`, chunked bodies, h2c).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `request`, then reads until dockside closes (every request here asks it to, or is
/// refused), bounded by `WAIT`.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut reply))
        .await
        .expect("dockside answered and closed within WAIT");
    String::from_utf8_lossy(&reply).into_owned()
}

fn status_of(reply: &str) -> u16 {
    reply
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The echo backend's JSON from a raw reply.
fn echoed(reply: &str) -> serde_json::Value {
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

/// Python's static file server over a tree with a file inside `public/` and one outside it.
struct FileServer {
    addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl FileServer {
    async fn start() -> FileServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("public")).unwrap();
        std::fs::write(dir.path().join("public/hello.txt"), "hello from public\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "TOP-SECRET\n").unwrap();
        let port = dead_addr().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (scripts/install-test-deps.sh installs it)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "python3 -m http.server did not listen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        FileServer {
            addr,
            child,
            _dir: dir,
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_path_cannot_climb_out_of_virtual_dest() {
    let files = FileServer::start().await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site_paths(
        "files.test",
        &[("/pub/", "/public/", &[files.addr])],
    )])
    .await;
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: files.test\r\nConnection: close\r\n\r\n")
    };
    let ok = exchange(d.addr, get("/pub/hello.txt").as_bytes()).await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    assert!(ok.contains("hello from public"), "{ok}");
    // Normalised to /secret.txt: no location serves it here.
    for path in [
        "/pub/../secret.txt",
        "/pub/%2e%2e/secret.txt",
        "/pub/./%2E%2E/secret.txt",
    ] {
        let reply = exchange(d.addr, get(path).as_bytes()).await;
        assert!(!reply.contains("TOP-SECRET"), "{path} escaped: {reply}");
        assert_eq!(status_of(&reply), 404, "{path}: {reply}");
    }
    // Hidden behind an encoded slash, or above the root: refused outright.
    for path in [
        "/pub/..%2fsecret.txt",
        "/pub/..%5Csecret.txt",
        "/pub/%2e%2e/%2e%2e/secret.txt",
        "/pub/..%2F..%2Fsecret.txt",
    ] {
        let reply = exchange(d.addr, get(path).as_bytes()).await;
        assert!(!reply.contains("TOP-SECRET"), "{path} escaped: {reply}");
        assert_eq!(status_of(&reply), 400, "{path}: {reply}");
    }
}

#[tokio::test]
async fn routing_and_the_forwarded_target_use_the_normalised_path() {
    let api = TestBackend::start("api").await;
    let root = TestBackend::start("root").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site_paths(
        "paths.test",
        &[("/api/", "", &[api.addr]), ("/", "", &[root.addr])],
    )])
    .await;
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: paths.test\r\nConnection: close\r\n\r\n")
    };
    let reply = echoed(&exchange(d.addr, get("/api/../admin?x=1").as_bytes()).await);
    assert_eq!(reply["backend"], "root", "{reply}");
    assert_eq!(reply["uri"], "/admin?x=1", "{reply}");
    // $request_uri stays as the client sent it.
    assert_eq!(reply["headers"]["x-original-uri"], "/api/../admin?x=1");
    let reply = echoed(&exchange(d.addr, get("/api//v1/./%7Euser").as_bytes()).await);
    assert_eq!(reply["backend"], "api", "{reply}");
    assert_eq!(reply["uri"], "/api/v1/~user", "{reply}");
    // An encoded slash inside a segment keeps its meaning (GitLab's group%2Fproject).
    let reply = echoed(&exchange(d.addr, get("/api/group%2fproject").as_bytes()).await);
    assert_eq!(reply["uri"], "/api/group%2Fproject", "{reply}");
    // NUL and control characters never reach a backend (uwsgi's PATH_INFO is decoded).
    for path in [
        "/a/%2e%2e/%2e%2e/etc/passwd%00.png",
        "/a/b%0d%0aX:y",
        "/a/%zz",
    ] {
        let reply = exchange(d.addr, get(path).as_bytes()).await;
        assert_eq!(status_of(&reply), 400, "{path}: {reply}");
    }
    assert_eq!(root.hits() + api.hits(), 3);
}

#[tokio::test]
async fn an_http2_connection_kept_only_by_pings_is_closed_when_idle() {
    let idle = Duration::from_millis(600);
    let b = TestBackend::start("h2").await;
    let d = Dockside::start(|c| c.limits.idle_timeout = idle).await;
    d.publish(vec![site("h2.test", &[b.addr])]).await;
    let stream = TcpStream::connect(d.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake::<_, _, TestBody>(
        TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let driver = tokio::spawn(conn);
    let req = Request::get("http://h2.test/").body(empty_body()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    drop(resp);
    // The client answers every PING dockside sends (hyper does), and sends nothing else.
    let ended = tokio::time::timeout(idle * 8, driver).await;
    assert!(
        ended.is_ok(),
        "connection still open after {:?} with a {idle:?} idle timeout",
        started.elapsed()
    );
}

/// Opens a WebSocket through dockside and checks that it echoes.
async fn websocket(addr: SocketAddr) -> Option<TcpStream> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let upgrade =
        b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    s.write_all(upgrade).await.ok()?;
    let head = read_head(&mut s).await;
    if !head.starts_with("HTTP/1.1 101") {
        return None;
    }
    s.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut echo))
        .await
        .expect("echo within WAIT")
        .unwrap();
    assert_eq!(&echo, b"ping");
    Some(s)
}

#[tokio::test]
async fn upgraded_connections_keep_their_permit_and_are_closed_when_idle() {
    let idle = Duration::from_millis(800);
    let b = TestBackend::start("ws").await;
    let d = Dockside::start(|c| {
        c.limits.max_connections = 2;
        c.limits.upstream_timeout = idle;
    })
    .await;
    d.publish(vec![site("ws.test", &[b.addr])]).await;
    let first = websocket(d.addr).await.expect("first upgrade");
    let mut second = websocket(d.addr).await.expect("second upgrade");
    // Both permits are held by the upgraded connections: a third client is turned away.
    assert!(
        websocket(d.addr).await.is_none(),
        "a third connection was served with --max-connections 2"
    );
    // Idle upgraded connections are closed by dockside itself.
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, second.read_to_end(&mut rest))
        .await
        .expect("the idle WebSocket was closed within WAIT")
        .unwrap();
    assert!(started.elapsed() >= idle / 2, "{:?}", started.elapsed());
    drop(first);
    // With the permits back, a new client is served.
    let deadline = Instant::now() + WAIT;
    while websocket(d.addr).await.is_none() {
        assert!(Instant::now() < deadline, "permits never returned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn shutdown_drains_upgraded_connections() {
    let b = TestBackend::start("ws").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("ws.test", &[b.addr])]).await;
    let mut ws = websocket(d.addr).await.expect("upgrade");
    // What `Running::shutdown` does first; it then waits for the tracker the splice runs in.
    d.running.cancel_token().cancel();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, ws.read_to_end(&mut rest))
        .await
        .expect("the WebSocket was closed on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_pipelined_partial_head_is_cut_off_by_the_header_timeout() {
    let b = TestBackend::start("slow").await;
    let d = Dockside::start(|c| {
        c.limits.header_timeout = Duration::from_millis(300);
        c.limits.idle_timeout = Duration::from_secs(30);
    })
    .await;
    d.publish(vec![site("slow.test", &[b.addr])]).await;
    let probes: [&[u8]; 2] = [
        // The next head arrives with the first request, then silence.
        b"GET /x HTTP/1.1\r\nHost: slow.test\r\n\r\nGET /x HTTP/1.1\r\nHost: slow.te",
        // Two whole requests and a partial third: the third hides behind the second.
        b"GET /x HTTP/1.1\r\nHost: slow.test\r\n\r\nGET /y HTTP/1.1\r\nHost: slow.test\r\n\r\nGET /z HT",
    ];
    for probe in probes {
        let mut s = TcpStream::connect(d.addr).await.unwrap();
        s.write_all(probe).await.unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut rest))
            .await
            .expect("closed within WAIT, not after the 30 s idle timeout")
            .unwrap();
        let text = String::from_utf8_lossy(&rest);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn host_must_be_one_valid_value() {
    let b = TestBackend::start("host").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("a.test", &[b.addr])]).await;
    let refused: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.test:1:2\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: user@a.test\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a..test\r\nConnection: close\r\n\r\n",
    ];
    for request in refused {
        let reply = exchange(d.addr, request).await;
        assert_eq!(
            status_of(&reply),
            400,
            "{}: {reply}",
            String::from_utf8_lossy(request)
        );
    }
    assert_eq!(b.hits(), 0);
    // One Host, normalised once: case, trailing dot and the client's port are not forwarded.
    let reply = exchange(
        d.addr,
        b"GET / HTTP/1.1\r\nHost: A.TEST.:9999\r\nConnection: close\r\n\r\n",
    )
    .await;
    let host = &echoed(&reply)["headers"]["host"];
    assert_eq!(host, &format!("a.test:{}", d.addr.port()), "{reply}");
    // HTTP/1.0 may omit Host (no site then: 503, not 400).
    let reply = exchange(d.addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&reply), 503, "{reply}");
}

#[tokio::test]
async fn a_malformed_chunked_body_is_the_clients_fault() {
    let b = TestBackend::start("chunks").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("chunks.test", &[b.addr])]).await;
    for size in ["10000000000000005", "-5", "0x5"] {
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: chunks.test\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello\r\n0\r\n\r\n"
        );
        let reply = exchange(d.addr, request.as_bytes()).await;
        assert_eq!(status_of(&reply), 400, "chunk size {size}: {reply}");
    }
}

#[tokio::test]
async fn an_h2c_upgrade_is_not_forwarded() {
    let b = TestBackend::start("h2c").await;
    let d = Dockside::start(|_| {}).await;
    d.publish(vec![site("h2c.test", &[b.addr])]).await;
    let reply = exchange(
        d.addr,
        b"GET / HTTP/1.1\r\nHost: h2c.test\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\r\n",
    )
    .await;
    // The echo backend would have switched protocols on any Upgrade it saw.
    assert_eq!(status_of(&reply), 200, "{reply}");
    let headers = &echoed(&reply)["headers"];
    assert!(headers.get("upgrade").is_none(), "{reply}");
    assert!(headers.get("http2-settings").is_none(), "{reply}");
}

/// A backend that answers every request with `answer`, byte for byte (a hyper server would
/// never write the malformed framing these tests need). It reads the head and a
/// `Content-Length` body before answering.
async fn raw_backend(answer: &'static [u8]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let body: usize = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if seen.len() < end + 4 + body {
                        continue;
                    }
                    seen.drain(..end + 4 + body);
                    if s.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn backend_framing_that_cannot_be_forwarded_is_a_502() {
    let d = Dockside::start(|_| {}).await;
    let cases: [(&str, &'static [u8]); 4] = [
        (
            "te-and-cl.test",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "te-and-long-cl.test",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 20\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "cl-disagree.test",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
        ),
        (
            "gzip-te.test",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00",
        ),
    ];
    let mut sites = Vec::new();
    for (host, answer) in cases {
        sites.push(site(host, &[raw_backend(answer).await]));
    }
    d.publish(sites).await;
    for (host, _) in cases {
        // GET goes over dockside's own exchange, POST with a body over hyper's client.
        for request in [
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            ),
        ] {
            let reply = exchange(d.addr, request.as_bytes()).await;
            assert_eq!(status_of(&reply), 502, "{request}: {reply}");
        }
    }
}

#[tokio::test]
async fn backend_framing_is_normalised_for_the_client() {
    let d = Dockside::start(|_| {}).await;
    let list = raw_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello").await;
    let old = raw_backend(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
    d.publish(vec![site("list.test", &[list]), site("old.test", &[old])])
        .await;
    for host in ["list.test", "old.test"] {
        for request in [
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            ),
        ] {
            let reply = exchange(d.addr, request.as_bytes()).await;
            assert!(
                reply.starts_with("HTTP/1.1 200 OK\r\n"),
                "{request}: {reply}"
            );
            let head = reply.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
            let lengths: Vec<_> = head
                .lines()
                .filter(|l| l.starts_with("content-length:"))
                .collect();
            assert_eq!(lengths, ["content-length: 5"], "{request}: {reply}");
            assert!(reply.ends_with("\r\n\r\nhello"), "{request}: {reply}");
        }
    }
}
