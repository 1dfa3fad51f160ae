//! The Docker provider's connection to the engine: lost and restored through a relay the
//! test owns, renewed when quiet, cancelled, and a clear error when there is no socket.

mod common;

use std::path::Path;
use std::time::Duration;

use common::docker::*;

const SOCKET: &str = ENGINE_SOCKET;
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_lost_and_restored_keeps_items_and_catches_up() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let mut relay = Relay::start();
    ensure_image();
    let mut p = Provider::start(scope.settings(&relay.path));
    let env = ["--network", net.name.as_str(), "-e", "VIRTUAL_HOST=r.test"];
    let old = Container::run("old", &scope, &env).await;
    p.wait_for("first container", WAIT, has(&old.name)).await;
    let synced = p
        .wait_status("connected and listed", WAIT, |d| {
            d.connected && d.containers == 1
        })
        .await;
    assert_eq!(synced.reconnects, 0, "{synced:?}");

    relay.stop();
    let new = Container::run("new", &scope, &env).await;
    old.stop().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let kept = p.items();
    assert!(
        item(&kept, &old.name).is_some(),
        "items kept while the engine is away: {kept:?}"
    );
    assert!(item(&kept, &new.name).is_none());
    // What the dashboard shows meanwhile: disconnected, and why.
    let away = p
        .wait_status("the lost engine is reported", WAIT, |d| !d.connected)
        .await;
    assert!(
        away.reconnects >= 1 && away.last_error.is_some(),
        "{away:?}"
    );

    relay.resume();
    p.wait_for("changes made while away are picked up", WAIT, |i| {
        has(&new.name)(i) && lacks(&old.name)(i)
    })
    .await;
    // Events flow again after the reconnect.
    docker(&["rename", &new.name, &format!("{}-renamed", new.name)]).await;
    let renamed = Container {
        name: format!("{}-renamed", new.name),
    };
    p.wait_for("rename after reconnect", WAIT, has(&renamed.name))
        .await;
    let back = p
        .wait_status("connected again, events counted", WAIT, |d| {
            d.connected && d.events_seen >= 1
        })
        .await;
    assert!(
        back.last_error.is_some(),
        "the last error stays visible: {back:?}"
    );
    std::mem::forget(new); // renamed: `renamed` removes it
}

#[tokio::test]
async fn a_missing_socket_is_a_clear_error() {
    let settings =
        dockside::discovery::DockerSettings::with_host("unix:///nonexistent/docker.sock");
    let err = dockside::discovery::probe(&settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/docker.sock"), "{err}");
    assert!(
        err.contains("-v /var/run/docker.sock:/var/run/docker.sock:ro"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_provider_even_while_the_engine_is_away() {
    let scope = Scope::new();
    let p = provider(&scope).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        p.stop(Duration::from_secs(1)).await,
        "watching provider did not stop"
    );
    let mut relay = Relay::start();
    relay.stop();
    let p = Provider::start(scope.settings(&relay.path));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        p.stop(Duration::from_secs(1)).await,
        "reconnecting provider did not stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_is_renewed_without_losing_changes() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    ensure_image();
    let mut settings = scope.settings(Path::new(SOCKET));
    settings.resubscribe_after = Duration::from_millis(150);
    let mut p = Provider::start(settings);
    // Several renewals happen while nothing changes...
    tokio::time::sleep(Duration::from_millis(600)).await;
    let web = Container::run(
        "web",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=q.test"],
    )
    .await;
    p.wait_for("published after renewals", WAIT, has(&web.name))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    web.stop().await;
    p.wait_for("stop seen after more renewals", WAIT, lacks(&web.name))
        .await;
}
