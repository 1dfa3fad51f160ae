//! The `dockside` binary against the live engine: `dockside check` explains every container
//! of the test's scope (routed where, or skipped and why), and zero configuration — with no
//! flags dockside watches the engine it finds, and with no engine it says so and serves the
//! example routes file.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::docker::*;
use common::pebble::free_port;

const WAIT: Duration = Duration::from_secs(10);
const BIN: &str = env!("CARGO_BIN_EXE_dockside");

/// The binary with a clean environment for our settings (nothing inherited from the shell).
fn dockside() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "DOCKER_HOST",
        "DOCKER_CONTAINER_FILTERS",
        "DOCKSIDE_ROUTES",
        "NGINX_CONTAINER_LABEL",
        "DEFAULT_HOST",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `dockside check` for `scope` on the engine socket; its stdout (panics on failure).
fn check(scope: &Scope) -> String {
    let out = dockside()
        .arg("check")
        .env("DOCKER_HOST", format!("unix://{ENGINE_SOCKET}"))
        .env("DOCKER_CONTAINER_FILTERS", scope.env_filters())
        .output()
        .expect("run dockside check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dockside check failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn wait_health(c: &Container, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = docker(&["inspect", "-f", "{{.State.Health.Status}}", &c.name]).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{} is {got}, not {want}", c.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_explains_every_container() {
    let scope = Scope::new();
    let front = Network::create("front").await;
    let back = Network::create("back").await;
    let f = front.name.as_str();
    // The network container (nginx-proxy's NGINX_CONTAINER_LABEL): only `front` is reachable.
    let proxy = Container::run(
        "proxy",
        &scope,
        &[
            "--network",
            f,
            "--label",
            "com.github.nginx-proxy.nginx-proxy.nginx",
        ],
    )
    .await;
    let ok = Container::run(
        "ok",
        &scope,
        &["--network", f, "-e", "VIRTUAL_HOST=ok.check.test"],
    )
    .await;
    let isolated = Container::run(
        "isolated",
        &scope,
        &["--network", &back.name, "-e", "VIRTUAL_HOST=iso.check.test"],
    )
    .await;
    let typo = Container::run(
        "typo",
        &scope,
        &[
            "--network",
            f,
            "-e",
            "VIRTUAL_HOST=typo.check.test",
            "-e",
            "VIRTUAL_PORT=eighty",
        ],
    )
    .await;
    let db = Container::run("db", &scope, &["--network", f]).await;
    let sick_args = [
        &["--network", f, "-e", "VIRTUAL_HOST=sick.check.test"][..],
        HEALTHCHECK,
    ]
    .concat();
    let sick = Container::run("sick", &scope, &sick_args).await;
    let older = Container::run(
        "older",
        &scope,
        &[
            "--network",
            f,
            "-e",
            "VIRTUAL_HOST=conflict.check.test",
            "-e",
            "HTTPS_METHOD=noredirect",
        ],
    )
    .await;
    let newer = Container::run(
        "newer",
        &scope,
        &[
            "--network",
            f,
            "-e",
            "VIRTUAL_HOST=conflict.check.test",
            "-e",
            "HTTPS_METHOD=nohttps",
        ],
    )
    .await;
    let several = Container::run(
        "several",
        &scope,
        &[
            "--network",
            f,
            "--expose",
            "8081",
            "--expose",
            "8082",
            "-e",
            "VIRTUAL_HOST=several.check.test",
        ],
    )
    .await;
    wait_health(&sick, "unhealthy").await;

    let out = check(&scope);
    let ok_ip = ip_on(&ok, &front).await;
    let sick_ip = ip_on(&sick, &front).await;
    let want = [
        "Docker engine at unix:///var/run/docker.sock: 9 container(s)".to_owned(),
        // Routed: where.
        "ok.check.test  (from ".to_owned() + &ok.name + ")",
        format!("{ok_ip}:80  ({})", ok.name),
        // No shared network, with the fix.
        format!(
            "container {} shares no network with dockside",
            isolated.name
        ),
        format!("docker network connect {} {}", front.name, isolated.name),
        "(502: no reachable container — see problems below)".to_owned(),
        // Unparsable port, naming the container, the setting and the value.
        format!("{}: skipped: VIRTUAL_PORT=\"eighty\"", typo.name),
        // Missing VIRTUAL_HOST.
        format!("{}: no VIRTUAL_HOST", db.name),
        format!("{}: no VIRTUAL_HOST", proxy.name),
        // Unhealthy: listed, no traffic, and why the site answers 503.
        format!("{sick_ip}:80  ({}) [unhealthy: no traffic]", sick.name),
        "(no healthy backend: requests get 503 until one passes its healthcheck)".to_owned(),
        // Several exposed ports, no VIRTUAL_PORT: port 80, the classic 502.
        format!(
            "{}: exposes 8081, 8082 and sets no VIRTUAL_PORT, so port 80 is used",
            several.name
        ),
        // Conflicting setting naming both containers.
        format!(
            "HTTPS_METHOD conflict on host conflict.check.test: {} (oldest) sets \"noredirect\" and wins; {} sets \"nohttps\"",
            older.name, newer.name
        ),
    ];
    for needle in want {
        assert!(out.contains(&needle), "missing {needle:?} in:\n{out}");
    }
}

/// A child process killed on drop, whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dockside");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first log line containing every needle (within `WAIT`).
    fn line(&mut self, needles: &[&str]) -> String {
        if let Some(l) = self
            .seen
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return l.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if needles.iter().all(|n| l.contains(n)) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needles:?}; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No flags: only the listener addresses are set (through the environment, so the HTTP port
/// does not clash with other tests), the rest is the zero-configuration default.
fn zero_config(port: u16) -> Command {
    let mut cmd = dockside();
    cmd.env("HTTP_PORT", format!("127.0.0.1:{port}"))
        .env("HTTPS_PORT", "off")
        .env("DOCKSIDE_ADMIN", "off")
        .env("TRUST_DOWNSTREAM_PROXY", "false")
        .current_dir(std::env::temp_dir());
    cmd
}

#[test]
fn with_no_flags_dockside_watches_the_engine_it_finds() {
    ensure_image();
    let mut d = Running::spawn(zero_config(free_port()));
    let line = d.line(&["watching the Docker engine at unix:///var/run/docker.sock"]);
    assert!(line.contains("API "), "{line}");
    d.line(&["dockside is serving"]);
    assert!(
        !d.seen.iter().any(|l| l.contains("example routes")),
        "{:?}",
        d.seen
    );
}

#[test]
fn without_an_engine_dockside_says_so_and_serves_the_example_routes() {
    let port = free_port();
    let mut cmd = zero_config(port);
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let mut d = Running::spawn(cmd);
    d.line(&["no Docker socket at /nonexistent/docker.sock"]);
    d.line(&["serving the example routes file"]);
    d.line(&["dockside is serving"]);
    let code = |host: &str| {
        let out = common::curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("Host: {host}"),
            &format!("http://127.0.0.1:{port}/"),
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // `localhost` is routed (to 127.0.0.1:8000: 502 when nothing listens there); an unknown
    // host is not (503).
    assert_ne!(code("localhost"), "503", "{:?}", d.seen);
    assert_eq!(code("unknown.check.test"), "503");
}
