//! Owns the FastCGI socket for one exchange: a pooled connection or a new one, the request
//! prefix (BEGIN_REQUEST + PARAMS) in one write, the body as STDIN records from a task tied
//! to the response, the CGI head read from STDOUT records with a deadline, then the body
//! streamed to the client record by record. A response that ends cleanly (END_REQUEST,
//! nothing left over, the body fully sent) gives its connection back to the pool.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Response};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep, timeout};

use super::body::{FastcgiBody, Io, Logged, ReadSide, Writer};
use super::codec::{self, Parsed, Record, kind};
use super::conn::{Pool, Stream};
use super::stdin::StdinWriter;
use crate::exchange::{ProxyBody, ProxyError, empty, is_idempotent};
use crate::model::BackendAddr;
use crate::upstream::uwsgi::cgi::{self, Framing, SendError, Upload};

/// The largest response head accepted from STDOUT.
const MAX_HEAD: usize = 64 * 1024;

/// Timeouts that bound one exchange.
pub(super) struct Deadlines {
    pub connect: Duration,
    /// Longest wait for the head once the body is sent, and between any two reads.
    pub idle: Duration,
    /// Longest wait between two writes of the request.
    pub send: Duration,
}

/// What one exchange needs besides the body.
pub(super) struct Exchange<'a> {
    pub addr: &'a BackendAddr,
    pub prefix: Vec<u8>,
    pub method: &'a Method,
    pub deadlines: Deadlines,
    /// Keep the connection (FCGI_KEEP_CONN) and pool it after a clean end.
    pub keep: bool,
    pub pool: &'a Pool,
    /// `$host`, for STDERR log lines.
    pub host: &'a str,
}

/// Why one attempt failed: a pooled connection that turned out closed is tried again on a new
/// one when nothing else was sent (see [`resend_after_silence`]).
enum Failed {
    Stale,
    Proxy(ProxyError),
}

impl From<ProxyError> for Failed {
    fn from(e: ProxyError) -> Self {
        Failed::Proxy(e)
    }
}

/// Sends the request and returns the response with a streaming body.
pub(super) async fn exchange(
    ex: Exchange<'_>,
    upload: Upload,
) -> Result<Response<ProxyBody>, ProxyError> {
    let pooled = if ex.keep { ex.pool.take(ex.addr) } else { None };
    if let Some(stream) = pooled {
        // Only a request without a body can be sent again (the body is consumed).
        if let Upload::None = upload {
            match attempt(&ex, stream, Upload::None, true).await {
                Err(Failed::Stale) => {}
                Err(Failed::Proxy(e)) => return Err(e),
                Ok(resp) => return Ok(resp),
            }
            let stream = connect(ex.addr, ex.deadlines.connect).await?;
            return finish(attempt(&ex, stream, Upload::None, false).await);
        }
        return finish(attempt(&ex, stream, upload, false).await);
    }
    let stream = connect(ex.addr, ex.deadlines.connect).await?;
    finish(attempt(&ex, stream, upload, false).await)
}

fn finish(r: Result<Response<ProxyBody>, Failed>) -> Result<Response<ProxyBody>, ProxyError> {
    r.map_err(|e| match e {
        Failed::Proxy(e) => e,
        Failed::Stale => ProxyError::Internal("a new FastCGI connection counted as reused".into()),
    })
}

async fn connect(addr: &BackendAddr, limit: Duration) -> Result<Stream, ProxyError> {
    let result = timeout(limit, Stream::connect(addr))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
    result.map_err(|source| ProxyError::Connect {
        backend: addr.clone(),
        source,
    })
}

fn upstream(addr: &BackendAddr, reason: String) -> ProxyError {
    ProxyError::Upstream {
        backend: addr.clone(),
        reason,
    }
}

fn timed_out(addr: &BackendAddr, limit: Duration) -> ProxyError {
    ProxyError::Timeout {
        backend: addr.clone(),
        secs: limit.as_secs(),
    }
}

/// One exchange on `stream`; `reused`: a pooled connection, whose failed write of the request
/// is `Stale` (and whose close before the first answer byte is, for an idempotent method).
async fn attempt(
    ex: &Exchange<'_>,
    mut stream: Stream,
    upload: Upload,
    reused: bool,
) -> Result<Response<ProxyBody>, Failed> {
    let addr = ex.addr;
    match timeout(ex.deadlines.send, stream.write_all(&ex.prefix)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) if reused => return Err(Failed::Stale),
        Ok(Err(e)) => return Err(upstream(addr, format!("sending the params: {e}")).into()),
        Err(_) => return Err(timed_out(addr, ex.deadlines.send).into()),
    }
    let mut io = match upload {
        Upload::None => Io {
            read: ReadSide::Whole(stream),
            writer: Writer::None,
        },
        upload => {
            let (rd, wr) = tokio::io::split(stream);
            Io {
                read: ReadSide::Half(rd),
                writer: spawn_writer(wr, upload, ex.deadlines.send),
            }
        }
    };
    let mut logged = Logged::new(ex.host, addr);
    let resend = resend_after_silence(reused, ex.method);
    let (mut head, buf, pending) = read_head(ex, &mut io, &mut logged, resend).await?;
    let framing =
        cgi::response_framing(ex.method, &mut head).map_err(|e| upstream(addr, e.to_string()))?;
    let mut body = FastcgiBody::new(
        io,
        buf,
        pending,
        framing,
        ex.deadlines.idle,
        logged,
        ex.keep.then(|| (ex.pool.clone(), addr.clone())),
    );
    let body = match framing {
        Framing::Empty => {
            body.finish_buffered();
            empty()
        }
        _ => body.boxed(),
    };
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    Ok(response)
}

