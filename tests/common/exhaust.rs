//! Resource-exhaustion tests (issue 20): dockside as its own process, so its resident memory
//! (`VmRSS`) and open descriptors (`/proc/<pid>/fd`) can be read before, during and after an
//! attack; a sampler for the peaks; a raw backend that counts the bytes it manages to send.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A dockside binary serving a routes file, killed on drop.
pub struct Proxy {
    child: Child,
    pub pid: u32,
    pub http: SocketAddr,
    pub https: SocketAddr,
    /// Every stderr line after "dockside is serving" (the log).
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `dockside` with `routes` (a routes file's text), `certs` as its certificate
    /// directory, `env` on top, and — with `nofile` — that soft descriptor limit (the hard one
    /// unchanged), as Docker gives containers (1024 soft) since Docker 25.
    pub fn spawn(routes: &str, certs: &Path, env: &[(&str, &str)], nofile: Option<u64>) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let routes_file = dir.path().join("routes.toml");
        std::fs::write(&routes_file, routes).expect("write routes file");
        let https = free_port();
        let mut command = match nofile {
            Some(soft) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={soft}:")).arg("--");
                c.arg(env!("CARGO_BIN_EXE_dockside"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_dockside")),
        };
        command
            .args(["--http", "127.0.0.1:0", "--https", &https.to_string()])
            .args(["--admin", "off", "--docker-host", "off", "--routes"])
            .arg(&routes_file)
            .arg("--certs-dir")
            .arg(certs)
            .env("RUST_LOG", "info")
            .env("DISABLE_ACCESS_LOGS", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .expect("dockside runs (prlimit: apt-get install -y util-linux)");
        let pid = child.id();
        let (http, log) = serving(&mut child);
        Proxy {
            child,
            pid,
            http,
            https,
            log,
            _dir: dir,
        }
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid, "VmRSS:")
    }

    /// Open file descriptors now.
    pub fn fds(&self) -> usize {
        open_fds(self.pid)
    }

    /// Client connections dockside holds on `port` (its sockets in `/proc/net/tcp` with that
    /// local port, listeners and TIME_WAIT left out): descriptors alone also count pooled
    /// backend connections, one per worker that served a request.
    pub fn client_sockets(&self, port: u16) -> usize {
        let table = std::fs::read_to_string(format!("/proc/{}/net/tcp", self.pid)).unwrap();
        let port = format!(":{port:04X}");
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 9 && f[1].ends_with(&port) && f[3] != "0A" && f[9] != "0"
            })
            .count()
    }

    /// Waits (≤ 5 s) until no client connection is open on `port` (a curl that just exited may
    /// not be closed on dockside's side yet), then returns the descriptor count: a baseline.
    pub async fn baseline_fds(&self, port: u16) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.client_sockets(port) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            self.client_sockets(port),
            0,
            "client connections before the test"
        );
        self.fds()
    }

    /// What each open descriptor is (`socket:[…]`, a path), for failure messages.
    pub fn fd_targets(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/fd", self.pid)) else {
            return Vec::new();
        };
        let mut all: Vec<String> = dir
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|t| t.display().to_string())
            .collect();
        all.sort();
        all
    }

    /// The soft `Max open files` limit dockside runs with.
    pub fn nofile_soft(&self) -> u64 {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid)).unwrap();
        limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok())
            .expect("Max open files in /proc/<pid>/limits")
    }

    /// Log lines containing `needle` so far.
    pub fn log_count(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (≤ `limit`) until dockside's descriptors are at most `fds`; the count it reached.
    pub async fn fds_settle(&self, fds: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.fds();
            if now <= fds || Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid));
            let state: Vec<String> = status
                .unwrap_or_default()
                .lines()
                .filter(|l| {
                    ["State:", "VmRSS:", "Threads:"]
                        .iter()
                        .any(|f| l.starts_with(f))
                })
                .map(str::to_owned)
                .collect();
            eprintln!("dockside: {state:?}");
            let mut exited = None;
            for _ in 0..100 {
                exited = self.child.try_wait().ok().flatten();
                if exited.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            let log = self.log.lock().unwrap();
            let tail = &log[log.len().saturating_sub(30)..];
            eprintln!(
                "dockside (exited: {exited:?}), its last log lines:\n{}",
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port for dockside, reserved for this test process ([`super::pebble::free_port`]).
fn free_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], super::pebble::free_port()))
}

/// Reads stderr up to "dockside is serving" (≤ 10 s), then keeps every later line in a shared
/// log (tests count warnings in it) so the child never blocks on a full pipe.
fn serving(child: &mut Child) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let http = loop {
        assert!(Instant::now() < deadline, "never serving: {seen:#?}");
        let Some(Ok(line)) = lines.next() else {
            panic!("dockside exited before serving: {seen:#?}");
        };
        if line.contains("dockside is serving") {
            break line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http="))
                .and_then(|list| list.split(',').next())
                .and_then(|a| a.parse().ok())
                .expect("the serving line names the HTTP address");
        }
        seen.push(line);
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let keep = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            keep.lock().unwrap().push(line);
        }
    });
    (http, log)
}

/// A `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Peaks of dockside's memory and descriptors, sampled every 20 ms on a thread of its own.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl Sampler {
    pub fn start(proxy: &Proxy) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let pid = proxy.pid;
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut rss, mut fds) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                // Gone (the test failed and killed it): nothing more to sample.
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    break;
                };
                if !status.contains("VmRSS:") {
                    break;
                }
                rss = rss.max(status_kib(pid, "VmRSS:"));
                fds = fds.max(open_fds(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            (rss, fds)
        });
        Sampler { stop, thread }
    }

    /// Peak RSS (KiB) and peak descriptor count while it ran.
    pub fn stop(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// Raises this test process's soft descriptor limit to its hard one (thousands of sockets).
pub fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).expect("raise RLIMIT_NOFILE");
    limit.current.unwrap_or(u64::MAX)
}

/// An HTTP/1.1 backend: `GET /big` is `big` bytes, anything else `ok`; it counts the body bytes
/// the kernel accepted from it, so a test sees how much dockside pulled from it.
pub struct Backend {
    pub addr: SocketAddr,
    pub sent: Arc<AtomicU64>,
}

impl Backend {
    pub async fn start(big: u64) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, big, counter.clone()));
            }
        });
        Backend { addr, sent }
    }
}

/// Keep-alive loop of one backend connection.
async fn serve(mut s: tokio::net::TcpStream, big: u64, sent: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let len = if head.starts_with("GET /big ") {
            big
        } else {
            2
        };
        let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
        if s.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        if len == 2 {
            if s.write_all(b"ok").await.is_err() {
                return;
            }
            continue;
        }
        let block = vec![b'x'; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            if s.write_all(&block[..n]).await.is_err() {
                return;
            }
            sent.fetch_add(n as u64, Ordering::Relaxed);
            left -= n as u64;
        }
    }
}

/// `curl` for `url` with `Host: host` (extra args first); the status code and how long it took.
pub fn curl_status(host_args: &[&str], url: &str) -> (String, Duration) {
    let started = Instant::now();
    let out = super::curl(&[host_args, &["-o", "/dev/null", "-w", "%{http_code}", url]].concat());
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        started.elapsed(),
    )
}
