//! The routes-file provider through the whole proxy: edits apply without a restart while a
//! load runs, a broken edit keeps the last good routes, and `dockside check` explains entries.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::load::{Counts, Load};
use common::{Dockside, TestBackend, get};
use http::StatusCode;

fn write_routes(path: &Path, sites: &[(&str, std::net::SocketAddr)]) {
    let mut text = String::new();
    for (host, addr) in sites {
        text.push_str(&format!(
            "[[site]]\nVIRTUAL_HOST = \"{host}\"\nbackends = [\"{addr}\"]\n\n"
        ));
    }
    // Write-then-rename, as editors and config management do.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_edit_under_load_drops_nothing_and_is_live_within_a_second() {
    let stable = TestBackend::start("stable").await;
    let fresh = TestBackend::start("fresh").await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    write_routes(&routes, &[("stable.tld", stable.addr)]);
    let path = routes.clone();
    let d = Dockside::start(move |c| {
        c.routes = Some(path);
        c.access_log = dockside::config::AccessLog::Off;
    })
    .await;
    assert_eq!(
        get(&d, "stable.tld", "/").await.status,
        StatusCode::OK,
        "served from the file at start"
    );

    let load = Load::start(8, d.url("/"), "stable.tld");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Several edits that leave stable.tld alone, then the one adding new.tld.
    for i in 0..5 {
        let churn = format!("churn{i}.tld");
        write_routes(
            &routes,
            &[("stable.tld", stable.addr), (churn.as_str(), fresh.addr)],
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    write_routes(
        &routes,
        &[("stable.tld", stable.addr), ("new.tld", fresh.addr)],
    );
    let edited = Instant::now();
    loop {
        let reply = get(&d, "new.tld", "/").await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.backend(), "fresh");
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(1),
            "new route not live within 1 s of the edit"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let live_after = edited.elapsed();

    // A broken edit is reported and the last good routes keep serving.
    std::fs::write(&routes, "[[site]\nVIRTUAL_HOST = ").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(&d, "new.tld", "/").await.status,
        StatusCode::OK,
        "last good routes kept"
    );

    let Counts { ok, failed } = load.stop().await;
    eprintln!(
        "new route live after {live_after:?}; {ok} requests ok, {failed} failed on the untouched host"
    );
    assert!(ok > 100, "the load actually ran ({ok} requests)");
    assert_eq!(
        failed, 0,
        "requests to the untouched host failed during edits"
    );
}

#[test]
fn check_explains_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        r#"
[[site]]
VIRTUAL_HOST = "shop.example.com"
VIRTUAL_PROTO = "uwsgi"
backends = ["127.0.0.1:9009"]

[[site]]
VIRTUAL_HOST = "api.example.com"
VIRTUAL_PORT = "eighty"
backends = ["127.0.0.1:8000"]

[[site]]
VIRTUAL_HOST = "lost.example.com"
VIRTAUL_PATH = "/x/"
"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args(["check", "--docker-host", "off", "--routes"])
        .arg(&routes)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "shop.example.com",
        "127.0.0.1:9009",
        "uwsgi",
        "VIRTUAL_PORT=\"eighty\"",
        "lost.example.com",
        "no `backends`",
        "VIRTAUL_PATH",
    ] {
        assert!(
            text.contains(needle),
            "check output lacks {needle:?}:\n{text}"
        );
    }
}

#[test]
fn no_docker_and_no_routes_serves_the_example_and_says_so() {
    let port = common::pebble::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args([
            "--http",
            &format!("127.0.0.1:{port}"),
            "--https",
            "off",
            "--admin",
            "off",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("DOCKSIDE_ROUTES")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = None;
    while Instant::now() < deadline {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Host: localhost",
            ])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .expect("curl is needed: apt-get install curl");
        let code = String::from_utf8_lossy(&out.stdout).to_string();
        if code != "000" {
            answered = Some(code);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe_free_kill(&mut child);
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    // The example routes localhost to 127.0.0.1:8000, where nothing listens in the test: 502.
    assert_eq!(answered.as_deref(), Some("502"), "log:\n{log}");
    assert!(
        log.contains("serving the example routes file"),
        "log:\n{log}"
    );
    assert!(
        output.status.success(),
        "SIGTERM must drain and exit 0:\n{log}"
    );
}

/// SIGTERM through the `kill` command (no libc in tests).
fn unsafe_free_kill(child: &mut std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
