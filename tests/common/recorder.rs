//! A raw HTTP/1.1 backend that records exactly the bytes it receives on each connection and
//! answers a fixed valid response, and a strict reader (RFC 9112 framing with no leniency) that
//! splits what it recorded into messages: request-smuggling tests assert on what a backend
//! really saw, which a hyper server would have normalised away.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{Dockside, WAIT};

/// What every complete request is answered with. `Connection: close`, so that dockside never
/// reuses a backend connection and every one of them ends: the recorder then knows when a
/// connection has shown all it will ever carry.
pub const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// One backend connection: its bytes in arrival order, and whether dockside has closed it.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

/// A running recording backend; connections are kept in accept order.
pub struct Recorder {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<Conn>>>,
    changed: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (tx, changed) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let shared = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut conns = shared.lock().unwrap();
                    conns.push(Conn::default());
                    conns.len() - 1
                };
                tx.send_modify(|v| *v += 1);
                tokio::spawn(record(stream, index, shared.clone(), tx.clone()));
            }
        });
        Recorder {
            addr,
            conns,
            changed,
            task,
        }
    }

    /// Everything the backend received for the requests sent so far, one entry per connection.
    /// Settled by an event, not a pause: a marker request (`GET /settle`, through dockside as
    /// `host`, on a fresh client connection) is sent; connections are accepted in the order
    /// dockside opened them, so once the marker has arrived every earlier connection is known,
    /// and each of those has shown all its bytes once dockside has closed it.
    pub async fn settle(&self, d: &Dockside, host: &str) -> Vec<Conn> {
        let mut s = TcpStream::connect(d.addr).await.unwrap();
        let marker = format!("GET /settle HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(marker.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut reply))
            .await
            .expect("the settle marker was answered within WAIT")
            .unwrap();
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "settle marker: {}",
            String::from_utf8_lossy(&reply)
        );
        let mut changed = self.changed.clone();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            {
                let conns = self.conns.lock().unwrap();
                let marker = conns
                    .iter()
                    .position(|c| c.bytes.starts_with(b"GET /settle "));
                if let Some(at) = marker
                    && conns[..at].iter().all(|c| c.closed)
                {
                    return conns[..at].to_vec();
                }
            }
            let waited = tokio::time::timeout_at(deadline, changed.changed()).await;
            assert!(
                waited.is_ok(),
                "backend connections not settled within WAIT: {:?}",
                self.conns.lock().unwrap()
            );
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one connection to its end, answering `ANSWER` once a whole request (as `messages`
/// reads it) or something that is not a request has arrived, then only reading on.
async fn record(
    mut stream: TcpStream,
    index: usize,
    conns: Arc<Mutex<Vec<Conn>>>,
    tx: Arc<watch::Sender<u64>>,
) {
    let mut seen = Vec::new();
    let mut answered = false;
    let mut buf = [0u8; 8192];
    loop {
        let n = match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => 0,
        };
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        conns.lock().unwrap()[index].bytes = seen.clone();
        tx.send_modify(|v| *v += 1);
        let ready = match messages(&seen) {
            Ok(read) => !read.messages.is_empty(),
            Err(_) => true,
        };
        if ready && !answered {
            answered = true;
            let _ = stream.write_all(ANSWER).await;
            let _ = stream.shutdown().await;
        }
    }
    conns.lock().unwrap()[index].closed = true;
    tx.send_modify(|v| *v += 1);
}

/// One request as the strict reader found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub method: String,
    pub target: String,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    /// Framed by `Transfer-Encoding: chunked` (else by `Content-Length`, or empty).
    pub chunked: bool,
    /// A chunk carried an extension (`5;name=value`).
    pub extensions: bool,
    /// The chunked body ended with trailer fields.
    pub trailers: Vec<String>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a byte stream holds: whole messages, then the bytes of an incomplete one.
#[derive(Debug, Default)]
pub struct Read {
    pub messages: Vec<Message>,
    pub incomplete: Vec<u8>,
}

/// Splits `bytes` into requests with RFC 9112's framing and none of its leniency: CRLF only,
/// one `Content-Length` of digits or `Transfer-Encoding: chunked` alone (never both), hex
/// chunk sizes. `Err` names what makes the stream ambiguous: a backend parser could read it
/// another way than dockside did.
pub fn messages(bytes: &[u8]) -> Result<Read, String> {
    let mut read = Read::default();
    let mut at = 0;
    while at < bytes.len() {
        match message(&bytes[at..])? {
            Some((m, used)) => {
                read.messages.push(m);
                at += used;
            }
            None => {
                read.incomplete = bytes[at..].to_vec();
                break;
            }
        }
    }
    Ok(read)
}

/// One message at the start of `bytes` and its length; `None` if incomplete.
fn message(bytes: &[u8]) -> Result<Option<(Message, usize)>, String> {
    let Some(head_len) = find(bytes, b"\r\n\r\n").map(|i| i + 4) else {
        check_line_ends(bytes)?;
        return Ok(None);
    };
    let head = &bytes[..head_len];
    check_line_ends(head)?;
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head_len => {}
        other => return Err(format!("head does not parse: {other:?}")),
    }
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            let value = std::str::from_utf8(h.value).map_err(|_| "header not text".to_owned());
            value.map(|v| (h.name.to_ascii_lowercase(), v.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    let mut m = Message {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        headers,
        body: Vec::new(),
        chunked: false,
        extensions: false,
        trailers: Vec::new(),
    };
    let te: Vec<&str> = values(&m.headers, "transfer-encoding");
    let cl: Vec<&str> = values(&m.headers, "content-length");
    let rest = &bytes[head_len..];
    let used = match (te.as_slice(), cl.as_slice()) {
        ([], []) => 0,
        ([], [len]) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => {
            let len: usize = len.parse().map_err(|e| format!("Content-Length: {e}"))?;
            if rest.len() < len {
                return Ok(None);
            }
            m.body = rest[..len].to_vec();
            len
        }
        (["chunked"], []) => {
            m.chunked = true;
            match chunked(rest, &mut m)? {
                Some(used) => used,
                None => return Ok(None),
            }
        }
        (te, cl) => return Err(format!("ambiguous framing: TE {te:?}, CL {cl:?}")),
    };
    Ok(Some((m, head_len + used)))
}

/// Decodes a chunked body into `m`; the bytes it took, `None` if incomplete.
fn chunked(bytes: &[u8], m: &mut Message) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(eol) = find(&bytes[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = &bytes[at..at + eol];
        at += eol + 2;
        let (size, ext) = match line.iter().position(|b| *b == b';') {
            Some(i) => (&line[..i], true),
            None => (line, false),
        };
        m.extensions |= ext;
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("chunk size {:?}", String::from_utf8_lossy(line)));
        }
        let size = usize::from_str_radix(std::str::from_utf8(size).unwrap(), 16).unwrap();
        if size == 0 {
            return trailers(&bytes[at..], m).map(|used| used.map(|u| at + u));
        }
        if bytes.len() < at + size + 2 {
            return Ok(None);
        }
        m.body.extend_from_slice(&bytes[at..at + size]);
        if &bytes[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk data does not end in CRLF".into());
        }
        at += size + 2;
    }
}

fn trailers(bytes: &[u8], m: &mut Message) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(eol) = find(&bytes[at..], b"\r\n") else {
            return Ok(None);
        };
        if eol == 0 {
            return Ok(Some(at + 2));
        }
        m.trailers
            .push(String::from_utf8_lossy(&bytes[at..at + eol]).into_owned());
        at += eol + 2;
    }
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Every LF ends a CRLF and every CR starts one (httparse alone accepts a bare LF).
fn check_line_ends(head: &[u8]) -> Result<(), String> {
    for (i, b) in head.iter().enumerate() {
        let bare = match b {
            b'\n' => i == 0 || head[i - 1] != b'\r',
            b'\r' => head.get(i + 1).is_some_and(|n| *n != b'\n'),
            _ => false,
        };
        if bare {
            return Err(format!("bare CR or LF at byte {i}"));
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
