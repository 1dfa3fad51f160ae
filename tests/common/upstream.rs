//! Scripted raw backends and a raw client for the upstream-framing tests: a backend answers each
//! request with exact bytes chosen per connection and per request (no HTTP library would write
//! the malformed framing these tests need) and notes what happened on every connection, so a
//! test can tell which upstream connection a request used and whether dockside closed it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::WAIT;
use super::responders::Task;

/// One request as the backend read it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The connection's number, in accept order from 1.
    pub conn: usize,
    /// The request's number on its connection, from 1.
    pub nth: usize,
    pub method: String,
    pub path: String,
}

/// What happened on the backend's connections, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Request {
        conn: usize,
        nth: usize,
        path: String,
    },
    /// Every step of the answer to this request was carried out.
    Answered { conn: usize, nth: usize },
    /// Waiting in `Step::WaitRelease`.
    Waiting { conn: usize },
    /// The write side was shut down (`Step::ShutdownWrite`).
    ShutDown { conn: usize },
    /// The connection ended (the backend read EOF or an error, or closed it in `Step::Close`).
    Closed { conn: usize },
}

/// One step of an answer.
pub enum Step {
    /// `write_all` of these bytes (each step is its own write).
    Write(Vec<u8>),
    /// Waits until the test calls `Scripted::release`.
    WaitRelease,
    /// Shuts the write side down (FIN) and goes on reading.
    ShutdownWrite,
    /// Closes the connection without answering anything more.
    Close,
}

/// A backend answering through a script.
pub struct Scripted {
    pub addr: SocketAddr,
    log: Arc<Log>,
    release: Arc<Notify>,
    _task: Task,
}

#[derive(Default)]
struct Log {
    events: Mutex<Vec<Event>>,
    changed: Notify,
}

impl Log {
    fn push(&self, e: Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e);
        self.changed.notify_waiters();
    }
}

type Script = dyn Fn(&Seen) -> Vec<Step> + Send + Sync;

impl Scripted {
    /// Serves on 127.0.0.1:0; every request (head plus a `Content-Length` body) is answered by
    /// `script`.
    pub async fn start(script: impl Fn(&Seen) -> Vec<Step> + Send + Sync + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Log::default());
        let release = Arc::new(Notify::new());
        let script: Arc<Script> = Arc::new(script);
        let task = tokio::spawn({
            let (log, release) = (log.clone(), release.clone());
            async move {
                let mut conn = 0;
                while let Ok((s, _)) = listener.accept().await {
                    // Each write its own segment at once: Nagle would hold a write that follows
                    // another until dockside's ACK, i.e. until after dockside's next request.
                    s.set_nodelay(true).unwrap();
                    conn += 1;
                    let (log, release, script) = (log.clone(), release.clone(), script.clone());
                    tokio::spawn(serve(s, conn, log, release, script));
                }
            }
        });
        Scripted {
            addr,
            log,
            release,
            _task: task.into(),
        }
    }

    /// Lets every connection waiting in `Step::WaitRelease` go on.
    pub fn release(&self) {
        self.release.notify_waiters();
    }

    pub fn events(&self) -> Vec<Event> {
        self.log
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (≤ `WAIT`) until `event` has happened.
    pub async fn wait_for(&self, event: Event) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.log.changed.notified();
            if self.events().contains(&event) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("{event:?} within WAIT; saw {:?}", self.events());
            }
        }
    }

    /// The connection that carried the request for `path` (the last one if several did).
    pub fn conn_of(&self, path: &str) -> Option<usize> {
        self.events().iter().rev().find_map(|e| match e {
            Event::Request { conn, path: p, .. } if p == path => Some(*conn),
            _ => None,
        })
    }
}

async fn serve(
    mut s: TcpStream,
    conn: usize,
    log: Arc<Log>,
    release: Arc<Notify>,
    script: Arc<Script>,
) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut nth = 0;
    loop {
        let Some((method, path)) = take_request(&mut seen) else {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    log.push(Event::Closed { conn });
                    return;
                }
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        nth += 1;
        let req = Seen {
            conn,
            nth,
            method,
            path: path.clone(),
        };
        log.push(Event::Request { conn, nth, path });
        for step in script(&req) {
            match step {
                Step::Write(bytes) => {
                    if s.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Step::WaitRelease => {
                    // Registered before `Waiting` is logged, so a release that follows it
                    // cannot be missed.
                    let released = release.notified();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    log.push(Event::Waiting { conn });
                    released.await;
                }
                Step::ShutdownWrite => {
                    let _ = s.shutdown().await;
                    log.push(Event::ShutDown { conn });
                }
                Step::Close => {
                    log.push(Event::Answered { conn, nth });
                    drop(s);
                    log.push(Event::Closed { conn });
                    return;
                }
            }
        }
        log.push(Event::Answered { conn, nth });
    }
}

