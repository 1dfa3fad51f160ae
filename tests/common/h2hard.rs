//! For the HTTP/2 hardening tests: the dockside binary as a child process (so its memory is
//! its own: `VmRSS` in `/proc/<pid>/status`), a raw recording HTTP/1.1 backend that notes every
//! request head and whether its body arrived whole, and curl as the legitimate client.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The host every hardening test's site answers to.
pub const HOST: &str = "h2.test";

/// A dockside binary serving `HOST` (and `extra` hosts) over HTTP/1.1 + h2c, and over TLS (ALPN
/// h2) when given a certificate directory. Killed on drop.
pub struct Spawned {
    child: Child,
    pub addr: SocketAddr,
    pub https: Option<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl Spawned {
    /// `sites`: (host, backend); `env`: extra `DOCKSIDE_*` settings; `certs`: HTTPS on.
    pub fn start(
        sites: &[(&str, SocketAddr)],
        env: &[(&str, &str)],
        certs: Option<&std::path::Path>,
    ) -> Spawned {
        let dir = tempfile::tempdir().unwrap();
        let routes = dir.path().join("routes.toml");
        let mut text = String::new();
        for (host, backend) in sites {
            text.push_str(&format!(
                "[[site]]\nVIRTUAL_HOST = \"{host}\"\nbackends = [\"{backend}\"]\n\n"
            ));
        }
        std::fs::write(&routes, text).unwrap();
        let https = certs.map(|_| super::dead_addr());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockside"));
        cmd.args([
            "--http",
            "127.0.0.1:0",
            "--admin",
            "off",
            "--docker-host",
            "off",
        ])
        .arg("--routes")
        .arg(&routes)
        .env("RUST_LOG", "info")
        .env("DISABLE_ACCESS_LOGS", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        match (certs, https) {
            (Some(certs), Some(https)) => {
                cmd.args(["--https", &https.to_string(), "--certs-dir"])
                    .arg(certs);
            }
            _ => {
                cmd.args(["--https", "off", "--certs-dir"]).arg(dir.path());
            }
        }
        let mut child = cmd.spawn().expect("dockside binary runs");
        let (http, _) = super::serving_on(&mut child);
        Spawned {
            child,
            addr: http.parse().expect("HTTP address"),
            https,
            _dir: dir,
        }
    }

    /// Resident memory of the dockside process now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmRSS:")
    }

    /// The most resident memory the process has had (VmHWM), in KiB: catches a peak that was
    /// freed again before the test looked.
    pub fn peak_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmHWM:")
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A legitimate client: curl over h2c with prior knowledge; the status it got (0: none).
    pub fn curl_status(&self) -> u16 {
        curl_h2c(self.addr, "/")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl `--http2-prior-knowledge` to `addr` for `HOST`; the HTTP status (0 when none) — and
/// it must have spoken HTTP/2.
pub fn curl_h2c(addr: SocketAddr, path: &str) -> u16 {
    let out = super::curl(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{http_version}",
        "-H",
        &format!("host: {HOST}"),
        &format!("http://{addr}{path}"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, version) = text.split_once(' ').unwrap_or(("0", ""));
    let code = code.parse().unwrap_or(0);
    assert!(code == 0 || version == "2", "curl spoke HTTP/{version}");
    code
}

/// A `kB` line of `/proc/<pid>/status`.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// One request as the backend read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub head: String,
    /// Whether the whole declared body arrived (Content-Length, or chunked up to `0\r\n\r\n`).
    pub complete: bool,
}

impl Recorded {
    /// A header's value (first line with that name, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A raw HTTP/1.1 backend on 127.0.0.1:0 that records every request head it reads and answers
/// `200 ok` to each complete one; `/big/N` answers N bytes.
pub struct Recorder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, log.clone()));
            }
        });
        Recorder { addr, seen, task }
    }

    /// Every request head read so far, complete or not.
    pub fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }

    pub fn heads(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Request heads read for paths starting with `prefix` (an attack's requests, not a
    /// bystander's).
    pub fn count(&self, prefix: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|r| {
                r.head
                    .split(' ')
                    .nth(1)
                    .is_some_and(|p| p.starts_with(prefix))
            })
            .count()
    }

    pub fn complete(&self) -> usize {
        self.seen().iter().filter(|r| r.complete).count()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: tokio::net::TcpStream, log: Arc<Mutex<Vec<Recorded>>>) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = find(&buf, b"\r\n\r\n") else {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let index = {
            let mut log = log.lock().unwrap();
            log.push(Recorded {
                head: head.clone(),
                complete: false,
            });
            log.len() - 1
        };
        let rec = Recorded {
            head,
            complete: false,
        };
        let body_done = if let Some(len) = rec.header("content-length") {
            let len: usize = len.parse().unwrap_or(0);
            while buf.len() < len {
                if !read_more(&mut stream, &mut buf).await {
                    return;
                }
            }
            buf.drain(..len);
            true
        } else if rec
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                if let Some(at) = find(&buf, b"0\r\n\r\n") {
                    buf.drain(..at + 5);
                    break true;
                }
                if !read_more(&mut stream, &mut buf).await {
                    return;
                }
            }
        } else {
            true
        };
        log.lock().unwrap()[index].complete = body_done;
        let path = rec.head.split(' ').nth(1).unwrap_or("/").to_owned();
        let size: usize = path
            .strip_prefix("/big/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(2);
        let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'o'; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            if stream.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n;
        }
    }
}

async fn read_more(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
