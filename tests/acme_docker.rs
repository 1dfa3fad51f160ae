//! The Docker path end to end: a container started with `VIRTUAL_HOST` + `LETSENCRYPT_HOST` on
//! the real engine is discovered by dockside, gets a Pebble certificate through dockside's own
//! HTTP listener, and is served over HTTPS with a chain that verifies against Pebble's root.
//! dockside sees only this test's containers (a unique label filter in `Config.docker`).

mod common;

use std::time::{Duration, Instant};

use common::acme::ThroughDockside;
use common::docker::{Container, ENGINE_SOCKET, Scope, docker, ensure_image, unique};
use common::pebble::Options;
use common::responders::https_get;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_with_letsencrypt_host_is_served_over_https() {
    ensure_image();
    let scope = Scope::new();
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.docker = Some(scope.settings(std::path::Path::new(ENGINE_SOCKET)));
    })
    .await;
    // Unique `.test` names: challtestsrv resolves every name to 127.0.0.1 (dockside's listeners).
    let host = format!("{}.test", unique("acme"));
    let (vhost, lehost) = (
        format!("VIRTUAL_HOST={host}"),
        format!("LETSENCRYPT_HOST={host}"),
    );
    let web = Container::create(
        "acme-web",
        &scope,
        &["-e", &vhost, "-e", &lehost, "-e", "VIRTUAL_PORT=80"],
    )
    .await;
    let started = Instant::now();
    web.start().await;
    let hostname = docker(&["inspect", "-f", "{{.Config.Hostname}}", &web.name]).await;
    let deadline = Instant::now() + T;
    let reply = loop {
        match https_get(t.https, &host, "/", &t.root).await {
            Ok(reply) if reply.status == 200 => break reply,
            last => assert!(
                Instant::now() < deadline,
                "{host}: no verified HTTPS 200 within {T:?}: {last:?}; ACME: {:?}",
                running.acme.as_ref().map(|s| s.snapshot())
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(reply.body.trim(), hostname, "the container answered");
    eprintln!("docker start → verified HTTPS 200: {:?}", started.elapsed());
    let base = t.certs.path().join(&host);
    assert!(base.join("fullchain.pem").is_file() && base.join("key.pem").is_file());
    // The container goes away: its certificate link is removed, the folder is kept.
    drop(web);
    let link = t.certs.path().join(format!("{host}.crt"));
    let deadline = Instant::now() + T;
    while std::fs::symlink_metadata(&link).is_ok() {
        assert!(Instant::now() < deadline, "{link:?} still linked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(base.join("fullchain.pem").is_file(), "folders are kept");
    running.shutdown().await;
}