/// A complete request (head plus `Content-Length` body) at the start of `seen`, consumed:
/// its method and target.
fn take_request(seen: &mut Vec<u8>) -> Option<(String, String)> {
    let end = seen.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&seen[..end]).into_owned();
    let body: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    if seen.len() < end + 4 + body {
        return None;
    }
    seen.drain(..end + 4 + body);
    let mut start = head.split(' ');
    let method = start.next().unwrap_or_default().to_owned();
    let path = start.next().unwrap_or_default().to_owned();
    Some((method, path))
}

/// A response as a raw client read it.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// The head, lower case, without the blank line.
    pub head: String,
    /// The body's payload (chunked framing removed).
    pub body: Vec<u8>,
    /// Whether the body reached the end its framing declares (for chunked: the last chunk).
    pub complete: bool,
}

impl RawReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n == name).then(|| v.trim())
        })
    }
}

/// A keep-alive client connection that reads responses byte-exactly.
pub struct RawClient {
    s: TcpStream,
    buf: Vec<u8>,
    eof: bool,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient {
            s: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
            eof: false,
        }
    }

    pub async fn send(&mut self, request: &[u8]) {
        self.s.write_all(request).await.unwrap();
    }

    /// Reads more (≤ `WAIT`); false at EOF.
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, self.s.read(&mut chunk))
            .await
            .expect("dockside sent something or closed within WAIT")
            .unwrap_or(0);
        self.eof = n == 0;
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads until the bytes received so far contain `needle` (≤ `WAIT` per read).
    pub async fn wait_for_bytes(&mut self, needle: &[u8]) {
        while !self.buf.windows(needle.len()).any(|w| w == needle) {
            assert!(
                self.fill().await,
                "EOF before {:?}: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads one response; `bodiless` for the answer to HEAD (and 1xx/204/304, whose head
    /// says so anyway). An EOF before the head panics.
    pub async fn response(&mut self, bodiless: bool) -> RawReply {
        let end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            assert!(
                self.fill().await,
                "EOF before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
        self.buf.drain(..end + 4);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut reply = RawReply {
            status,
            head,
            body: Vec::new(),
            complete: true,
        };
        if bodiless || status == 204 || status == 304 || status < 200 {
            return reply;
        }
        if reply.header("transfer-encoding") == Some("chunked") {
            reply.complete = self.chunked(&mut reply.body).await;
        } else if let Some(len) = reply.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len && self.fill().await {}
            let n = len.min(self.buf.len());
            reply.body = self.buf.drain(..n).collect();
            reply.complete = n == len;
        } else {
            while self.fill().await {}
            reply.body = std::mem::take(&mut self.buf);
        }
        reply
    }

    /// Decodes a chunked body into `out`; false if the connection ended before the last chunk.
    async fn chunked(&mut self, out: &mut Vec<u8>) -> bool {
        loop {
            let line = loop {
                if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    self.buf.drain(..end + 2);
                    break line;
                }
                if !self.fill().await {
                    out.append(&mut self.buf);
                    return false;
                }
            };
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("chunk size line {line:?}"));
            while self.buf.len() < size + 2 {
                if !self.fill().await {
                    out.append(&mut self.buf);
                    return false;
                }
            }
            if size == 0 {
                // No trailers from dockside: the last chunk's blank line.
                assert_eq!(&self.buf[..2], b"\r\n");
                self.buf.drain(..2);
                return true;
            }
            out.extend(self.buf.drain(..size));
            assert_eq!(&self.buf[..2], b"\r\n");
            self.buf.drain(..2);
        }
    }

    /// Whether dockside closed the connection (≤ `WAIT`), with nothing more sent.
    pub async fn closed(&mut self) -> bool {
        while self.fill().await {}
        self.buf.is_empty()
    }
}

/// `method path` to `host` on a kept-alive connection; a POST carries a 2-byte body (so it goes
/// over hyper's client, a bodiless request over dockside's own exchange).
pub fn request(method: &str, host: &str, path: &str) -> Vec<u8> {
    match method {
        "POST" => format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\nhi"),
        _ => format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    }
    .into_bytes()
}

/// A plain answer naming the connection it came over: `conn<N>`.
pub fn ok_from(req: &Seen) -> Vec<u8> {
    let body = format!("conn{}", req.conn);
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Two client connections served by the same dockside worker (the same upstream pool): a
/// worker is chosen per connection by the kernel (`SO_REUSEPORT`), so `b` is reconnected
/// until a `/probe` from it reuses the upstream connection `a`'s `/probe` left in the pool.
/// The backend's script must answer `/probe` with `ok_from`.
pub async fn same_worker_pair(
    proxy: SocketAddr,
    host: &str,
    method: &str,
) -> (RawClient, RawClient) {
    let mut a = RawClient::connect(proxy).await;
    a.send(&request(method, host, "/probe")).await;
    let first = a.response(false).await;
    assert_eq!(first.status, 200, "{first:?}");
    for _ in 0..40 {
        let mut b = RawClient::connect(proxy).await;
        b.send(&request(method, host, "/probe")).await;
        let reply = b.response(false).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        if reply.body == first.body {
            return (a, b);
        }
    }
    panic!("no client connection in 40 landed on the worker of the first");
}
