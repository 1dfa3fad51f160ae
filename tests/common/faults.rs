//! For the faults-and-churn tests: the dockside binary as a child process on its own ports
//! (killed on drop), wrk as a load whose summary is parsed (non-2xx and socket errors), a
//! small tmpfs the test mounts and unmounts, and a request that only says which status a host
//! answers now.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use http::Request;
use http_body_util::BodyExt;

use super::{TestBody, empty_body};

/// A `dockside` binary child (`--http 127.0.0.1:0`, HTTPS and admin off unless `args` say
/// otherwise); killed on drop. Its stderr is echoed after the "serving" line.
pub struct Bin {
    child: Child,
    pub http: SocketAddr,
    _certs: tempfile::TempDir,
}

impl Bin {
    /// Spawns the binary with `args` after the defaults and `env` on a clean environment.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Bin {
        let certs = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockside"));
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTAINER_FILTERS",
            "DOCKSIDE_ROUTES",
            "DEFAULT_HOST",
            "DOCKSIDE_DRAIN_TIMEOUT",
            "DOCKSIDE_ADMIN",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["--http", "127.0.0.1:0", "--https", "off"]);
        if !args.contains(&"--admin") {
            cmd.args(["--admin", "off"]);
        }
        cmd.arg("--certs-dir")
            .arg(certs.path())
            .args(args)
            .env("RUST_LOG", "warn,dockside=info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the dockside binary runs");
        let (http, _) = super::serving_on(&mut child);
        Bin {
            child,
            http: http.parse().expect("an address in the serving line"),
            _certs: certs,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {}", self.pid());
    }

    /// The exit status, waiting at most `limit` (kills and panics past it).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("dockside did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status `host` answers for `GET /` on `http` now, `0` when the exchange itself failed
/// (each call is a new connection: a stale pooled one must not answer for the new routes).
pub async fn status_of(http: SocketAddr, host: &str) -> u16 {
    reply_of(http, host).await.map_or(0, |(status, _)| status)
}

/// Status and body of `GET /` for `host`, or the error (bounded by `WAIT`).
pub async fn reply_of(http: SocketAddr, host: &str) -> Result<(u16, String), String> {
    get(http, Some(host), "/").await
}

/// Status and body of `GET path` on `addr` (with `Host: host` when given), or the error
/// (bounded by `WAIT`); a new connection each time.
pub async fn get(
    addr: SocketAddr,
    host: Option<&str>,
    path: &str,
) -> Result<(u16, String), String> {
    let client = super::client();
    let mut req = Request::get(format!("http://{addr}{path}")).header("connection", "close");
    if let Some(host) = host {
        req = req.header("host", host);
    }
    let req: Request<TestBody> = req.body(empty_body()).unwrap();
    let work = async {
        let rsp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = rsp.status().as_u16();
        let body = rsp.into_body().collect().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        ))
    };
    tokio::time::timeout(super::WAIT, work)
        .await
        .unwrap_or_else(|_| Err("no answer within WAIT".into()))
}

/// Polls until `host` answers `want` (at most `within`); panics with the last answer.
pub async fn until_status(http: SocketAddr, host: &str, want: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = reply_of(http, host).await;
        if matches!(got, Ok((s, _)) if s == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{host}: not {want} within {within:?}, last {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running `wrk` against one host; [`Wrk::stop`] interrupts it (wrk prints its summary on
/// SIGINT) and parses what it counted.
pub struct Wrk {
    child: tokio::process::Child,
    what: String,
}

/// What wrk counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WrkSummary {
    pub requests: u64,
    /// "Non-2xx or 3xx responses".
    pub non_2xx: u64,
    /// connect + read + write + timeout socket errors.
    pub socket_errors: u64,
}

impl Wrk {
    /// `wrk -t1 -c<connections>` on `GET http://<http>/` with `Host: host`, for up to `max`.
    pub fn start(http: SocketAddr, host: &str, connections: u32, max: Duration) -> Wrk {
        super::require_tool("wrk", "wrk");
        let child = tokio::process::Command::new("wrk")
            .args(["-t1", &format!("-c{connections}"), "--timeout", "5s"])
            .arg(format!("-d{}s", max.as_secs()))
            .args(["-H", &format!("Host: {host}"), &format!("http://{http}/")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("wrk runs");
        Wrk {
            child,
            what: host.to_owned(),
        }
    }

    /// Interrupts wrk and parses its summary (panics with its output when it has none).
    pub async fn stop(self) -> WrkSummary {
        let pid = self.child.id().expect("wrk still running");
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        let out = tokio::time::timeout(Duration::from_secs(10), self.child.wait_with_output())
            .await
            .expect("wrk ends within 10 s of SIGINT")
            .expect("wrk output");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        parse_wrk(&text).unwrap_or_else(|| {
            panic!(
                "wrk ({}) printed no summary: {text}{}",
                self.what,
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

/// wrk's summary: `N requests in …`, and when non-zero `Socket errors: connect a, read b,
/// write c, timeout d` and `Non-2xx or 3xx responses: n`. Pure.
pub fn parse_wrk(text: &str) -> Option<WrkSummary> {
    let mut summary = WrkSummary::default();
    let mut seen = false;
    for line in text.lines().map(str::trim) {
        if let Some((n, _)) = line.split_once(" requests in ") {
            summary.requests = n.trim().parse().ok()?;
            seen = true;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            summary.non_2xx = rest.trim().parse().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            for part in rest.split(',') {
                let n = part.split_whitespace().last()?;
                summary.socket_errors += n.parse::<u64>().ok()?;
            }
        }
    }
    seen.then_some(summary)
}

/// A tmpfs of `size` (mount(8) syntax) mounted on a fresh directory, unmounted on drop.
/// Needs root (CI runs the tests as root); panics saying so otherwise.
pub struct Tmpfs {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "this test mounts a tmpfs and must run as root (CI does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certs");
        std::fs::create_dir(&path).unwrap();
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ],
            &path,
        );
        Tmpfs { path, _dir: dir }
    }

    /// `mount -o remount,ro` (`false`) or `rw` (`true`).
    pub fn set_writable(&self, writable: bool) {
        let mode = if writable { "remount,rw" } else { "remount,ro" };
        mount(&["-o", mode], &self.path);
    }

    /// Fills the file system with `<path>/filler` until it is full; returns its size.
    pub fn fill(&self) -> u64 {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", self.path.display()),
            }
        }
        written
    }

    pub fn unfill(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

fn mount(args: &[&str], path: &Path) {
    let out = Command::new("mount")
        .args(args)
        .arg(path)
        .output()
        .expect("mount runs");
    assert!(
        out.status.success(),
        "mount {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
