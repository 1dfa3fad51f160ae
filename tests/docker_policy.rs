//! Site policies on containers (issue 14), against the real engine: the settings come from the
//! backends' env and labels, and a client container on a network outside the internal ranges
//! (198.18.0.0/15, reserved for benchmarking) is refused by `NETWORK_ACCESS=internal` while
//! loopback is not. dockside runs in-process on the host, listening on `0.0.0.0`, so the
//! client reaches it through its network's gateway with its own address.

mod common;

use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, get};
use http::StatusCode;

const WAIT: Duration = Duration::from_secs(10);

/// What busybox `wget -S` in `client` got from dockside for `host`: the status line's code
/// (0 when there was no answer) and everything wget printed.
async fn wget(client: &Container, gateway: &str, port: u16, host: &str) -> (u16, String) {
    let url = format!("http://{gateway}:{port}/");
    let host = format!("Host: {host}");
    let out = tokio::process::Command::new("docker")
        .args(["exec", &client.name, "/bin/busybox", "wget", "-S"])
        .args(["-O-", "--header", &host, &url])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WAIT * 2, out)
        .await
        .expect("docker exec wget within 20 s")
        .expect("docker exec runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `-S` prints the response head as "  HTTP/1.1 403 Forbidden"; on errors wget also says
    // "server returned error: HTTP/1.1 403 Forbidden". (No `-T`: busybox 1.35's wget crashes
    // with it in the static build.)
    let code = text
        .lines()
        .filter_map(|l| l.split_once("HTTP/1.").map(|(_, rest)| rest))
        .filter_map(|rest| rest.get(2..))
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .next_back()
        .unwrap_or(0);
    (code, text)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_access_internal_refuses_a_client_outside_the_internal_ranges() {
    common::require_tool("docker", "docker.io");
    ensure_image();
    let scope = Scope::new();
    // A /24 of 198.18.0.0/15 picked by pid, so parallel runs do not ask for the same subnet.
    let third = std::process::id() % 256;
    let subnet = format!("198.18.{third}.0/24");
    let gateway = format!("198.18.{third}.1");
    let net = Network::create_with("outside", &["--subnet", &subnet, "--gateway", &gateway]).await;
    let on_net = ["--network", net.name.as_str()];
    let web = |host: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = on_net.iter().map(|s| s.to_string()).collect();
        args.extend(["-e".to_owned(), format!("VIRTUAL_HOST={host}")]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let internal_env = web("internal.test", &["-e", "NETWORK_ACCESS=internal"]);
    let internal_label = web("label.test", &["--label", "NETWORK_ACCESS=internal"]);
    let open = web("open.test", &[]);
    // A label wins over the environment.
    let label_wins = web(
        "label-wins.test",
        &[
            "-e",
            "NETWORK_ACCESS=internal",
            "--label",
            "NETWORK_ACCESS=external",
        ],
    );
    // IP_ALLOW adds to NETWORK_ACCESS=internal's list.
    let internal_plus = web(
        "internal-plus.test",
        &[
            "-e",
            "NETWORK_ACCESS=internal",
            "-e",
            &format!("IP_ALLOW={subnet}"),
        ],
    );
    let only_net = web("only-net.test", &["-e", &format!("IP_ALLOW={subnet}")]);
    let _w1 = Container::run("internal", &scope, &strs(&internal_env)).await;
    let _w2 = Container::run("label", &scope, &strs(&internal_label)).await;
    let w3 = Container::run("open", &scope, &strs(&open)).await;
    let _w4 = Container::run("only-net", &scope, &strs(&only_net)).await;
    let _w5 = Container::run("label-wins", &scope, &strs(&label_wins)).await;
    let _w7 = Container::run("internal-plus", &scope, &strs(&internal_plus)).await;
    // Basic auth from the env, response headers from a label (the two characters `\n`).
    let sha = common::policy::hash(common::policy::HashKind::Sha1, "door");
    let auth = web(
        "auth.test",
        &[
            "-e",
            &format!("BASIC_AUTH=keeper:{sha}"),
            "--label",
            "RESPONSE_HEADERS=X-From: label\\nX-Two: 2",
        ],
    );
    let w6 = Container::run("auth", &scope, &strs(&auth)).await;
    let client = Container::run("client", &scope, &on_net).await;
    let client_ip = ip_on(&client, &net).await;
    assert!(client_ip.starts_with("198.18."), "client at {client_ip}");

    let socket = std::path::PathBuf::from(ENGINE_SOCKET);
    let d = Dockside::start(|c| {
        c.http = "0.0.0.0:0".parse().unwrap();
        c.docker = Some(scope.settings(&socket));
        c.trust_downstream_proxy = false;
    })
    .await;
    // Discovery done: every site answers loopback (internal) clients — except the one that
    // allows the Docker subnet only.
    let deadline = Instant::now() + WAIT;
    for host in [
        "internal.test",
        "label.test",
        "open.test",
        "label-wins.test",
        "internal-plus.test",
    ] {
        loop {
            let r = get(&d, host, "/").await;
            if r.status == StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{host} not served from loopback: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let port = d.addr.port();
    let deadline = Instant::now() + WAIT;
    let r = loop {
        let r = get(&d, "auth.test", "/").await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(
        r.headers.get("www-authenticate").unwrap(),
        r#"Basic realm="Restricted auth.test""#
    );
    assert_eq!(r.headers.get("x-from").unwrap(), "label", "{r:?}");
    let r = common::policy::get_with(
        &d,
        "auth.test",
        "/",
        &[("authorization", &common::policy::basic("keeper", "door"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.trim(), w6.page().await);
    assert_eq!(r.headers.get("x-two").unwrap(), "2");
    let (code, text) = wget(&client, &gateway, port, "open.test").await;
    assert_eq!(code, 200, "open.test from {client_ip}:\n{text}");
    assert!(text.contains(&w3.page().await), "open.test page:\n{text}");
    for host in ["internal.test", "label.test"] {
        let (code, text) = wget(&client, &gateway, port, host).await;
        assert_eq!(
            code, 403,
            "{host} (NETWORK_ACCESS=internal) from {client_ip}:\n{text}"
        );
    }
    let (code, text) = wget(&client, &gateway, port, "label-wins.test").await;
    assert_eq!(
        code, 200,
        "label NETWORK_ACCESS=external over env internal:\n{text}"
    );
    let (code, text) = wget(&client, &gateway, port, "internal-plus.test").await;
    assert_eq!(
        code, 200,
        "NETWORK_ACCESS=internal + IP_ALLOW={subnet}:\n{text}"
    );
    // IP_ALLOW with the container subnet: the container in, loopback out.
    let (code, text) = wget(&client, &gateway, port, "only-net.test").await;
    assert_eq!(code, 200, "only-net.test from {client_ip}:\n{text}");
    let r = get(&d, "only-net.test", "/").await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "loopback is outside {subnet}"
    );
    // A forged X-Forwarded-For from the outside client does not make it internal.
    let url = format!("http://{gateway}:{port}/");
    let out = tokio::process::Command::new("docker")
        .args(["exec", &client.name, "/bin/busybox", "wget", "-S", "-O-"])
        .args(["--header", "Host: internal.test"])
        .args(["--header", "X-Forwarded-For: 10.0.0.1"])
        .arg(&url)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("403"),
        "a forged X-Forwarded-For got in:\n{text}"
    );
}