/// Starts sending the body as STDIN records, then the empty record that ends it; the write
/// half comes back through the channel when all of it is written.
fn spawn_writer(mut wr: WriteHalf<Stream>, upload: Upload, idle: Duration) -> Writer {
    let (sent_tx, sent_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut stdin = StdinWriter::new(&mut wr);
        let sent = upload.send(&mut stdin, idle).await;
        let framed = stdin.into_inner().is_some();
        let result = match sent {
            Ok(()) if framed => {
                let end = codec::header(kind::STDIN, 0);
                match timeout(idle, wr.write_all(&end)).await {
                    Ok(Ok(())) => Ok(wr),
                    Ok(Err(e)) => Err(SendError::Backend(e)),
                    Err(_) => Err(SendError::Backend(std::io::ErrorKind::TimedOut.into())),
                }
            }
            Ok(()) => Err(SendError::Backend(std::io::ErrorKind::WriteZero.into())),
            Err(e) => Err(e),
        };
        let _ = sent_tx.send(result);
    });
    Writer::Sending(sent_rx, super::body::AbortOnDrop(task.abort_handle()))
}

/// Whether a pooled connection that closes (or fails) after the request was written, before
/// any answer, is `Stale` and the request sent again on a new connection. Only for an
/// idempotent method: the script may have run (php-fpm's child died mid-request), and nginx
/// does not send a POST/PATCH/LOCK again once it went out either.
fn resend_after_silence(reused: bool, method: &Method) -> bool {
    reused && is_idempotent(method)
}

/// Reads records until the CGI head in STDOUT parses. Returns the head, the unparsed record
/// bytes, and the body bytes that came with the head. The deadline starts once the body is
/// sent (a long upload is not a slow backend) and restarts with every read. `resend`: an
/// early close is `Stale` ([`resend_after_silence`]).
async fn read_head(
    ex: &Exchange<'_>,
    io: &mut Io,
    logged: &mut Logged,
    resend: bool,
) -> Result<(cgi::ResponseHead, BytesMut, Bytes), Failed> {
    let (addr, idle) = (ex.addr, ex.deadlines.idle);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut stdout = BytesMut::new();
    let mut received = false;
    let deadline = sleep(idle);
    tokio::pin!(deadline);
    loop {
        // Every whole record in the buffer first.
        loop {
            let record = codec::parse_record(&buf).map_err(|e| upstream(addr, e.to_string()))?;
            let Parsed::Complete { value, consumed } = record else {
                break;
            };
            let bytes = buf.split_to(consumed);
            match value {
                Record::Stdout { content } => {
                    stdout.extend_from_slice(&bytes[content]);
                    if let Some((head, rest)) = parse_head(&mut stdout, addr)? {
                        return Ok((head, buf, rest));
                    }
                }
                Record::Stderr { content } => logged.stderr(&bytes[content]),
                Record::EndRequest(end) if !end.is_complete() => {
                    let why = match end.protocol_status {
                        1 => "cannot multiplex connections",
                        2 => "overloaded",
                        3 => "unknown role",
                        _ => "unknown protocol status",
                    };
                    return Err(upstream(addr, format!("refused the request: {why}")).into());
                }
                Record::EndRequest(_) => {
                    let msg = "ended the request without a complete response head";
                    return Err(upstream(addr, msg.into()).into());
                }
            }
        }
        let sending = io.writer.is_sending();
        tokio::select! {
            read = io.read.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) if resend && !received => return Err(Failed::Stale),
                Ok(0) => return Err(upstream(addr, "closed the connection before the response head".into()).into()),
                Ok(_) => {
                    received = true;
                    deadline.as_mut().reset(Instant::now() + idle);
                }
                Err(e) => return Err(upstream(addr, format!("reading the response head: {e}")).into()),
            },
            result = io.writer.sent(), if sending => {
                if let Some(e) = result {
                    return Err(e.into());
                }
                deadline.as_mut().reset(Instant::now() + idle);
            }
            () = &mut deadline, if !sending => return Err(timed_out(addr, idle).into()),
        }
    }
}

/// The head once STDOUT holds all of it (bounded by [`MAX_HEAD`]); the rest is body.
fn parse_head(
    stdout: &mut BytesMut,
    addr: &BackendAddr,
) -> Result<Option<(cgi::ResponseHead, Bytes)>, ProxyError> {
    match cgi::parse_head(stdout) {
        Ok(cgi::Parsed::Complete { head, consumed }) => {
            let rest = stdout.split_off(consumed).freeze();
            Ok(Some((head, rest)))
        }
        Ok(cgi::Parsed::Incomplete) if stdout.len() > MAX_HEAD => Err(upstream(
            addr,
            format!("response head exceeds {MAX_HEAD} bytes"),
        )),
        Ok(cgi::Parsed::Incomplete) => Ok(None),
        Err(e) => Err(upstream(addr, e.to_string())),
    }
}

/// Reads from whichever half holds the socket.
impl ReadSide {
    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        if buf.capacity() - buf.len() < 4 * 1024 {
            buf.reserve(16 * 1024);
        }
        match self {
            ReadSide::Whole(s) => s.read_buf(buf).await,
            ReadSide::Half(rd) => rd.read_buf(buf).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_idempotent_request_on_a_reused_connection_is_sent_again_after_silence() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(resend_after_silence(true, &m), "{m}");
            assert!(!resend_after_silence(false, &m), "{m}");
        }
        let lock = Method::from_bytes(b"LOCK").unwrap();
        for m in [Method::POST, Method::PATCH, lock] {
            assert!(!resend_after_silence(true, &m), "{m}");
        }
    }
}
