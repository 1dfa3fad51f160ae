//! The `com.github.nginx-proxy.nginx-proxy.loadbalance` label against the real engine
//! (nginx-proxy's test_loadbalancing): three replicas with `hash $remote_addr;` keep each client
//! on one replica, while three replicas without the label are reached in turn. Clients are
//! loopback addresses 127.0.0.1–127.0.0.20 (all local on Linux), so several clients exist.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, TestBody, empty_body};
use dockside::routing::Action;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const WAIT: Duration = Duration::from_secs(15);

/// GET `/` for `host` from the local address `from`: the replica's page (its hostname).
async fn page_from(d: &Dockside, from: IpAddr, host: &str) -> String {
    let mut http = HttpConnector::new();
    http.set_local_address(Some(from));
    let client: Client<_, TestBody> = Client::builder(TokioExecutor::new()).build(http);
    let req = Request::get(d.url("/"))
        .header("host", host)
        .body(empty_body())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("answer within WAIT")
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::OK, "{host} from {from}");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body).trim().to_owned()
}

async fn replicas(scope: &Scope, net: &Network, host: &str, extra: &[&str]) -> Vec<Container> {
    let vhost = format!("VIRTUAL_HOST={host}");
    let mut args = vec!["--network", net.name.as_str(), "-e", vhost.as_str()];
    args.extend_from_slice(extra);
    let mut out = Vec::new();
    for i in 0..3 {
        out.push(Container::run(&format!("{host}-{i}"), scope, &args).await);
    }
    out
}

/// Waits until `host` has three backends and each replica's server accepts connections, so no
/// request meets a replica that is still starting.
async fn wait_ready(d: &Dockside, host: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let table = d.running.routes();
        let addrs: Vec<String> = match table
            .default_hosts(false)
            .site(host)
            .map(|s| &s.locations[0].action)
        {
            Some(Action::Forward(up)) => up.backends.iter().map(|b| b.addr.to_string()).collect(),
            _ => Vec::new(),
        };
        if addrs.len() == 3 {
            let mut up = 0;
            for a in &addrs {
                if tokio::net::TcpStream::connect(a).await.is_ok() {
                    up += 1;
                }
            }
            if up == 3 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{host}: backends {addrs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pages(containers: &[Container]) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for c in containers {
        all.insert(c.page().await);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_remote_addr_keeps_each_client_on_one_of_three_replicas() {
    let scope = Scope::new();
    let net = Network::create("net").await;
    let sticky = replicas(
        &scope,
        &net,
        "sticky.lb.test",
        &[
            "--label",
            "com.github.nginx-proxy.nginx-proxy.loadbalance=hash $remote_addr;",
        ],
    )
    .await;
    let plain = replicas(&scope, &net, "rr.lb.test", &[]).await;
    let socket = PathBuf::from(ENGINE_SOCKET);
    let d = Dockside::start(|c| c.docker = Some(scope.settings(&socket))).await;
    wait_ready(&d, "sticky.lb.test").await;
    wait_ready(&d, "rr.lb.test").await;
    let (sticky_pages, plain_pages) = (pages(&sticky).await, pages(&plain).await);

    // One client, 20 requests: one replica.
    let me = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut got = BTreeSet::new();
    for _ in 0..20 {
        got.insert(page_from(&d, me, "sticky.lb.test").await);
    }
    assert_eq!(got.len(), 1, "one client reached {got:?}");
    assert!(got.is_subset(&sticky_pages));
    // Without the label the same client reaches all three in turn.
    let mut rr = Vec::new();
    for _ in 0..6 {
        rr.push(page_from(&d, me, "rr.lb.test").await);
    }
    assert_eq!(rr.iter().cloned().collect::<BTreeSet<_>>(), plain_pages);
    assert_eq!(rr[..3], rr[3..], "round-robin order repeats");

    // 20 clients: each stays on its replica, and together they reach more than one (all on
    // one replica would happen with probability 3^-19).
    let mut by_client = BTreeMap::new();
    for last in 1..=20u8 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        let first = page_from(&d, from, "sticky.lb.test").await;
        for _ in 0..3 {
            assert_eq!(page_from(&d, from, "sticky.lb.test").await, first, "{from}");
        }
        by_client.insert(last, first);
    }
    let spread: BTreeSet<_> = by_client.values().cloned().collect();
    assert!(spread.len() >= 2, "{by_client:?}");
    assert!(spread.is_subset(&sticky_pages));
}
