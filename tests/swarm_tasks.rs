//! Swarm tasks coming and going while clients keep asking (issue 19): a task's container
//! healthcheck decides when it takes traffic, a rolling update (`start-first` and `stop-first`)
//! and scaling 1 → 5 → 1 fail no request, and 0 tasks answer 503. Traffic goes through
//! dockside's image on the overlay (the host cannot reach task addresses); the health test
//! reads the in-process route table. Real single-node swarm, left again on drop; serial.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use common::image::{request, wait_until};
use common::load::Load;
use common::swarm::*;
use common::{Dockside, logs};

const WAIT: Duration = Duration::from_secs(15);

/// `curl` arguments for `GET /` with `Host: host` through dockside at `addr`.
fn curl(addr: &str, host: &str) -> Vec<String> {
    vec![
        "-sS".to_owned(),
        "-H".to_owned(),
        format!("Host: {host}"),
        format!("http://{addr}/"),
    ]
}

/// The task hostnames (the test image's page) answering through dockside: waits until
/// `n` distinct ones answered in a row of 4n requests, all 200.
async fn wait_answering(
    dockside: &Container,
    addr: &str,
    host: &str,
    n: usize,
) -> BTreeSet<String> {
    wait_answering_but(dockside, addr, host, n, &BTreeSet::new()).await
}

/// [`wait_answering`], waiting also until none of `gone` answers: a task the manager
/// replaced serves on until its container is told to stop, which Docker does 2 s after the
/// update's last step (docs/docker.md, "Backends").
async fn wait_answering_but(
    dockside: &Container,
    addr: &str,
    host: &str,
    n: usize,
    gone: &BTreeSet<String>,
) -> BTreeSet<String> {
    let what = match gone.is_empty() {
        true => format!("{n} tasks answering"),
        false => format!("{n} tasks answering, none of the replaced {gone:?}"),
    };
    wait_until(dockside, &what, WAIT, || {
        let args = curl(addr, host);
        async move {
            let mut seen = BTreeSet::new();
            for _ in 0..4 * n {
                let (code, body) = request(args.clone()).await;
                if code != 200 {
                    return None;
                }
                seen.insert(body.trim().to_owned());
            }
            (seen.len() == n && seen.is_disjoint(gone)).then_some(seen)
        }
    })
    .await
}

/// dockside's whole log without its 200 access lines: what went wrong, for failure messages.
fn not_200(dockside: &Container) -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", &dockside.name])
        .output()
        .map(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned())
        .unwrap_or_else(|e| format!("(docker logs: {e})"));
    let lines: Vec<&str> = out.lines().filter(|l| !l.contains("\" 200 ")).collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

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

/// A rolling update (`--force`: every task replaced) under four request loops through
/// dockside: not one request fails, and afterwards only new tasks answer.
async fn rolling_update(order: &str) {
    ensure_swarm_image();
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    let host = format!("{order}.swarm.test");
    let svc = web(
        order,
        &net,
        &scope,
        &host,
        &["--update-order", order, "--replicas", "2"],
    )
    .await;
    let (dockside, addr) = dockside_on(&net, &scope).await;
    let before = wait_answering(&dockside, &addr, &host, 2).await;

    let load = Load::start(4, format!("http://{addr}/"), &host);
    docker(&["service", "update", "--detach", "--force", &svc.name]).await;
    svc.wait_updated(Duration::from_secs(60)).await;
    // Every task was replaced: two answer, and none of those from before (within WAIT).
    wait_answering_but(&dockside, &addr, &host, 2, &before).await;
    let counts = load.stop().await;
    assert!(counts.ok > 100, "the load ran: {counts:?}");
    assert_eq!(
        counts.failed,
        0,
        "requests failed during the {order} update: {counts:?}; dockside's log lines other \
         than 200s:\n{}",
        not_200(&dockside)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_first_rolling_update_fails_no_request() {
    rolling_update("start-first").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_first_rolling_update_of_two_replicas_fails_no_request() {
    rolling_update("stop-first").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_1_to_5_to_1_fails_no_request_and_0_answers_503() {
    ensure_swarm_image();
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    let host = "scale.swarm.test";
    let svc = web("scale", &net, &scope, host, &["--replicas", "1"]).await;
    let (dockside, addr) = dockside_on(&net, &scope).await;
    wait_answering(&dockside, &addr, host, 1).await;

    let load = Load::start(4, format!("http://{addr}/"), host);
    svc.scale(5).await;
    wait_answering(&dockside, &addr, host, 5).await;
    svc.scale(1).await;
    wait_until(&dockside, "one task left", WAIT, || async {
        (svc.containers().await.len() == 1).then_some(())
    })
    .await;
    wait_answering(&dockside, &addr, host, 1).await;
    let counts = load.stop().await;
    assert!(counts.ok > 100, "the load ran: {counts:?}");
    assert_eq!(
        counts.failed,
        0,
        "requests failed while scaling: {counts:?}; dockside's logs:\n{}",
        common::image::logs(&dockside)
    );

    svc.scale(0).await;
    wait_until(&dockside, "503 at zero tasks", WAIT, || {
        let args = curl(&addr, host);
        async move { (request(args).await.0 == 503).then_some(()) }
    })
    .await;
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
    let extra = [
        &[
            "--replicas",
            "1",
            "--stop-grace-period",
            "60s",
            "--health-start-period",
            "120s",
        ][..],
        HEALTHCHECK,
    ]
    .concat();
    let svc = web("health", &net, &scope, host, &extra).await;
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
