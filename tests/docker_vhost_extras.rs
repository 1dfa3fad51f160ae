//! nginx-proxy's per-vhost extras on real containers, through the proxy: `EXTERNAL_HTTP_PORT`
//! from a container's environment, the debug-endpoint label, and a container that shares no
//! network with dockside answering 502 (nginx-proxy's `server 127.0.0.1 down;`) until it is
//! connected again.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::*;
use common::pebble::free_port;
use common::{Dockside, Reply, get, logs};

/// dockside watching the engine, seeing only `scope`'s containers.
async fn dockside(scope: &Scope) -> Dockside {
    logs::capture();
    ensure_image();
    Dockside::start(|c| c.docker = Some(scope.settings(Path::new(ENGINE_SOCKET)))).await
}

/// Polls `probe` until it gives `want`; panics with the last value after `common::WAIT`.
async fn until<F, Fut>(what: &str, want: u16, probe: F) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = Instant::now() + common::WAIT;
    loop {
        let r = probe().await;
        if r.status.as_u16() == want {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last {} {:?}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// GET `path` with `Host: host` on `127.0.0.1:port`.
async fn get_port(port: u16, host: &str, path: &str) -> Reply {
    let req = http::Request::get(format!("http://127.0.0.1:{port}{path}")).header("host", host);
    let req = req.body(common::empty_body()).unwrap();
    match tokio::time::timeout(common::WAIT, common::client().request(req)).await {
        Ok(Ok(resp)) => {
            let (parts, body) = resp.into_parts();
            let body = http_body_util::BodyExt::collect(body)
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        }
        // Not listening (yet): a status no answer has.
        _ => Reply {
            status: http::StatusCode::from_u16(599).unwrap(),
            headers: Default::default(),
            body: String::new(),
        },
    }
}

/// How many backends the live route table has for `host`'s `/` (`None`: no such site).
fn backends(d: &Dockside, host: &str) -> Option<usize> {
    let table = d.running.routes();
    let site = table.sites().find(|s| s.host == host)?;
    match &site.location("/")?.action {
        dockside::routing::Action::Forward(up) => Some(up.backends.len() + up.excluded.len()),
        dockside::routing::Action::Return(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_with_external_http_port_is_served_there_only() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope).await;
    let port = free_port();
    let env = format!("EXTERNAL_HTTP_PORT={port}");
    let web = Container::run(
        "ext",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            "VIRTUAL_HOST=ext.docker.test",
            "-e",
            &env,
        ],
    )
    .await;
    let r = until("served on its port", 200, || {
        get_port(port, "ext.docker.test", "/")
    })
    .await;
    assert_eq!(r.body.trim(), web.page().await);
    assert_eq!(get(&d, "ext.docker.test", "/").await.status, 503);
    web.stop().await;
    // No site wants the port any more: it is closed.
    let deadline = Instant::now() + common::WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "port {port} still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_endpoint_label_on_a_container() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope).await;
    let label = "com.github.nginx-proxy.nginx-proxy.debug-endpoint=true";
    let web = Container::run(
        "dbg",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            "VIRTUAL_HOST=dbg.docker.test",
            "--label",
            label,
        ],
    )
    .await;
    let url = format!("http://{}/nginx-proxy-debug", d.addr);
    let deadline = Instant::now() + common::WAIT;
    let v = loop {
        let out = common::curl(&["-H", "Host: dbg.docker.test", &url]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            break v;
        }
        assert!(Instant::now() < deadline, "{:?}", out);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(v["vhost"]["hostname"], "dbg.docker.test");
    assert_eq!(v["vhost"]["enable_debug_endpoint"], true);
    assert_eq!(v["global"]["enable_debug_endpoint"], "false");
    assert_eq!(v["vhost"]["paths"]["/"]["ports"]["80"][0]["Name"], web.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_container_answers_502_until_reconnected() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let d = dockside(&scope).await;
    let web = Container::run(
        "lost",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            "VIRTUAL_HOST=lost.docker.test",
        ],
    )
    .await;
    until("served", 200, || get(&d, "lost.docker.test", "/")).await;
    docker(&["network", "disconnect", &net.name, &web.name]).await;
    // Wait for discovery to drop the address (a request to the old one could also give 502).
    let deadline = Instant::now() + common::WAIT;
    while backends(&d, "lost.docker.test") != Some(0) {
        assert!(Instant::now() < deadline, "still routed to the old address");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = get(&d, "lost.docker.test", "/").await;
    assert_eq!(r.status, 502, "{}", r.body);
    // An unknown host stays 503.
    assert_eq!(get(&d, "unknown.docker.test", "/").await.status, 503);
    docker(&["network", "connect", &net.name, &web.name]).await;
    until("served again once connected", 200, || {
        get(&d, "lost.docker.test", "/")
    })
    .await;
}
