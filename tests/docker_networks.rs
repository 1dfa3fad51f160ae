//! Backend addresses against the real engine (nginx-proxy §1.6.3): first shared network by
//! name, `docker network connect/disconnect`, the labelled network container, host-network
//! backends (loopback when standalone, else the first non-internal gateway), IPv6 (and with
//! PREFER_IPV6_NETWORK, a request through dockside that reaches the backend over IPv6).

mod common;

use std::path::Path;
use std::time::Duration;

use common::docker::*;
use common::{Dockside, get, logs};
use dockside::model::{Health, Reach};

const SOCKET: &str = ENGINE_SOCKET;
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_networks_give_one_item_on_the_first_by_name_and_disconnect_moves_it() {
    let scope = Scope::new();
    let net_b = Network::create("b").await; // names differ only after the counter: sort them
    let net_a = Network::create("a").await;
    let (first, second) = if net_a.name < net_b.name {
        (&net_a, &net_b)
    } else {
        (&net_b, &net_a)
    };
    let mut p = provider(&scope).await;
    let web = Container::create(
        "web",
        &scope,
        &["--network", &second.name, "-e", "VIRTUAL_HOST=x.test"],
    )
    .await;
    docker(&["network", "connect", &first.name, &web.name]).await;
    web.start().await;
    let ip_first = ip_on(&web, first).await;
    let items = p
        .wait_for("container on two networks", WAIT, has(&web.name))
        .await;
    assert_eq!(items.iter().filter(|i| i.name == web.name).count(), 1);
    let want = ip_first.clone();
    assert!(matches!(&item(&items, &web.name).unwrap().reach,
        Reach::Container { ip, .. } if ip.to_string() == want));
    // Disconnect the first network: the item moves to the second network's address.
    docker(&["network", "disconnect", &first.name, &web.name]).await;
    let ip_second = ip_on(&web, second).await;
    p.wait_for("address moves after disconnect", WAIT, |items| {
        item(items, &web.name).is_some_and(
            |i| matches!(&i.reach, Reach::Container { ip, .. } if ip.to_string() == ip_second),
        )
    })
    .await;
    // Disconnect the last one: still listed (running) but unreachable, with a reason.
    docker(&["network", "disconnect", &second.name, &web.name]).await;
    let items = p
        .wait_for("unreachable after last disconnect", WAIT, |items| {
            item(items, &web.name).is_some_and(|i| matches!(i.reach, Reach::Unreachable(_)))
        })
        .await;
    let Reach::Unreachable(why) = &item(&items, &web.name).unwrap().reach else {
        unreachable!()
    };
    assert!(why.contains(&web.name), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_container_label_decides_what_is_reachable() {
    let scope = Scope::new();
    let front = Network::create("front").await;
    let back = Network::create("back").await;
    let mut p = provider(&scope).await;
    let _proxy = Container::run(
        "proxy",
        &scope,
        &[
            "--network",
            &front.name,
            "--label",
            "com.github.nginx-proxy.nginx-proxy.nginx",
        ],
    )
    .await;
    let web = Container::run(
        "web",
        &scope,
        &["--network", &back.name, "-e", "VIRTUAL_HOST=w.test"],
    )
    .await;
    docker(&["network", "connect", &front.name, &web.name]).await;
    let ip_front = ip_on(&web, &front).await;
    p.wait_for("reached on the proxy's network", WAIT, |items| {
        item(items, &web.name).is_some_and(
            |i| matches!(&i.reach, Reach::Container { ip, .. } if ip.to_string() == ip_front),
        )
    })
    .await;
    docker(&["network", "disconnect", &front.name, &web.name]).await;
    let items = p
        .wait_for("unreachable once it shares no network", WAIT, |items| {
            item(items, &web.name).is_some_and(|i| matches!(i.reach, Reach::Unreachable(_)))
        })
        .await;
    let Reach::Unreachable(why) = &item(&items, &web.name).unwrap().reach else {
        unreachable!()
    };
    let fix = format!("docker network connect {} {}", front.name, web.name);
    assert!(why.contains(&fix), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_network_backend_is_reached_on_loopback_when_standalone() {
    let scope = Scope::new();
    let mut p = provider(&scope).await;
    let port = common::pebble::free_port();
    let port_env = format!("PORT={port}");
    let vport = format!("VIRTUAL_PORT={port}");
    let web = Container::run(
        "hostnet",
        &scope,
        &[
            "--network",
            "host",
            "-e",
            &port_env,
            "-e",
            "VIRTUAL_HOST=hn.test",
            "-e",
            &vport,
        ],
    )
    .await;
    let items = p
        .wait_for("host-network container", WAIT, has(&web.name))
        .await;
    let it = item(&items, &web.name).unwrap();
    assert_eq!(
        it.reach,
        Reach::Container {
            ip: "127.0.0.1".parse().unwrap(),
            exposed_ports: vec![],
            health: Health::None,
        }
    );
    assert_eq!(it.vars["VIRTUAL_PORT"], port.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_ipv6_network_picks_the_global_ipv6_address() {
    let scope = Scope::new();
    // A ULA subnet unique to this process, so parallel runs never overlap.
    let subnet = format!("fd00:d0c:{:x}::/64", std::process::id() & 0xffff);
    let net = Network::create_with("v6", &["--ipv6", "--subnet", &subnet]).await;
    let mut v4 = provider(&scope).await;
    let mut settings = scope.settings(Path::new(SOCKET));
    settings.prefer_ipv6 = true;
    let mut v6 = Provider::start(settings);
    let web = Container::run(
        "web",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=v6.test"],
    )
    .await;
    let is_v6 = |want: bool| {
        let name = web.name.clone();
        move |items: &[dockside::model::SourceItem]| {
            item(items, &name).is_some_and(
                |i| matches!(i.reach, Reach::Container { ip, .. } if ip.is_ipv6() == want),
            )
        }
    };
    v4.wait_for("IPv4 by default", WAIT, is_v6(false)).await;
    v6.wait_for("IPv6 with PREFER_IPV6_NETWORK", WAIT, is_v6(true))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_network_backend_goes_through_the_first_non_internal_gateway() {
    let scope = Scope::new();
    // Created first, so its name sorts first: the internal one must be skipped.
    let internal = Network::create_with("a-int", &["--internal"]).await;
    let outside = Network::create("b-out").await;
    assert!(internal.name < outside.name);
    let mut p = provider(&scope).await;
    let proxy = Container::run(
        "proxy",
        &scope,
        &[
            "--network",
            &internal.name,
            "--label",
            "dockside.network-container",
        ],
    )
    .await;
    docker(&["network", "connect", &outside.name, &proxy.name]).await;
    let port = common::pebble::free_port();
    let port_env = format!("PORT={port}");
    let _web = Container::run(
        "hostnet",
        &scope,
        &[
            "--network",
            "host",
            "-e",
            &port_env,
            "-e",
            "VIRTUAL_HOST=gw.test",
        ],
    )
    .await;
    let fmt = "{{range .IPAM.Config}}{{.Gateway}}{{end}}";
    let gateway = docker(&["network", "inspect", "-f", fmt, &outside.name]).await;
    p.wait_for(
        "host-network backend via the outside gateway",
        WAIT,
        |items| {
            items.iter().any(|i| {
                i.name.ends_with("-hostnet")
                    && matches!(i.reach, Reach::Container { ip, .. } if ip.to_string() == gateway)
            })
        },
    )
    .await;
}

/// PREFER_IPV6_NETWORK end to end (§1.6.3 step 5): dockside dials the container's
/// `GlobalIPv6Address` as `[addr]:port`; the page comes back and the access log's upstream is
/// that IPv6 address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_ipv6_network_reaches_the_backend_over_ipv6() {
    logs::capture();
    ensure_image();
    let scope = Scope::new();
    // Unique to this process, and apart from the subnet of the test above.
    let subnet = format!("fd00:beef:{:x}::/64", std::process::id() & 0xffff);
    let net = Network::create_with("v6e2e", &["--ipv6", "--subnet", &subnet]).await;
    let web = Container::run(
        "web6",
        &scope,
        &["--network", &net.name, "-e", "VIRTUAL_HOST=v6e2e.test"],
    )
    .await;
    let fmt = format!(
        "{{{{(index .NetworkSettings.Networks \"{}\").GlobalIPv6Address}}}}",
        net.name
    );
    let ipv6 = docker(&["inspect", "-f", &fmt, &web.name]).await;
    assert!(ipv6.starts_with("fd00:beef:"), "no IPv6 address: {ipv6:?}");
    let mut settings = scope.settings(Path::new(SOCKET));
    settings.prefer_ipv6 = true;
    let d = Dockside::start(|c| c.docker = Some(settings)).await;
    let upstream = format!("[{ipv6}]:80");
    let deadline = std::time::Instant::now() + WAIT;
    let reply = loop {
        let r = get(&d, "v6e2e.test", "/").await;
        if r.status == 200 || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The busybox page names the container (its hostname: the short id).
    let id = docker(&["inspect", "-f", "{{.Config.Hostname}}", &web.name]).await;
    assert_eq!(reply.body.trim(), id);
    logs::wait_line(&["v6e2e.test", &format!("\"{upstream}\"")], WAIT).await;
}
