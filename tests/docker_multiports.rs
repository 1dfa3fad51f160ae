//! `VIRTUAL_HOST_MULTIPORTS` against the real engine (nginx-proxy's test_multiports-merge and
//! test_multiports-invalid-syntax): one container answering on three ports for two hosts and
//! two paths, merged on `/` with a plain `VIRTUAL_HOST` container into one backend set; and an
//! invalid value that skips its container only, named by the warning and by `dockside check`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, get};
use dockside::routing::Action;
use http::StatusCode;

const WAIT: Duration = Duration::from_secs(15);

/// A container of the test image that serves three ports, each page naming its port:
/// `:80 /` → `multi-80`, `:8080 /` → `multi-8080`, `:9000 /v2/` → `multi-9000-v2`.
async fn multiports_container(
    scope: &Scope,
    net: &Network,
    value: &str,
    extra: &[&str],
) -> Container {
    ensure_image();
    let script = "B=/bin/busybox; $B mkdir -p /w80 /w8080 /w9000/v2; \
        echo multi-80 >/w80/index.html; echo multi-8080 >/w8080/index.html; \
        echo multi-9000-v2 >/w9000/v2/index.html; \
        $B httpd -p 80 -h /w80; $B httpd -p 8080 -h /w8080; \
        exec $B httpd -f -p 9000 -h /w9000";
    let label = format!("dockside-test-scope={}", scope.0);
    let mp = format!("VIRTUAL_HOST_MULTIPORTS={value}");
    let mut args = extra.to_vec();
    args.extend([
        "--label",
        &label,
        "--network",
        &net.name,
        "-e",
        &mp,
        // Ignored on a MULTIPORTS container (nginx-proxy §1.3).
        "-e",
        "VIRTUAL_HOST=ignored.multi.test",
        "-e",
        "VIRTUAL_PORT=9000",
        "--entrypoint",
        "/bin/busybox",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    common::image::run("multi", &args).await
}

async fn dockside_for(scope: &Scope) -> Dockside {
    let socket = PathBuf::from(ENGINE_SOCKET);
    Dockside::start(|c| c.docker = Some(scope.settings(&socket))).await
}

/// Waits until `host`'s location `path` has `n` backends in the route table.
async fn wait_backends(d: &Dockside, host: &str, path: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let table = d.running.routes();
        let count = table
            .default_hosts(false)
            .site(host)
            .and_then(|s| s.locations.iter().find(|l| l.raw_path == path))
            .map(|l| match &l.action {
                Action::Forward(up) => up.backends.len(),
                Action::Return(_) => 0,
            });
        if count == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{host}{path}: {count:?} backends, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GETs `host` `path` until every body in `want` has been seen (the backends' servers are up).
async fn wait_answers(d: &Dockside, host: &str, path: &str, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while !want.iter().all(|w| seen.iter().any(|s: &String| s == w)) {
        let r = get(d, host, path).await;
        if r.status == StatusCode::OK {
            seen.push(r.body.trim().to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "{host}{path}: saw {seen:?}, want {want:?}"
        );
    }
}

async fn merged_with_a_plain_container(value: &str) {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let multi = multiports_container(&scope, &net, value, &[]).await;
    let plain = Container::run(
        "plain",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=mp.test"],
    )
    .await;
    let plain_page = plain.page().await;
    let d = dockside_for(&scope).await;
    wait_backends(&d, "mp.test", "/", 2).await;
    wait_answers(&d, "mp.test", "/", &["multi-8080", &plain_page]).await;
    // One backend set: requests alternate between the MULTIPORTS port and the plain container.
    let mut counts = BTreeMap::new();
    let mut last = String::new();
    for _ in 0..8 {
        let r = get(&d, "mp.test", "/").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let body = r.body.trim().to_owned();
        assert_ne!(body, last, "round-robin alternates: {counts:?}");
        *counts.entry(body.clone()).or_insert(0) += 1;
        last = body;
    }
    assert_eq!(
        counts,
        BTreeMap::from([("multi-8080".to_owned(), 4), (plain_page, 4)])
    );
    // The second path: its own port and dest; the empty host: `/` on port 80.
    let r = get(&d, "mp.test", "/api/").await;
    assert_eq!(
        (r.status, r.body.trim()),
        (StatusCode::OK, "multi-9000-v2"),
        "{r:?}"
    );
    wait_answers(&d, "other.mp.test", "/", &["multi-80"]).await;
    // The container's own VIRTUAL_HOST is ignored.
    let r = get(&d, "ignored.multi.test", "/").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    drop(multi);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_multiports_container_merges_with_a_plain_one() {
    merged_with_a_plain_container(
        "mp.test:\n  /:\n    port: 8080\n  /api/:\n    port: 9000\n    dest: /v2/\nother.mp.test:\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_multiports_container_merges_with_a_plain_one() {
    merged_with_a_plain_container(
        r#"{"mp.test": {"/": {"port": 8080}, "/api/": {"port": "9000", "dest": "/v2/"}}, "other.mp.test": {}}"#,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_multiports_skips_its_container_and_every_other_site_works() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let dup = multiports_container(
        &scope,
        &net,
        "bad.mp.test:\n  /: {port: 8080}\nbad.mp.test:\n  /: {port: 9000}\n",
        &[],
    )
    .await;
    // A valid one beside it, with a load-balancing mode, for `dockside check`.
    let valid = multiports_container(
        &scope,
        &net,
        "valid.mp.test:\n  /: {port: 8080}\n",
        &[
            "--label",
            "com.github.nginx-proxy.nginx-proxy.loadbalance=least_conn;",
        ],
    )
    .await;
    let valid_ip = ip_on(&valid, &net).await;
    let good = Container::run(
        "good",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=good.mp.test"],
    )
    .await;
    let d = dockside_for(&scope).await;
    let mut states = d.running.subscribe();
    let state = tokio::time::timeout(
        WAIT,
        states.wait_for(|s| s.skipped.iter().any(|k| k.source == dup.name)),
    )
    .await
    .expect("the invalid container is reported")
    .expect("state channel")
    .clone();
    let warning = state.skipped.iter().find(|k| k.source == dup.name).unwrap();
    assert!(
        warning
            .reason
            .starts_with("skipped: VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON")
            && warning.reason.contains("duplicated key"),
        "{warning:?}"
    );
    wait_answers(&d, "good.mp.test", "/", &[&good.page().await]).await;
    wait_answers(&d, "valid.mp.test", "/", &["multi-8080"]).await;
    for host in ["bad.mp.test", "ignored.multi.test"] {
        let r = get(&d, host, "/").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{host}: {r:?}");
    }
    // `dockside check` names the container and what is wrong, and lists the good site.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .arg("check")
        .env("DOCKER_HOST", format!("unix://{ENGINE_SOCKET}"))
        .env("DOCKER_CONTAINER_FILTERS", scope.env_filters())
        .env_remove("DOCKSIDE_ROUTES")
        .env_remove("DEFAULT_HOST")
        .output()
        .expect("run dockside check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = format!(
        "{}: skipped: VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON",
        dup.name
    );
    assert!(text.contains(&line), "{line:?} not in:\n{text}");
    assert!(
        text.contains(&format!("good.mp.test  (from {})", good.name)),
        "{text}"
    );
    let site = format!(
        "valid.mp.test  (from {0})\n  HTTPS_METHOD=redirect HSTS=max-age=31536000\n  /  http  loadbalance: least_conn\n    {valid_ip}:8080  ({0})",
        valid.name
    );
    assert!(text.contains(&site), "{site:?} not in:\n{text}");
}
