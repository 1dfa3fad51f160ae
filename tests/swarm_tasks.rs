//! Swarm tasks coming and going (issue 19): a task's container healthcheck decides when it
//! takes traffic. The health test reads the in-process route table. Real single-node swarm,
//! left again on drop; serial.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use common::swarm::*;
use common::{Dockside, logs};

const WAIT: Duration = Duration::from_secs(15);

/// A service of the test image on `net`, routed as `host`, its task containers in `scope`
/// (so dockside's container filter sees them), stopped with 2 s of grace: busybox `httpd` as
/// PID 1 ignores SIGTERM and serves on until SIGKILL, like an app finishing its requests.
async fn web(tag: &str, net: &Network, scope: &Scope, host: &str, extra: &[&str]) -> Service {
    let label = format!("VIRTUAL_HOST={host}");
    let scoped = format!("dockside-test-scope={}", scope.0);
    let mut args = vec![
        "--network",
        &net.name,
        "--label",
        &label,
        "--container-label",
        &scoped,
        "--stop-grace-period",
        "2s",
        "--update-parallelism",
        "1",
        "--update-delay",
        "0s",
        "--update-monitor",
        "500ms",
    ];
    args.extend_from_slice(extra);
    Service::create(tag, &args).await
}

/// The admin `/status` report of an in-process dockside.
fn status(d: &Dockside) -> String {
    let addr = d.running.admin_addr.expect("admin listener");
    let out = common::curl(&[&format!("http://{addr}/status")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls until `ok` holds for `host`'s eligible backends, or panics naming `what`.
async fn wait_routed(d: &Dockside, host: &str, what: &str, ok: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = d.backends(host).unwrap_or_default();
        if ok(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {host} routes {got:?}\n{}",
            status(d)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `busybox ARGS` in a container (the test image's healthcheck reads `/tmp/ok`).
async fn exec(container: &str, args: &[&str]) {
    let mut all = vec!["exec", container, "/bin/busybox"];
    all.extend_from_slice(args);
    docker(&all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_a_healthcheck_takes_traffic_once_healthy_and_leaves_when_unhealthy() {
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    logs::capture();
    let d = Dockside::start(|c| {
        c.docker = Some(scope.settings(Path::new(ENGINE_SOCKET)));
        c.admin = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let host = "health.swarm.test";
    // Failing checks in the start period do not count: the task stays `starting` until
    // `/tmp/ok` exists. A grace period far beyond WAIT: once unhealthy, the task must leave
    // the routes long before the engine kills its container.
    let svc = web(
        "health",
        &net,
        &scope,
        host,
        &[
            "--replicas",
            "1",
            "--stop-grace-period",
            "60s",
            "--health-cmd",
            "/bin/healthy",
            "--health-interval",
            "300ms",
            "--health-retries",
            "1",
            "--health-timeout",
            "2s",
            "--health-start-period",
            "120s",
        ],
    )
    .await;
    let deadline = Instant::now() + WAIT;
    let container = loop {
        let ids = svc.containers().await;
        if let Some(id) = ids.first() {
            break id.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no task container for {}",
            svc.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let state = docker(&["inspect", "-f", "{{.State.Health.Status}}", &container]).await;
    assert_eq!(state, "starting", "no /tmp/ok yet");
    assert_eq!(
        d.backends(host).unwrap_or_default(),
        Vec::<String>::new(),
        "a starting task takes no traffic\n{}",
        status(&d)
    );

    exec(&container, &["touch", "/tmp/ok"]).await;
    wait_routed(&d, host, "healthy task", |b| b.len() == 1).await;
    let report = status(&d);
    assert!(
        report.contains("[healthy]"),
        "the task carries its container's health:\n{report}"
    );

    exec(&container, &["rm", "-f", "/tmp/ok"]).await;
    wait_routed(&d, host, "unhealthy task", <[String]>::is_empty).await;
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &container]).await;
    assert_eq!(
        running, "true",
        "the task left the routes while its container still ran (its grace period)"
    );
}
