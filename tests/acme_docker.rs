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

/// `ACME_RESTART_CONTAINER=true`: once its certificate is written, dockside restarts the
/// container through the engine (its `State.StartedAt` moves on); a container without the
/// setting, issued in the same run, is left running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_container_after_issuance() {
    ensure_image();
    let scope = Scope::new();
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.docker = Some(scope.settings(std::path::Path::new(ENGINE_SOCKET)));
    })
    .await;
    let start = |restart: bool| {
        let scope = &scope;
        async move {
            let host = format!("{}.test", unique("restart"));
            let (vhost, lehost) = (
                format!("VIRTUAL_HOST={host}"),
                format!("LETSENCRYPT_HOST={host}"),
            );
            let flag = format!("ACME_RESTART_CONTAINER={restart}");
            let args = [
                "-e",
                &vhost,
                "-e",
                &lehost,
                "-e",
                "VIRTUAL_PORT=80",
                "-e",
                &flag,
            ];
            let c = Container::create("acme-restart", scope, &args).await;
            c.start().await;
            let started = started_at(&c.name).await;
            (host, c, started)
        }
    };
    let (host, web, first) = start(true).await;
    let (other_host, other, other_first) = start(false).await;
    let deadline = Instant::now() + T;
    loop {
        let now = started_at(&web.name).await;
        if now != first {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} not restarted within {T:?} (StartedAt still {first}); ACME: {:?}",
            web.name,
            running.acme.as_ref().map(|s| s.snapshot())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(t.certs.path().join(&host).join("fullchain.pem").is_file());
    let other_cert = t.certs.path().join(&other_host).join("fullchain.pem");
    while !other_cert.is_file() {
        assert!(Instant::now() < deadline, "{other_host}: no certificate");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        started_at(&other.name).await,
        other_first,
        "no ACME_RESTART_CONTAINER: not restarted"
    );
    running.shutdown().await;
}

async fn started_at(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", name]).await
}
