//! Zero-downtime deploys against the real engine: the containers of one host are replaced one
//! by one (start the new, stop the old) while clients keep asking, and not one request fails —
//! on the host being replaced, not only on the others (issue 20, "Zero-downtime deploys").
//!
//! Two kinds of backend, because they die differently:
//! - `httpd` as PID 1 ignores SIGTERM (the kernel drops signals PID 1 has no handler for), so
//!   `docker stop -t 1` leaves it serving for a second, then SIGKILLs it: its network namespace
//!   vanishes with connections still pooled by dockside.
//! - under `--init` (docker-init forwards SIGTERM) it exits at once: connections are reset and
//!   new ones refused a moment after the `kill` event.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::docker::*;
use common::load::Load;
use common::{Dockside, get};
use dockside::routing::Action;

const WAIT: Duration = Duration::from_secs(15);
const HOST: &str = "roll.deploy.test";

/// The backend addresses `host` routes to now.
fn backends(d: &Dockside) -> Vec<String> {
    let table = d.running.routes();
    match table
        .default_hosts(false)
        .site(HOST)
        .map(|s| &s.locations[0].action)
    {
        Some(Action::Forward(up)) => up.backends.iter().map(|b| b.addr.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Waits until `HOST` routes to exactly `n` backends that all accept connections.
async fn wait_backends(d: &Dockside, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let addrs = backends(d);
        if addrs.len() == n {
            let mut up = 0;
            for a in &addrs {
                if tokio::net::TcpStream::connect(a).await.is_ok() {
                    up += 1;
                }
            }
            if up == n {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{HOST}: backends {addrs:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two replicas replaced one by one, three times over, under a request loop.
async fn rolling_replace(extra: &[&str]) {
    common::logs::capture();
    let scope = Scope::new();
    let net = Network::create("roll").await;
    let vhost = format!("VIRTUAL_HOST={HOST}");
    let mut args = vec!["--network", net.name.as_str(), "-e", vhost.as_str()];
    args.extend_from_slice(extra);
    let mut live = [
        Container::run("r0", &scope, &args).await,
        Container::run("r1", &scope, &args).await,
    ];
    let socket = PathBuf::from(ENGINE_SOCKET);
    let d = Dockside::start(|c| c.docker = Some(scope.settings(&socket))).await;
    wait_backends(&d, 2).await;
    assert_eq!(get(&d, HOST, "/").await.status, 200);

    let load = Load::start(4, d.url("/"), HOST);
    for round in 0..3 {
        for (slot, current) in live.iter_mut().enumerate() {
            // What a deploy tool does: the new one up and answering, then the old one stopped.
            let fresh = Container::run(&format!("n{round}{slot}"), &scope, &args).await;
            wait_backends(&d, 3).await;
            let old = std::mem::replace(current, fresh);
            docker(&["stop", "-t", "1", &old.name]).await;
            wait_backends(&d, 2).await;
            drop(old);
        }
    }
    let counts = load.stop().await;
    assert!(counts.ok > 100, "the load ran: {counts:?}");
    let warnings: Vec<String> = common::logs::text()
        .lines()
        .filter(|l| l.contains(" WARN "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        counts.failed, 0,
        "requests failed during the rolling replace: {counts:?}; warnings: {warnings:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_replace_of_a_backend_that_ignores_sigterm_fails_no_request() {
    rolling_replace(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_replace_of_a_backend_that_exits_on_sigterm_fails_no_request() {
    rolling_replace(&["--init"]).await;
}
