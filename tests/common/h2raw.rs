//! A raw HTTP/2 client for conformance and attack tests: frames (RFC 9113 §4) and HPACK
//! (RFC 7541) written by hand, so a test can send what no client library would — bad
//! pseudo-headers, frames on stream 0, floods — and read exactly what the server answered.
//! The codecs are pure (`Frame::decode`, `hpack::Decoder`); `H2Conn` owns the socket.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

// Error codes (RFC 9113 §7).
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const STREAM_CLOSED: u32 = 0x5;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

// Settings identifiers (RFC 9113 §6.5.2).
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// One frame: a 9-byte header and its payload (RFC 9113 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn new(kind: u8, flags: u8, stream: u32, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            kind,
            flags,
            stream,
            payload: payload.into(),
        }
    }

    /// The wire bytes; the length field is the payload's length, whatever it is (a test may
    /// send a frame larger than the peer allows).
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len() as u32;
        let mut out = Vec::with_capacity(9 + self.payload.len());
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(self.stream & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// The first frame in `buf` and the bytes it took; `None` while incomplete.
    pub fn decode(buf: &[u8]) -> Option<(Frame, usize)> {
        let head = buf.get(..9)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let payload = buf.get(9..9 + len)?;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        Some((Frame::new(head[3], head[4], stream, payload), 9 + len))
    }

    /// HEADERS carrying a whole header block.
    pub fn headers(stream: u32, block: &[u8], end_stream: bool) -> Frame {
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        Frame::new(HEADERS, flags, stream, block)
    }

    pub fn data(stream: u32, bytes: &[u8], end_stream: bool) -> Frame {
        Frame::new(DATA, if end_stream { END_STREAM } else { 0 }, stream, bytes)
    }

    pub fn rst(stream: u32, code: u32) -> Frame {
        Frame::new(RST_STREAM, 0, stream, code.to_be_bytes())
    }

    pub fn settings(values: &[(u16, u32)]) -> Frame {
        let mut p = Vec::new();
        for (id, v) in values {
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        Frame::new(SETTINGS, 0, 0, p)
    }

    pub fn settings_ack() -> Frame {
        Frame::new(SETTINGS, ACK, 0, [])
    }

    pub fn ping(data: [u8; 8]) -> Frame {
        Frame::new(PING, 0, 0, data)
    }

    pub fn window_update(stream: u32, increment: u32) -> Frame {
        Frame::new(WINDOW_UPDATE, 0, stream, increment.to_be_bytes())
    }

    pub fn priority(stream: u32, depends_on: u32, weight: u8) -> Frame {
        let mut p = depends_on.to_be_bytes().to_vec();
        p.push(weight);
        Frame::new(PRIORITY, 0, stream, p)
    }

    /// The error code of a RST_STREAM, or of a GOAWAY.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        let b = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A request's header block: pseudo-headers first, as literals without indexing.
pub fn request_block(method: &str, authority: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", authority),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    hpack::block(&fields)
}

/// HPACK by hand: the encoder writes only literals and indexed fields, never Huffman; the
/// decoder reads whatever the server sends (static and dynamic table, Huffman strings).
pub mod hpack {
    use super::*;

    /// `fields` as literals without indexing, new names (RFC 7541 §6.2.2).
    pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in fields {
            out.push(0x00);
            string(&mut out, n.as_bytes());
            string(&mut out, v.as_bytes());
        }
        out
    }

    /// A literal with incremental indexing, new name: it enters the peer's dynamic table
    /// (RFC 7541 §6.2.1).
    pub fn literal_indexed(name: &str, value: &[u8]) -> Vec<u8> {
        let mut out = vec![0x40];
        string(&mut out, name.as_bytes());
        string(&mut out, value);
        out
    }

    /// An indexed field (RFC 7541 §6.1): index 62 is the newest dynamic table entry.
    pub fn indexed(index: u64) -> Vec<u8> {
        let mut out = Vec::new();
        integer(&mut out, 7, 0x80, index);
        out
    }

    /// A string literal without Huffman coding.
    pub fn string(out: &mut Vec<u8>, s: &[u8]) {
        integer(out, 7, 0x00, s.len() as u64);
        out.extend_from_slice(s);
    }

    /// An integer with an N-bit prefix (RFC 7541 §5.1); `flags` fills the bits above it.
    pub fn integer(out: &mut Vec<u8>, prefix: u8, flags: u8, mut v: u64) {
        let max = (1u64 << prefix) - 1;
        if v < max {
            out.push(flags | v as u8);
            return;
        }
        out.push(flags | max as u8);
        v -= max;
        while v >= 128 {
            out.push((v % 128) as u8 | 0x80);
            v /= 128;
        }
        out.push(v as u8);
    }

    /// Reads an N-bit-prefix integer at `*at`.
    fn read_integer(buf: &[u8], at: &mut usize, prefix: u8) -> Result<u64, String> {
        let max = (1u64 << prefix) - 1;
        let first = *buf.get(*at).ok_or("integer past the block")? as u64 & max;
        *at += 1;
        if first < max {
            return Ok(first);
        }
        let (mut v, mut shift) = (max, 0);
        loop {
            let b = *buf.get(*at).ok_or("integer past the block")?;
            *at += 1;
            v += ((b & 0x7f) as u64) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 56 {
                return Ok(v);
            }
        }
    }

    fn read_string(buf: &[u8], at: &mut usize) -> Result<String, String> {
        let huffman = buf.get(*at).ok_or("string past the block")? & 0x80 != 0;
        let len = read_integer(buf, at, 7)? as usize;
        let raw = buf.get(*at..*at + len).ok_or("string past the block")?;
        *at += len;
        let bytes = if huffman {
            huffman_decode(raw)?
        } else {
            raw.to_vec()
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Huffman code lengths of symbols 0..=255 (RFC 7541 Appendix B). The code is canonical,
    /// so the lengths alone rebuild it.
    const LENGTHS: [u8; 256] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30,
        28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5,
        7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22,
        22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23,
        22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22,
        21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26,
        26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20,
        24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27,
        27, 28, 27, 27, 27, 27, 27, 26,
    ];

    /// Canonical Huffman decoding: per length, the first code and the symbols in code order.
    pub fn huffman_decode(raw: &[u8]) -> Result<Vec<u8>, String> {
        let mut symbols: Vec<u8> = (0..=255).collect();
        symbols.sort_by_key(|&s| (LENGTHS[s as usize], s));
        let mut count = [0u32; 31];
        for &l in &LENGTHS {
            count[l as usize] += 1;
        }
        let (mut out, mut code, mut len) = (Vec::new(), 0u32, 0usize);
        for bit in raw
            .iter()
            .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        {
            code = (code << 1) | bit as u32;
            len += 1;
            if len > 30 {
                return Err("Huffman code longer than 30 bits".into());
            }
            let (mut first, mut index) = (0u32, 0u32);
            for &n in &count[1..len] {
                first = (first + n) << 1;
                index += n;
            }
            if code >= first && code - first < count[len] {
                out.push(symbols[(index + code - first) as usize]);
                (code, len) = (0, 0);
            }
        }
        // Padding is up to 7 one bits (the EOS prefix).
        if len > 7 || code != (1 << len) - 1 {
            return Err("bad Huffman padding".into());
        }
        Ok(out)
    }

    /// RFC 7541 Appendix A, entries 1..=61.
    const STATIC: [(&str, &str); 61] = [
        (":authority", ""),
        (":method", "GET"),
        (":method", "POST"),
        (":path", "/"),
        (":path", "/index.html"),
        (":scheme", "http"),
        (":scheme", "https"),
        (":status", "200"),
        (":status", "204"),
        (":status", "206"),
        (":status", "304"),
        (":status", "400"),
        (":status", "404"),
        (":status", "500"),
        ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"),
        ("accept-language", ""),
        ("accept-ranges", ""),
        ("accept", ""),
        ("access-control-allow-origin", ""),
        ("age", ""),
        ("allow", ""),
        ("authorization", ""),
        ("cache-control", ""),
        ("content-disposition", ""),
        ("content-encoding", ""),
        ("content-language", ""),
        ("content-length", ""),
        ("content-location", ""),
        ("content-range", ""),
        ("content-type", ""),
        ("cookie", ""),
        ("date", ""),
        ("etag", ""),
        ("expect", ""),
        ("expires", ""),
        ("from", ""),
        ("host", ""),
        ("if-match", ""),
        ("if-modified-since", ""),
        ("if-none-match", ""),
        ("if-range", ""),
        ("if-unmodified-since", ""),
        ("last-modified", ""),
        ("link", ""),
        ("location", ""),
        ("max-forwards", ""),
        ("proxy-authenticate", ""),
        ("proxy-authorization", ""),
        ("range", ""),
        ("referer", ""),
        ("refresh", ""),
        ("retry-after", ""),
        ("server", ""),
        ("set-cookie", ""),
        ("strict-transport-security", ""),
        ("transfer-encoding", ""),
        ("user-agent", ""),
        ("vary", ""),
        ("via", ""),
        ("www-authenticate", ""),
    ];

    /// The server-to-client decoding context of one connection.
    #[derive(Debug)]
    pub struct Decoder {
        dynamic: VecDeque<(String, String)>,
        size: usize,
        max: usize,
    }

    impl Default for Decoder {
        fn default() -> Decoder {
            Decoder {
                dynamic: VecDeque::new(),
                size: 0,
                max: 4096,
            }
        }
    }

    impl Decoder {
        fn entry(&self, index: u64) -> Result<(String, String), String> {
            let i = index as usize;
            match i {
                1..=61 => Ok((STATIC[i - 1].0.into(), STATIC[i - 1].1.into())),
                _ => self
                    .dynamic
                    .get(i.wrapping_sub(62))
                    .cloned()
                    .ok_or(format!("no table entry {index}")),
            }
        }

        fn insert(&mut self, field: (String, String)) {
            self.size += field.0.len() + field.1.len() + 32;
            self.dynamic.push_front(field);
            self.evict();
        }

        fn evict(&mut self) {
            while self.size > self.max {
                let Some((n, v)) = self.dynamic.pop_back() else {
                    break;
                };
                self.size -= n.len() + v.len() + 32;
            }
        }

        /// The fields of one complete header block.
        pub fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
            let (mut at, mut fields) = (0, Vec::new());
            while at < block.len() {
                let b = block[at];
                if b & 0x80 != 0 {
                    fields.push(self.entry(read_integer(block, &mut at, 7)?)?);
                } else if b & 0xe0 == 0x20 {
                    self.max = read_integer(block, &mut at, 5)? as usize;
                    self.evict();
                } else {
                    let (prefix, indexing) = if b & 0xc0 == 0x40 {
                        (6, true)
                    } else {
                        (4, false)
                    };
                    let index = read_integer(block, &mut at, prefix)?;
                    let name = match index {
                        0 => read_string(block, &mut at)?,
                        i => self.entry(i)?.0,
                    };
                    let field = (name, read_string(block, &mut at)?);
                    if indexing {
                        self.insert(field.clone());
                    }
                    fields.push(field);
                }
            }
            Ok(fields)
        }
    }
}

/// What the server did about a stream (or the whole connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response head with this `:status`.
    Status(u16),
    /// RST_STREAM with this code.
    Reset(u32),
    /// GOAWAY with this code.
    GoAway(u32),
    /// The connection closed without either.
    Closed,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One client connection speaking raw frames; every read is bounded by `super::WAIT`.
pub struct H2Conn {
    io: Pin<Box<dyn Io>>,
    buf: Vec<u8>,
    pub decoder: hpack::Decoder,
    /// The last GOAWAY seen, if any.
    pub goaway: Option<Frame>,
    /// The server's SETTINGS values, as received so far.
    pub settings: Vec<(u16, u32)>,
}

impl H2Conn {
    /// h2c with prior knowledge (RFC 9113 §3.3): TCP, then the preface and our SETTINGS.
    pub async fn connect(addr: SocketAddr) -> H2Conn {
        let tcp = TcpStream::connect(addr).await.expect("connect to dockside");
        tcp.set_nodelay(true).unwrap();
        Self::over(Box::pin(tcp)).await
    }

    /// TLS with ALPN `h2` (certificate not verified: the tests are about framing).
    pub async fn connect_tls(addr: SocketAddr, sni: &str) -> H2Conn {
        let config =
            super::tls::client::Client::with(&[b"h2"], &[&rustls::version::TLS13]).config();
        let tcp = TcpStream::connect(addr).await.expect("connect to dockside");
        tcp.set_nodelay(true).unwrap();
        let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN h2");
        Self::over(Box::pin(tls)).await
    }

    async fn over(io: Pin<Box<dyn Io>>) -> H2Conn {
        let mut c = Self::bare(io);
        c.send_raw(PREFACE).await;
        c.send(&Frame::settings(&[])).await;
        c
    }

    /// TCP only: the test writes the preface (or not) itself.
    pub async fn connect_bare(addr: SocketAddr) -> H2Conn {
        let tcp = TcpStream::connect(addr).await.expect("connect to dockside");
        tcp.set_nodelay(true).unwrap();
        Self::bare(Box::pin(tcp))
    }

    fn bare(io: Pin<Box<dyn Io>>) -> H2Conn {
        H2Conn {
            io,
            buf: Vec::new(),
            decoder: hpack::Decoder::default(),
            goaway: None,
            settings: Vec::new(),
        }
    }

    /// A setting the server sent, if it did.
    pub fn setting(&self, id: u16) -> Option<u32> {
        self.settings
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    }

    /// Writes bytes as they are; a write error (the server closed) is ignored: the test reads
    /// the outcome next.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let _ = tokio::time::timeout(super::WAIT, self.io.write_all(bytes)).await;
    }

    pub async fn send(&mut self, frame: &Frame) {
        self.send_raw(&frame.encode()).await;
    }

    pub async fn send_all(&mut self, frames: &[Frame]) {
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        self.send_raw(&bytes).await;
    }

    /// The next frame, `None` on EOF or a reset; panics after `WAIT` without one. Answers
    /// the server's SETTINGS and PINGs as a well-behaved client does.
    pub async fn next(&mut self) -> Option<Frame> {
        self.next_within(super::WAIT)
            .await
            .unwrap_or_else(|| panic!("no frame from the server within {:?}", super::WAIT))
    }

    /// Like `next`, but `None` (outer) when nothing came within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Option<Frame>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some((frame, used)) = Frame::decode(&self.buf) {
                self.buf.drain(..used);
                self.acknowledge(&frame).await;
                return Some(Some(frame));
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(None),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn acknowledge(&mut self, frame: &Frame) {
        match (frame.kind, frame.flags & ACK) {
            (SETTINGS, 0) => {
                for pair in frame.payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([pair[0], pair[1]]);
                    let v = u32::from_be_bytes([pair[2], pair[3], pair[4], pair[5]]);
                    self.settings.push((id, v));
                }
                self.send(&Frame::settings_ack()).await
            }
            (PING, 0) => {
                let pong = Frame::new(PING, ACK, 0, frame.payload.clone());
                self.send(&pong).await
            }
            (GOAWAY, _) => self.goaway = Some(frame.clone()),
            _ => {}
        }
    }

    /// Reads until the server answers `stream` (a response head or RST_STREAM), sends
    /// GOAWAY, or closes. Header blocks of every stream are decoded, to keep HPACK in step.
    pub async fn outcome(&mut self, stream: u32) -> Outcome {
        let mut block: Option<(u32, Vec<u8>)> = None;
        loop {
            let Some(f) = self.next().await else {
                return Outcome::Closed;
            };
            match f.kind {
                HEADERS | CONTINUATION => {
                    let (sid, mut bytes) = block.take().unwrap_or((f.stream, Vec::new()));
                    bytes.extend_from_slice(header_fragment(&f));
                    if f.flags & END_HEADERS == 0 {
                        block = Some((sid, bytes));
                        continue;
                    }
                    let fields = self.decoder.decode(&bytes).expect("server's HPACK");
                    if sid == stream {
                        let status = fields
                            .iter()
                            .find(|(n, _)| n == ":status")
                            .and_then(|(_, v)| v.parse().ok())
                            .expect(":status in the response");
                        return Outcome::Status(status);
                    }
                }
                RST_STREAM if f.stream == stream => return Outcome::Reset(f.error_code().unwrap()),
                GOAWAY => return Outcome::GoAway(f.error_code().unwrap()),
                _ => {}
            }
        }
    }

    /// Reads frames until the connection ends (EOF) or `limit` passes; the frames read.
    pub async fn drain(&mut self, limit: Duration) -> (Vec<Frame>, bool) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                None => return (frames, false),
                Some(None) => return (frames, true),
                Some(Some(f)) => frames.push(f),
            }
        }
    }
}

/// A HEADERS frame's header block fragment, without padding and priority fields.
fn header_fragment(f: &Frame) -> &[u8] {
    let mut p = &f.payload[..];
    let mut pad = 0;
    if f.kind == HEADERS && f.flags & PADDED != 0 {
        pad = p[0] as usize;
        p = &p[1..];
    }
    if f.kind == HEADERS && f.flags & PRIORITY_FLAG != 0 {
        p = &p[5..];
    }
    &p[..p.len() - pad]
}
