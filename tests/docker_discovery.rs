//! The Docker provider against the real engine: containers started, stopped, paused and
//! replicated, ports, env vs labels, malformed settings, health. Each test has its own scope
//! label (the provider's `DOCKER_CONTAINER_FILTERS`) and network.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use dockside::model::{Health, Reach};

const SOCKET: &str = ENGINE_SOCKET;
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_container_appears_within_a_second_and_leaves_when_stopped() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut p = provider(&scope).await;
    let web = Container::create(
        "web",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            "VIRTUAL_HOST=web.example.test",
        ],
    )
    .await;
    // A created (not running) container is not routed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(item(&p.items(), &web.name).is_none());
    web.start().await;
    let started = Instant::now();
    let items = p
        .wait_for("started container published", WAIT, has(&web.name))
        .await;
    let latency = started.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "published {latency:?} after docker start"
    );
    let it = item(&items, &web.name).unwrap();
    assert_eq!(it.vars["VIRTUAL_HOST"], "web.example.test");
    let ip = ip_on(&web, &net).await;
    assert!(
        matches!(&it.reach, Reach::Container { ip: got, health: Health::None, .. }
        if got.to_string() == ip),
        "{:?} vs {ip}",
        it.reach
    );
    web.stop().await;
    p.wait_for("stopped container removed", WAIT, lacks(&web.name))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_are_two_items() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut p = provider(&scope).await;
    let env = [
        "--network",
        &net.name,
        "-e",
        "VIRTUAL_HOST=replicas.example.test",
    ];
    let a = Container::run("rep-a", &scope, &env).await;
    let b = Container::run("rep-b", &scope, &env).await;
    let items = p
        .wait_for("both replicas", WAIT, |i| {
            has(&a.name)(i) && has(&b.name)(i)
        })
        .await;
    let ips: Vec<_> = items
        .iter()
        .filter_map(|i| match &i.reach {
            Reach::Container { ip, .. } => Some(*ip),
            _ => None,
        })
        .collect();
    assert_eq!(ips.len(), 2);
    assert_ne!(ips[0], ips[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_ports_env_label_precedence_and_malformed_settings() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut p = provider(&scope).await;
    let n = &net.name;
    let one = Container::run(
        "one",
        &scope,
        &[
            "--network",
            n,
            "--expose",
            "8080",
            "-e",
            "VIRTUAL_HOST=one.test",
        ],
    )
    .await;
    let several = Container::run(
        "several",
        &scope,
        &[
            "--network",
            n,
            "--expose",
            "9000",
            "--expose",
            "81/udp",
            "-p",
            "127.0.0.1::8443",
            "-e",
            "VIRTUAL_HOST=s.test",
        ],
    )
    .await;
    let none = Container::run(
        "none",
        &scope,
        &["--network", n, "-e", "VIRTUAL_HOST=none.test"],
    )
    .await;
    let labelled = Container::run(
        "labelled",
        &scope,
        &[
            "--network",
            n,
            "-e",
            "VIRTUAL_HOST=env.test",
            "--label",
            "VIRTUAL_HOST=label.test",
            "--label",
            "com.github.nginx-proxy.nginx-proxy.keepalive=false",
        ],
    )
    .await;
    let bad = Container::run(
        "bad",
        &scope,
        &[
            "--network",
            n,
            "-e",
            "VIRTUAL_HOST=bad.test",
            "-e",
            "VIRTUAL_PORT=eighty",
        ],
    )
    .await;
    let names = [
        &one.name,
        &several.name,
        &none.name,
        &labelled.name,
        &bad.name,
    ];
    let items = p
        .wait_for("all five", WAIT, |i| {
            names.iter().all(|n| item(i, n).is_some())
        })
        .await;
    assert_eq!(ports(item(&items, &one.name).unwrap()), vec![8080]);
    assert_eq!(
        ports(item(&items, &several.name).unwrap()),
        vec![81, 8443, 9000]
    );
    assert_eq!(ports(item(&items, &none.name).unwrap()), Vec::<u16>::new());
    let l = item(&items, &labelled.name).unwrap();
    assert_eq!(l.vars["VIRTUAL_HOST"], "label.test");
    assert_eq!(
        l.vars["com.github.nginx-proxy.nginx-proxy.keepalive"],
        "false"
    );
    let b = item(&items, &bad.name).unwrap();
    assert_eq!(
        b.vars["VIRTUAL_PORT"], "eighty",
        "passed on unmodified for settings to reject"
    );
    assert!(matches!(b.reach, Reach::Container { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_changes_are_published() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut p = provider(&scope).await;
    let web = Container::run(
        "health",
        &scope,
        &[
            &["--network", &net.name, "-e", "VIRTUAL_HOST=h.test"],
            HEALTHCHECK,
        ]
        .concat(),
    )
    .await;
    let health = |want: Health| {
        let name = web.name.clone();
        move |items: &[dockside::model::SourceItem]| {
            item(items, &name).is_some_and(
                |i| matches!(i.reach, Reach::Container { health, .. } if health == want),
            )
        }
    };
    p.wait_for(
        "unhealthy while /tmp/ok is missing",
        WAIT,
        health(Health::Unhealthy),
    )
    .await;
    docker(&["exec", &web.name, "/bin/busybox", "touch", "/tmp/ok"]).await;
    p.wait_for("healthy once /tmp/ok exists", WAIT, health(Health::Healthy))
        .await;
    docker(&["exec", &web.name, "/bin/busybox", "rm", "/tmp/ok"]).await;
    p.wait_for("unhealthy again", WAIT, health(Health::Unhealthy))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_containers_are_not_routed_and_snapshot_sees_the_same() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut p = provider(&scope).await;
    let web = Container::run(
        "web",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=p.test"],
    )
    .await;
    p.wait_for("running", WAIT, has(&web.name)).await;
    let snap = dockside::discovery::snapshot(&scope.settings(Path::new(SOCKET)))
        .await
        .expect("snapshot");
    assert_eq!(snap, p.items(), "snapshot equals the watcher's view");
    docker(&["pause", &web.name]).await;
    p.wait_for("paused: gone", WAIT, lacks(&web.name)).await;
    docker(&["unpause", &web.name]).await;
    p.wait_for("unpaused: back", WAIT, has(&web.name)).await;
}
