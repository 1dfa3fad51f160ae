//! Docker discovery end to end, through the proxy: dockside started in-process against the
//! real engine (standalone on the host, so container IPs are reachable), real containers,
//! real HTTP requests with `Host:` headers. Each test scopes dockside to its own containers
//! with a unique label (`DockerSettings::container_filters`), so tests and other engine users run side
//! by side.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, Reply, get, logs};
use http::StatusCode;

const WAIT: Duration = Duration::from_secs(10);

/// dockside watching `socket`, seeing only `scope`'s containers, with its admin listener.
async fn dockside(scope: &Scope, socket: &Path) -> Dockside {
    logs::capture();
    ensure_image();
    Dockside::start(|c| {
        c.docker = Some(scope.settings(socket));
        c.admin = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// GETs `http://host/` through dockside until `pred` holds; panics with the last reply and
/// the route report.
async fn wait_reply(d: &Dockside, host: &str, what: &str, pred: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = get(d, host, "/").await;
        if pred(&r) {
            return r;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: last reply {} {:?}\n{}",
                r.status,
                r.body,
                status(d).await
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn is(code: u16) -> impl Fn(&Reply) -> bool {
    move |r| r.status.as_u16() == code
}

/// The admin `/status` route report.
async fn status(d: &Dockside) -> String {
    let addr = d.running.admin_addr.expect("admin listener");
    let out = common::curl(&[&format!("http://{addr}/status")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Backend addresses of `host`'s `/` location in the live route table.
fn backends(d: &Dockside, host: &str) -> Vec<String> {
    d.backends(host).unwrap_or_default()
}

/// Waits until `c`'s httpd accepts connections on port 80 of `net` (directly, not through
/// dockside).
async fn listening(c: &Container, net: &Network) {
    let addr = format!("{}:80", ip_on(c, net).await);
    let deadline = Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{} not listening on {addr}",
            c.name
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn pages(d: &Dockside, host: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = get(d, host, "/").await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", r.body);
        out.push(r.body.trim().to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_container_is_served_within_a_second_and_stopped_gives_503() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope, Path::new(ENGINE_SOCKET)).await;
    let web = Container::create(
        "web",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=web.proxy.test"],
    )
    .await;
    let page = web.page().await;
    assert_eq!(get(&d, "web.proxy.test", "/").await.status, 503);
    web.start().await;
    let started = Instant::now();
    let r = wait_reply(&d, "web.proxy.test", "served after start", is(200)).await;
    let latency = started.elapsed();
    assert_eq!(r.body.trim(), page, "the page names the container");
    assert!(
        latency < Duration::from_secs(1),
        "first 200 {latency:?} after docker start"
    );
    web.stop().await;
    wait_reply(&d, "web.proxy.test", "503 after stop", is(503)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_answer_in_turn() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope, Path::new(ENGINE_SOCKET)).await;
    let env = ["--network", &net.name, "-e", "VIRTUAL_HOST=rep.proxy.test"];
    let a = Container::run("rep-a", &scope, &env).await;
    let b = Container::run("rep-b", &scope, &env).await;
    let deadline = Instant::now() + WAIT;
    while backends(&d, "rep.proxy.test").len() < 2 {
        assert!(Instant::now() < deadline, "{}", status(&d).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A replica whose httpd is not listening yet would be refused, marked down for a few
    // seconds (passive health) and skipped: let both listen before the first request.
    listening(&a, &net).await;
    listening(&b, &net).await;
    let seen = pages(&d, "rep.proxy.test", 8).await;
    let (pa, pb) = (a.page().await, b.page().await);
    assert!(seen.contains(&pa) && seen.contains(&pb), "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "round robin alternates: {seen:?}"
    );
}

/// With a network container (nginx-proxy's `NGINX_CONTAINER_LABEL`) on two networks, a backend
/// on both is one backend (the first network by name); one on neither is not routed, and
/// says why; disconnecting a backend from the shared networks unroutes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_networks_decide_the_one_backend_and_disconnect_unroutes() {
    let scope = Scope::new();
    let n1 = Network::create("n1").await;
    let n2 = Network::create("n2").await;
    let other = Network::create("other").await;
    let d = dockside(&scope, Path::new(ENGINE_SOCKET)).await;
    let label = ["--label", "com.github.nginx-proxy.nginx-proxy.nginx"];
    let proxy = Container::create(
        "proxy",
        &scope,
        &[&["--network", &n1.name][..], &label].concat(),
    )
    .await;
    docker(&["network", "connect", &n2.name, &proxy.name]).await;
    proxy.start().await;
    let web = Container::create(
        "web",
        &scope,
        &["--network", &n1.name, "-e", "VIRTUAL_HOST=nets.proxy.test"],
    )
    .await;
    docker(&["network", "connect", &n2.name, &web.name]).await;
    web.start().await;
    let far = Container::run(
        "far",
        &scope,
        &[
            "--network",
            &other.name,
            "-e",
            "VIRTUAL_HOST=far.proxy.test",
        ],
    )
    .await;
    wait_reply(&d, "nets.proxy.test", "served on a shared network", is(200)).await;
    let first = if n1.name < n2.name { &n1 } else { &n2 };
    let second = if first.name == n1.name { &n2 } else { &n1 };
    let want = format!("{}:80", ip_on(&web, first).await);
    assert_eq!(
        backends(&d, "nets.proxy.test"),
        [want],
        "one backend, first network by name"
    );
    assert_eq!(
        pages(&d, "nets.proxy.test", 3).await,
        vec![web.page().await; 3]
    );

    // A known host whose only container shares no network: nginx-proxy's `server 127.0.0.1
    // down;`, so 502 (an unknown host stays 503).
    let far_reply = get(&d, "far.proxy.test", "/").await;
    assert_eq!(far_reply.status, 502, "{}", far_reply.body);
    let report = status(&d).await;
    let hint = format!("docker network connect {} {}", first.name, far.name);
    assert!(
        report.contains("shares no network") && report.contains(&hint),
        "{report}"
    );

    docker(&["network", "disconnect", &first.name, &web.name]).await;
    let want = format!("{}:80", ip_on(&web, second).await);
    let deadline = Instant::now() + WAIT;
    while backends(&d, "nets.proxy.test") != [want.clone()] {
        assert!(Instant::now() < deadline, "{}", status(&d).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_reply(&d, "nets.proxy.test", "still served on the other", is(200)).await;
    docker(&["network", "disconnect", &second.name, &web.name]).await;
    // Once discovery dropped the address (the old one could also give a 502): 502, not 503.
    let deadline = Instant::now() + WAIT;
    while !backends(&d, "nets.proxy.test").is_empty() {
        assert!(Instant::now() < deadline, "{}", status(&d).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get(&d, "nets.proxy.test", "/").await.status, 502);
    let report = status(&d).await;
    assert!(
        report.contains(&format!("container {} shares no network", web.name)),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_env_vs_labels_and_a_malformed_setting() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope, Path::new(ENGINE_SOCKET)).await;
    let n = net.name.as_str();
    let run = |tag: &'static str, args: Vec<&'static str>| {
        let scope = &scope;
        async move {
            let mut all = vec!["--network", n];
            all.extend(args);
            Container::run(tag, scope, &all).await
        }
    };
    // busybox httpd listens on $PORT.
    let single = run(
        "single",
        vec![
            "-e",
            "PORT=8080",
            "--expose",
            "8080",
            "-e",
            "VIRTUAL_HOST=single.proxy.test",
        ],
    )
    .await;
    let chosen = run(
        "chosen",
        vec![
            "-e",
            "PORT=9000",
            "--expose",
            "9000",
            "--expose",
            "9001",
            "-e",
            "VIRTUAL_PORT=9000",
            "-e",
            "VIRTUAL_HOST=chosen.proxy.test",
        ],
    )
    .await;
    let several = run(
        "several",
        vec![
            "-e",
            "PORT=8081",
            "--expose",
            "8081",
            "--expose",
            "8082",
            "-e",
            "VIRTUAL_HOST=several.proxy.test",
        ],
    )
    .await;
    let labelled = run(
        "labelled",
        vec![
            "-e",
            "PORT=7000",
            "-e",
            "VIRTUAL_HOST=env.proxy.test",
            "--label",
            "VIRTUAL_HOST=label.proxy.test",
            "-e",
            "VIRTUAL_PORT=80",
            "--label",
            "VIRTUAL_PORT=7000",
        ],
    )
    .await;
    let bad = run(
        "bad",
        vec![
            "-e",
            "VIRTUAL_HOST=bad.proxy.test",
            "-e",
            "VIRTUAL_PORT=eighty",
        ],
    )
    .await;

    let r = wait_reply(&d, "single.proxy.test", "the single exposed port", is(200)).await;
    assert_eq!(r.body.trim(), single.page().await);
    let r = wait_reply(
        &d,
        "chosen.proxy.test",
        "VIRTUAL_PORT among several",
        is(200),
    )
    .await;
    assert_eq!(r.body.trim(), chosen.page().await);
    // Several exposed ports and no VIRTUAL_PORT: port 80, as nginx-proxy — nothing listens.
    wait_reply(&d, "several.proxy.test", "port 80 by default", is(502)).await;
    let ip = ip_on(&several, &net).await;
    assert_eq!(backends(&d, "several.proxy.test"), [format!("{ip}:80")]);
    let r = wait_reply(&d, "label.proxy.test", "labels win over env", is(200)).await;
    assert_eq!(r.body.trim(), labelled.page().await);
    assert_eq!(get(&d, "env.proxy.test", "/").await.status, 503);

    let line = logs::wait_line(&[&bad.name, "VIRTUAL_PORT", "eighty"], WAIT).await;
    assert!(line.contains("WARN"), "{line}");
    assert_eq!(get(&d, "bad.proxy.test", "/").await.status, 503);
    let report = status(&d).await;
    assert!(
        report.contains(&format!("{}: ", bad.name)) && report.contains("eighty"),
        "{report}"
    );
    // Every other site is still served.
    for host in ["single.proxy.test", "chosen.proxy.test", "label.proxy.test"] {
        assert_eq!(get(&d, host, "/").await.status, 200, "{host}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_replicas_get_no_traffic_until_healthy() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope, Path::new(ENGINE_SOCKET)).await;
    let args = [
        &[
            "--network",
            net.name.as_str(),
            "-e",
            "VIRTUAL_HOST=health.proxy.test",
        ][..],
        HEALTHCHECK,
    ]
    .concat();
    let a = Container::run("hc-a", &scope, &args).await;
    let b = Container::run("hc-b", &scope, &args).await;
    let (pa, pb) = (a.page().await, b.page().await);
    // Neither is healthy yet (starting, then unhealthy): 503, and the log says why.
    wait_reply(&d, "health.proxy.test", "all unhealthy", is(503)).await;
    logs::wait_line(
        &["health.proxy.test", "no eligible backend", "excluded"],
        WAIT,
    )
    .await;

    a.set_healthy(true).await;
    wait_reply(&d, "health.proxy.test", "the healthy one", is(200)).await;
    assert_eq!(pages(&d, "health.proxy.test", 6).await, vec![pa.clone(); 6]);

    b.set_healthy(true).await;
    let deadline = Instant::now() + WAIT;
    while backends(&d, "health.proxy.test").len() < 2 {
        assert!(Instant::now() < deadline, "{}", status(&d).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = pages(&d, "health.proxy.test", 6).await;
    assert!(seen.contains(&pa) && seen.contains(&pb), "{seen:?}");

    a.set_healthy(false).await;
    let deadline = Instant::now() + WAIT;
    while backends(&d, "health.proxy.test").len() != 1 {
        assert!(Instant::now() < deadline, "{}", status(&d).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pages(&d, "health.proxy.test", 6).await, vec![pb; 6]);
    assert!(status(&d).await.contains("[unhealthy: no traffic]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_lost_and_restored_keeps_serving_and_catches_up() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut relay = Relay::start();
    let d = dockside(&scope, &relay.path).await;
    let env = [
        "--network",
        net.name.as_str(),
        "-e",
        "VIRTUAL_HOST=relay.proxy.test",
    ];
    let old = Container::run("old", &scope, &env).await;
    let r = wait_reply(&d, "relay.proxy.test", "served", is(200)).await;
    assert_eq!(r.body.trim(), old.page().await);

    relay.stop();
    let new = Container::run("new", &scope, &env).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The engine is away: the last snapshot is still served.
    assert_eq!(
        pages(&d, "relay.proxy.test", 3).await,
        vec![old.page().await; 3]
    );
    logs::wait_line(&["Docker engine unavailable", "keeping the last"], WAIT).await;
    old.stop().await;

    relay.resume();
    let pn = new.page().await;
    let r = wait_reply(&d, "relay.proxy.test", "the change made meanwhile", |r| {
        r.status == 200 && r.body.trim() == pn
    })
    .await;
    assert_eq!(r.body.trim(), pn);
    assert_eq!(
        backends(&d, "relay.proxy.test").len(),
        1,
        "{}",
        status(&d).await
    );
    // Events flow again after the reconnect.
    new.stop().await;
    wait_reply(&d, "relay.proxy.test", "503 after stop", is(503)).await;
}
