//! The Docker socket is used read-only (issue 20, "Secrets and surfaces"): a whole dockside
//! (discovery, its own container lookup, health, routing) watching containers start, turn
//! healthy, stop and go, through a relay that notes every API call, sends only `GET`s — nothing
//! that could change the engine. Only `ACME_RESTART_CONTAINER` may ask more (a `POST …/restart`,
//! tested in tests/acme_files.rs).

mod common;

use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, get};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_the_engine_sends_only_reads() {
    let scope = Scope::new();
    let net = Network::create("ro").await;
    let relay = Relay::start();
    ensure_image();
    let d = Dockside::start(|c| c.docker = Some(scope.settings(&relay.path))).await;
    let env = [
        "--network",
        net.name.as_str(),
        "-e",
        "VIRTUAL_HOST=ro.docker.test",
    ];
    let mut args = env.to_vec();
    args.extend_from_slice(HEALTHCHECK);
    let c = Container::run("ro", &scope, &args).await;
    c.set_healthy(true).await;
    let deadline = Instant::now() + WAIT;
    while get(&d, "ro.docker.test", "/").await.status != 200 {
        assert!(Instant::now() < deadline, "the container was never routed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.stop().await;
    while get(&d, "ro.docker.test", "/").await.status == 200 {
        assert!(
            Instant::now() < deadline,
            "the stopped container stayed routed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let calls = relay.calls();
    assert!(
        calls.iter().any(|l| l.contains("/containers/json")),
        "the relay saw the calls: {calls:#?}"
    );
    assert!(calls.iter().any(|l| l.contains("/events")), "{calls:#?}");
    let writes: Vec<&String> = calls.iter().filter(|l| !l.starts_with("GET ")).collect();
    assert!(writes.is_empty(), "calls that are not reads: {writes:#?}");
}
