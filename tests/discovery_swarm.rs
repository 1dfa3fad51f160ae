//! Swarm services as a source, against a real single-node swarm on the local engine
//! (`docker swarm init --advertise-addr 127.0.0.1`, left again when the test ends, also when it
//! fails). In-process dockside runs on the host, which cannot reach overlay task addresses:
//! those tests check what it routes (the live route table, the admin report) and the 503 of a
//! service scaled to zero; the traffic test runs dockside's image on the overlay instead. The
//! tests in this file take one lock: they run serially.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use common::image::{request, wait_until};
use common::swarm::*;
use common::{Dockside, get, logs};

const WAIT: Duration = Duration::from_secs(15);

async fn dockside(scope: &Scope) -> Dockside {
    logs::capture();
    Dockside::start(|c| {
        c.docker = Some(scope.settings(Path::new(ENGINE_SOCKET)));
        c.admin = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// Backend addresses of `host`'s `/` location, sorted; `None` when `host` is not routed.
fn backends(d: &Dockside, host: &str) -> Option<Vec<String>> {
    let mut out = d.backends(host)?;
    out.sort();
    Some(out)
}

/// The admin `/status` route report, for failure messages.
fn status(d: &Dockside) -> String {
    let addr = d.running.admin_addr.expect("admin listener");
    let out = common::curl(&[&format!("http://{addr}/status")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sources the admin `/status` report names for `host` (its `host  (from a, b)` line).
fn sources(d: &Dockside, host: &str) -> Vec<String> {
    let report = status(d);
    let prefix = format!("{host}  (from ");
    let Some(line) = report.lines().find(|l| l.starts_with(&prefix)) else {
        panic!("{host} not in the admin report:\n{report}");
    };
    line[prefix.len()..]
        .trim_end_matches(')')
        .split(", ")
        .map(str::to_owned)
        .collect()
}

/// Waits until `host`'s backends are what `want` says (`Some(None)`: not routed), asking the
/// engine each round (tasks come and go while we wait; `None`: not settled yet); returns them.
async fn wait_backends<F, Fut>(d: &Dockside, host: &str, what: &str, want: F) -> Option<Vec<String>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<Option<Vec<String>>>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let expected = want().await;
        let got = backends(d, host);
        if expected.as_ref() == Some(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {host} routes {got:?}, the engine says {expected:?}\n{}",
            status(d)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_are_routed_once_follow_scaling_and_updates_and_leave_on_removal() {
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    let d = dockside(&scope).await;
    let host = "svc.swarm.test";
    // The task containers carry the scope label and VIRTUAL_HOST too, so the container source
    // sees them: routed once each (by their service), not twice.
    let svc = Service::create(
        "web",
        &[
            "--network",
            &net.name,
            "--label",
            &format!("VIRTUAL_HOST={host}"),
            "--container-label",
            &format!("dockside-test-scope={}", scope.0),
            "--env",
            &format!("VIRTUAL_HOST={host}"),
            "--replicas",
            "1",
        ],
    )
    .await;
    let one = wait_backends(&d, host, "one task", || async {
        let b = svc.task_backends(&net).await;
        (b.len() == 1).then_some(Some(b))
    })
    .await;
    assert_eq!(one.map(|b| b.len()), Some(1));

    svc.scale(3).await;
    let three = wait_backends(&d, host, "scaled to 3", || async {
        let b = svc.task_backends(&net).await;
        (b.len() == 3).then_some(Some(b))
    })
    .await
    .unwrap();
    let mut distinct = three.clone();
    distinct.dedup();
    assert_eq!(distinct, three, "three tasks, three addresses");
    // The route table merges equal addresses: the admin report names each source, and the
    // task containers (seen by the container source too) must not be one.
    let from = sources(&d, host);
    assert_eq!(
        from.len(),
        3,
        "each task is one source: {from:?}\n{}",
        status(&d)
    );

    // A label-only update restarts no task: only the service event says it happened.
    let moved = "moved.swarm.test";
    docker(&[
        "service",
        "update",
        "--detach",
        "--no-resolve-image",
        "--label-add",
        &format!("VIRTUAL_HOST={moved}"),
        &svc.name,
    ])
    .await;
    let want = three.clone();
    wait_backends(&d, moved, "label update moves the route", || {
        let want = want.clone();
        async move { Some(Some(want)) }
    })
    .await;

    // No task: no site, like a stopped container (503), not a site without backends (502).
    svc.scale(0).await;
    wait_backends(&d, moved, "scaled to 0", || async { Some(None) }).await;
    let reply = get(&d, moved, "/").await;
    assert_eq!(reply.status, 503, "no task: {}", reply.body);

    svc.scale(1).await;
    wait_backends(&d, moved, "back to 1", || async {
        let b = svc.task_backends(&net).await;
        (b.len() == 1).then_some(Some(b))
    })
    .await;
    docker(&["service", "rm", &svc.name]).await;
    wait_backends(&d, moved, "service removed", || async { Some(None) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vip_label_routes_to_the_service_vip_and_dnsrr_to_its_tasks() {
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    let d = dockside(&scope).await;
    // DOCKER_CONTAINER_FILTERS (the scope label) selects services too: one without the label,
    // running before the others start, is never routed.
    let outsider = Service::create(
        "outsider",
        &[
            "--network",
            &net.name,
            "--label",
            "VIRTUAL_HOST=out.swarm.test",
        ],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outsider.task_backends(&net).await.is_empty() {
        assert!(Instant::now() < deadline, "the outsider's task never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The scope label on the service itself (vip) and on its containers (rr).
    let scoped = format!("dockside-test-scope={}", scope.0);
    let vip = Service::create(
        "vip",
        &[
            "--network",
            &net.name,
            "--label",
            "VIRTUAL_HOST=vip.swarm.test",
            "--label",
            "dockside.backend=vip",
            "--label",
            &scoped,
            "--replicas",
            "2",
        ],
    )
    .await;
    let rr = Service::create(
        "rr",
        &[
            "--network",
            &net.name,
            "--endpoint-mode",
            "dnsrr",
            "--label",
            "VIRTUAL_HOST=rr.swarm.test",
            "--container-label",
            &scoped,
            "--replicas",
            "2",
        ],
    )
    .await;
    let net_id = docker(&["network", "inspect", "--format", "{{.Id}}", &net.name]).await;
    let format = format!(
        "{{{{range .Endpoint.VirtualIPs}}}}{{{{if eq .NetworkID \"{net_id}\"}}}}{{{{.Addr}}}}\
         {{{{end}}}}{{{{end}}}}"
    );
    let addr = docker(&["service", "inspect", "--format", &format, &vip.name]).await;
    let vip_addr = format!("{}:80", addr.split('/').next().unwrap_or_default());
    assert!(
        vip_addr.len() > 3,
        "service {} has no VIP on {}",
        vip.name,
        net.name
    );
    wait_backends(&d, "vip.swarm.test", "the VIP", || {
        let want = vec![vip_addr.clone()];
        async move { Some(Some(want)) }
    })
    .await;
    wait_backends(&d, "rr.swarm.test", "dnsrr tasks", || async {
        let b = rr.task_backends(&net).await;
        (b.len() == 2).then_some(Some(b))
    })
    .await;
    assert_eq!(
        backends(&d, "out.swarm.test"),
        None,
        "a service outside DOCKER_CONTAINER_FILTERS is routed"
    );
}

/// The real traffic check: dockside's image as a container on the overlay (as it would run
/// in a swarm), so the task addresses it routes to are reachable from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockside_on_the_overlay_serves_every_task_and_503_at_zero() {
    ensure_swarm_image();
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let scope = Scope::new();
    let net = Network::create_with("overlay", &["--driver", "overlay", "--attachable"]).await;
    let host = "traffic.swarm.test";
    let svc = Service::create(
        "traffic",
        &[
            "--network",
            &net.name,
            "--label",
            &format!("VIRTUAL_HOST={host}"),
            "--container-label",
            &format!("dockside-test-scope={}", scope.0),
            "--replicas",
            "3",
        ],
    )
    .await;
    // No container of this engine is ours: only the service is routed.
    let (dockside, addr) = dockside_on(&net, &scope).await;
    let curl = |host: &str| {
        vec![
            "-sS".to_owned(),
            "-H".to_owned(),
            format!("Host: {host}"),
            format!("http://{addr}/"),
        ]
    };
    // Each task answers its own hostname: every one of the three is reached.
    let seen = wait_until(&dockside, "all three tasks answering", WAIT, || {
        let args = curl(host);
        async move {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..12 {
                let (code, body) = request(args.clone()).await;
                if code != 200 {
                    return None;
                }
                seen.insert(body.trim().to_owned());
            }
            (seen.len() == 3).then_some(seen)
        }
    })
    .await;
    assert_eq!(seen.len(), 3, "{seen:?}");

    svc.scale(0).await;
    wait_until(&dockside, "503 at zero tasks", WAIT, || {
        let args = curl(host);
        async move { (request(args).await.0 == 503).then_some(()) }
    })
    .await;
}

/// A free TCP port on this host (bound once, then released for the stack to take).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("0.0.0.0:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// A stack removed (with its certificate volume) on drop.
struct Stack {
    name: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = cli(&["stack", "rm", &self.name]);
        // The volume is freed once the task's container is gone.
        let deadline = Instant::now() + WAIT;
        let volume = format!("{}_certs", self.name);
        while Instant::now() < deadline && !cli(&["volume", "rm", &volume]).contains(&volume) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `deploy/swarm-stack.yml` deployed for real (`docker stack deploy`), with this branch's
/// image, free ports instead of 80/443 and a network name of its own: dockside runs as a
/// global service on the manager and routes a service on the stack's network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_stack_file_deploys_and_serves() {
    ensure_swarm_image();
    let _serial = SERIAL.lock().await;
    let _swarm = Swarm::init();
    let stack = Stack {
        name: unique("stack").replace('-', "_"),
    };
    let network = format!("{}-front", stack.name);
    let (http, https) = (free_port(), free_port());
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/swarm-stack.yml"),
    )
    .unwrap();
    let text = text
        .replace("image: dockside:latest", &format!("image: {SWARM_IMAGE}"))
        .replace("published: 80\n", &format!("published: {http}\n"))
        .replace("published: 443\n", &format!("published: {https}\n"))
        .replace("name: dockside-front", &format!("name: {network}"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, text).unwrap();
    docker(&["stack", "deploy", "-c", file.to_str().unwrap(), &stack.name]).await;
    let host = "stack.swarm.test";
    let _web = Service::create(
        "stackweb",
        &[
            "--network",
            &network,
            "--label",
            &format!("VIRTUAL_HOST={host}"),
        ],
    )
    .await;
    let args = vec![
        "-sS".to_owned(),
        "-H".to_owned(),
        format!("Host: {host}"),
        format!("http://127.0.0.1:{http}/"),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = request(args.clone()).await;
        if code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 through the stack's dockside on :{http} (last: {code} {body})\n{}",
            cli(&[
                "service",
                "ps",
                "--no-trunc",
                &format!("{}_dockside", stack.name)
            ])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
