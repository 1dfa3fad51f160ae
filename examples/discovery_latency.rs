//! Discovery latency: time from `docker start` returning to (a) the in-process Docker provider
//! publishing the new container and (b) with `--dockside PATH`, the first 200 through a
//! dockside binary (release build, scoped to this run's containers with
//! `DOCKER_CONTAINER_FILTERS`, polled every millisecond with the container's own `Host:`);
//! p50/p95 over `--runs` containers, with `--others` idle containers running (and watched)
//! meanwhile. Run by `scripts/bench-discovery.sh`.
//!
//! Needs the test image (`scripts/build-test-image.sh`). Everything it creates carries the
//! label `dockside-bench=<pid>` and is removed at the end, also on panic; the dockside child
//! is killed on drop.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockside::discovery::{self, DockerSettings};
use dockside::model::Reach;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const IMAGE: &str = "dockside-test-backend:latest";

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for chunk in ids.chunks(50) {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(chunk)
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// The dockside binary under test, killed on drop.
struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin` on a free loopback port, watching the default engine with only `scope`'s
/// containers; returns once it accepts connections.
async fn start_proxy(bin: &str, scope: &str) -> Result<(Proxy, SocketAddr), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(bin)
        .env("HTTP_PORT", addr.to_string())
        .env("HTTPS_PORT", "off")
        .env("DOCKSIDE_ADMIN", "off")
        .env("DISABLE_ACCESS_LOGS", "true")
        .env("TRUST_DOWNSTREAM_PROXY", "false")
        .env("DOCKER_CONTAINER_FILTERS", format!("label={scope}"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{bin}: {e}"))?;
    let proxy = Proxy(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{bin} is not listening on {addr}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((proxy, addr))
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runs = arg("--runs", 20);
    let others = arg("--others", 0);
    let scope = format!("dockside-bench={}", std::process::id());
    let _cleanup = Cleanup(scope.clone());

    eprintln!("starting {others} idle containers...");
    let mut pending = Vec::new();
    for i in 0..others {
        let name = format!("dockside-test-bench-{}-idle-{i}", std::process::id());
        pending.push(
            Command::new("docker")
                .args(["run", "-d", "--name", &name, "--label", &scope, "-e"])
                .arg(format!("VIRTUAL_HOST=idle{i}.bench.test"))
                .args(["--entrypoint", "/bin/busybox", IMAGE, "sleep", "3600"])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?,
        );
        if pending.len() >= 8 {
            for mut c in pending.drain(..) {
                let _ = c.wait();
            }
        }
    }
    for mut c in pending {
        let _ = c.wait();
    }

    // An example is its own `main`: it reads the environment itself.
    let mut settings =
        DockerSettings::from_vars(|k| std::env::var(k).ok(), None).map_err(|e| e.to_string())?;
    settings
        .container_filters
        .push(("label".into(), scope.clone()));
    let engine = discovery::probe(&settings)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "engine {} (API {}) at {}",
        engine.version, engine.api_version, engine.endpoint
    );
    let (tx, mut rx) = watch::channel(Vec::new());
    let token = CancellationToken::new();
    let task = discovery::spawn(settings, tx, token.clone());
    let ready = tokio::time::timeout(Duration::from_secs(120), rx.wait_for(|i| i.len() >= others))
        .await
        .is_ok_and(|r| r.is_ok());
    if !ready {
        return Err(format!(
            "provider did not list the {others} idle containers"
        ));
    }

    // With no other containers the first (empty) list is not observable: give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Record when each name is first published.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<
        String,
        (Instant, Option<IpAddr>),
    >::new()));
    let recorder = {
        let seen = seen.clone();
        let mut rx = rx.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let now = Instant::now();
                let names: Vec<(String, Option<IpAddr>)> = rx
                    .borrow_and_update()
                    .iter()
                    .map(|i| match i.reach {
                        Reach::Container { ip, .. } => (i.name.clone(), Some(ip)),
                        _ => (i.name.clone(), None),
                    })
                    .collect();
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                for (n, ip) in names {
                    seen.entry(n).or_insert((now, ip));
                }
            }
        })
    };

    let http = std::env::args().any(|a| a == "--http");
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .iter()
        .position(|a| a == "--dockside")
        .and_then(|i| args.get(i + 1).cloned());
    let proxy = match &bin {
        Some(bin) => Some(start_proxy(bin, &scope).await?),
        None => None,
    };
    let mut proxied = Vec::new();
    let mut lat = Vec::new();
    let mut http_lat = Vec::new();
    for i in 0..runs {
        let name = format!("dockside-test-bench-{}-web-{i}", std::process::id());
        docker(&[
            "create",
            "--name",
            &name,
            "--label",
            &scope,
            "-e",
            &format!("VIRTUAL_HOST=web{i}.bench.test"),
            IMAGE,
        ])?;
        let host = format!("web{i}.bench.test");
        tokio::time::sleep(Duration::from_millis(100)).await;
        docker(&["start", &name])?;
        let returned = Instant::now();
        tracing::debug!(name, "docker start returned");
        let deadline = returned + Duration::from_secs(10);
        // Through dockside from the moment `docker start` returned, concurrently with the
        // in-process provider's publication and (with --http) the backend polled directly:
        // the direct figure is the floor set by the container's own start-up (httpd
        // listening), not by discovery.
        let through = async {
            match &proxy {
                Some((_, addr)) => {
                    first_200(*addr, &host, deadline).await?;
                    Ok::<_, String>(Some(returned.elapsed().as_secs_f64() * 1e3))
                }
                None => Ok(None),
            }
        };
        let published = async {
            let (at, ip) = loop {
                if let Some(at) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(&name) {
                    break *at;
                }
                if Instant::now() > deadline {
                    return Err(format!("{name} not published within 10 s"));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            // Negative: published before the CLI process returned (the event beat it).
            let ms = if at >= returned {
                at.duration_since(returned).as_secs_f64() * 1e3
            } else {
                -(returned.duration_since(at).as_secs_f64() * 1e3)
            };
            let direct = match ip {
                Some(ip) if http => {
                    first_200(SocketAddr::new(ip, 80), &host, deadline).await?;
                    Some(returned.elapsed().as_secs_f64() * 1e3)
                }
                _ => None,
            };
            Ok::<_, String>((ms, direct))
        };
        let (through, published) = tokio::join!(through, published);
        let (ms, direct) = published?;
        lat.push(ms);
        proxied.extend(through?);
        http_lat.extend(direct);
    }
    token.cancel();
    let _ = task.await;
    recorder.abort();
    drop(proxy);

    report(&format!("others={others} runs={runs} published:"), lat);
    report("  first 200 through dockside:", proxied);
    if http {
        report("  first 200 from the backend itself (no proxy):", http_lat);
    }
    Ok(())
}

fn report(what: &str, mut ms: Vec<f64>) {
    if ms.is_empty() {
        return;
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{what} p50={:.1}ms p95={:.1}ms min={:.1}ms max={:.1}ms (negative = before `docker start` returned)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms[0],
        ms[ms.len() - 1]
    );
}

/// Polls `GET /` with `Host: host` every millisecond until `addr` answers 200 (dockside answers
/// 503 until the route exists, 502 while the backend is not listening yet).
async fn first_200(addr: SocketAddr, host: &str, deadline: Instant) -> Result<(), String> {
    let request = format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n");
    while Instant::now() < deadline {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(request.as_bytes()).await.ok()?;
            let mut buf = [0u8; 16];
            s.read_exact(&mut buf[..12]).await.ok()?;
            Some(buf.starts_with(b"HTTP/1.0 200") || buf.starts_with(b"HTTP/1.1 200"))
        };
        if let Ok(Some(true)) = tokio::time::timeout(Duration::from_millis(200), attempt).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!("{addr} did not answer 200 in time"))
}
