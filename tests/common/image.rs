//! The deployment image under test (`dockside:latest`, built once per test binary by
//! `scripts/build-image.sh`: a static binary FROM scratch) and helpers to run containers of
//! any image with a removal guard, find their published ports and wait on their state.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::docker::{Container, docker, unique};

pub const DOCKSIDE_IMAGE: &str = "dockside:latest";

/// Builds the image once per test binary (cargo's incremental static build + the docker build
/// cache make a repeat run take seconds); fails, never skips, when it cannot be built.
pub fn ensure_dockside_image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        super::docker::ensure_image();
        build(DOCKSIDE_IMAGE);
    });
}

/// `scripts/build-image.sh` tagging the deployment image `tag`; fails, never skips.
pub fn build(tag: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-image.sh");
    let out = std::process::Command::new(&script)
        .env("IMAGE", tag)
        .output()
        .expect("run scripts/build-image.sh");
    assert!(
        out.status.success(),
        "building {tag} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker run -d --name <unique> ARGS...` (ARGS end with the image and its command);
/// the container is removed (with its anonymous volumes) on drop.
pub async fn run(tag: &str, args: &[&str]) -> Container {
    let c = Container { name: unique(tag) };
    let mut all = vec!["run", "-d", "--name", &c.name];
    all.extend_from_slice(args);
    docker(&all).await;
    c
}

/// The host address a container port is published on (`docker port`), e.g. `127.0.0.1:49153`.
pub async fn published(c: &Container, port: &str) -> String {
    let out = docker(&["port", &c.name, port]).await;
    out.lines()
        .find(|l| l.starts_with("127.0.0.1:") || l.starts_with("0.0.0.0:"))
        .unwrap_or_else(|| panic!("{} does not publish {port}: {out:?}", c.name))
        .replace("0.0.0.0:", "127.0.0.1:")
}

/// `docker inspect -f FORMAT NAME`.
pub async fn inspect(c: &Container, format: &str) -> String {
    docker(&["inspect", "-f", format, &c.name]).await
}

/// The container's logs (stdout and stderr), for failure messages.
pub fn logs(c: &Container) -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", "--tail", "60", &c.name])
        .output();
    match out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("(docker logs: {e})"),
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics after `timeout` with `what`
/// and the container's logs.
pub async fn wait_until<T, F, Fut>(c: &Container, what: &str, timeout: Duration, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}; logs of {}:\n{}",
            c.name,
            logs(c)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `curl` through dockside: `(status, body)`; status 0 when the request failed.
pub async fn request(args: Vec<String>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-w", "\n%{http_code}"]);
        let out = super::curl(&all);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    })
    .await
    .expect("curl task")
}
