//! `LOG_FORMAT` / `LOG_FORMAT_ESCAPE` / `LOG_JSON` through the `dockside` binary: real curl
//! requests through a routes-file site, the access log lines read from its output, an escape
//! case (a User-Agent with `"` and a byte that is not ASCII), and an unknown variable stopping
//! the start with a line naming it.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TestBackend, require_tool};

/// A running `dockside` binary and its stderr lines (where its log goes).
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    http: String,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(backend: std::net::SocketAddr, env: &[(&str, &str)]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let routes = dir.path().join("routes.toml");
        std::fs::write(
            &routes,
            format!("[[site]]\nVIRTUAL_HOST = \"logfmt.tld\"\nbackends = [\"{backend}\"]\n"),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_dockside"))
            .args(["--http", "127.0.0.1:0", "--https", "off", "--admin", "off"])
            .args(["--docker-host", "off", "--routes"])
            .arg(&routes)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dockside binary runs");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut running = Running {
            child,
            lines,
            http: String::new(),
            _dir: dir,
        };
        let serving = running.line("dockside is serving");
        let http = serving
            .split("http=")
            .nth(1)
            .and_then(|rest| rest.split([' ', ',']).next())
            .unwrap_or_else(|| panic!("no http address in {serving:?}"));
        running.http = http.to_owned();
        running
    }

    /// The next stderr line containing `needle` (within 10 s).
    fn line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?} within 10 s"),
            }
        }
    }

    /// The access log line (what follows the `dockside::access:` target) for `path`.
    fn access_line(&mut self, path: &str) -> String {
        let line = self.line(&format!("{path} HTTP/1.1"));
        let (_, rest) = line
            .split_once("dockside::access: ")
            .unwrap_or_else(|| panic!("not an access line: {line:?}"));
        rest.to_owned()
    }

    /// curl through the site with `user_agent` (raw bytes, as a client may send them).
    fn get(&self, path: &str, user_agent: &[u8]) -> u16 {
        require_tool("curl", "curl");
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(["-H", "Host: logfmt.tld", "-A"])
            .arg(OsStr::from_bytes(user_agent))
            .arg(format!("http://{}{path}", self.http))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_renders_nginx_variables_with_default_escaping() {
    let backend = TestBackend::start("logfmt").await;
    let format = "$remote_addr \"$request\" $status $body_bytes_sent \"$http_user_agent\" \
                  rt=$request_time urt=$upstream_response_time ${host}:$server_port \
                  up=$upstream_addr m=$request_method u=$request_uri x=$http_x_missing";
    let mut d = Running::start(backend.addr, &[("LOG_FORMAT", format)]);
    let port = d.http.rsplit(':').next().unwrap().to_owned();
    assert_eq!(d.get("/p?q=1", b"ua \"q\" \xe9"), 200);
    let line = d.access_line("/p?q=1");
    let (head, rest) = line.split_once(" rt=").unwrap();
    assert!(
        head.starts_with("127.0.0.1 \"GET /p?q=1 HTTP/1.1\" 200 ")
            && head.ends_with(" \"ua \\x22q\\x22 \\xE9\""),
        "{line}"
    );
    let (rt, rest) = rest.split_once(' ').unwrap();
    let (secs, millis) = rt.split_once('.').unwrap();
    assert!(
        secs.parse::<u64>().is_ok() && millis.len() == 3 && millis.parse::<u32>().is_ok(),
        "$request_time {rt:?} in {line}"
    );
    // `$upstream_response_time`: seconds with milliseconds, as nginx writes it.
    let (urt, rest) = rest.split_once(' ').unwrap();
    let urt = urt.strip_prefix("urt=").unwrap();
    let (secs, millis) = urt.split_once('.').unwrap_or(("", ""));
    assert!(
        secs.parse::<u64>().is_ok() && millis.len() == 3 && millis.parse::<u32>().is_ok(),
        "$upstream_response_time {urt:?} in {line}"
    );
    let want = format!("logfmt.tld:{port} up={} m=GET u=/p?q=1 x=-", backend.addr);
    assert_eq!(rest, want, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_json_lines_parse_as_json() {
    let backend = TestBackend::start("logjson").await;
    let mut d = Running::start(backend.addr, &[("LOG_JSON", "true")]);
    assert_eq!(d.get("/j", "a \"b\" é".as_bytes()), 200);
    let line = d.access_line("/j");
    let json: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(json["request"], "GET /j HTTP/1.1");
    assert_eq!(json["status"], "200");
    assert_eq!(json["http_user_agent"], "a \"b\" é");
    assert_eq!(json["upstream_addr"], backend.addr.to_string());
    assert_eq!(json["request_id"].as_str().map(str::len), Some(32));
}

#[test]
fn an_unknown_variable_stops_the_start_naming_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args(["--http", "127.0.0.1:0", "--https", "off", "--admin", "off"])
        .args(["--docker-host", "off"])
        .env("LOG_FORMAT", "$status $upstream_bogus")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockside binary runs");
    // A dockside that accepted the format would serve forever: bound the wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dockside started with an unknown LOG_FORMAT variable");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("exit status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("LOG_FORMAT: unknown variable \"$upstream_bogus\""),
        "{stderr}"
    );
}
