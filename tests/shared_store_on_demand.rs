//! On-demand TLS (`ON_DEMAND_TLS`) with a shared store: two replicas receiving the first
//! handshake for a new name at the same moment place **one** order between them (the
//! certificate's lock, as for `LETSENCRYPT_HOST` certificates), the CA's HTTP-01 look reaches
//! one fixed replica whichever one ordered, and both serve the same certificate. Real etcd
//! cluster, real Pebble, the real binary.

mod common;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::etcd::EtcdCluster;
use common::pebble::{Options, Pebble};
use common::replica::{Replica, Shared};

/// An ask endpoint that allows every name: `http://127.0.0.1:<port>/check`.
async fn allow_all() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/check", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_handshakes_on_two_replicas_place_one_order() {
    let etcd = EtcdCluster::start(3);
    let options = Options {
        start_down: true,
        ..Options::default()
    };
    let mut pebble = Pebble::start(0, 0, options).await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        "[[site]]\nVIRTUAL_HOST = \"static.example.test\"\nbackends = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let (ask, _ask) = allow_all().await;
    let shared = Shared {
        store: etcd.url(),
        pebble: &pebble,
        routes: &routes,
        lock_ttl: 5,
        key_file: None,
    };
    let env = [
        ("ON_DEMAND_TLS", "true"),
        ("ON_DEMAND_TLS_ASK", ask.as_str()),
    ];
    let rs: Vec<Replica> = ["r1", "r2"]
        .iter()
        .map(|n| Replica::start_with(n, &shared, &env))
        .collect();
    // The CA always reaches r2: when r1 orders, r2 answers from the store.
    pebble.set_validation_ports(rs[1].http.port(), rs[1].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;

    let name = "od.example.test";
    let (a, b) = tokio::join!(rs[0].serial(name, &root), rs[1].serial(name, &root));
    let logs = || -> String {
        rs.iter()
            .map(|r| format!("--- {} ---\n{}", r.name, r.log()))
            .collect()
    };
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        other => panic!("{other:?}\n{}\n{}", pebble.log(), logs()),
    };
    assert_eq!(a, b, "both serve the one certificate\n{}", logs());
    assert_eq!(
        pebble.log().matches("Added order").count(),
        1,
        "one order for two first handshakes\n{}\n{}",
        pebble.log(),
        logs()
    );
    let ordered = rs
        .iter()
        .filter(|r| r.log().contains("ordering an on-demand certificate"))
        .count();
    assert_eq!(ordered, 1, "{}", logs());
}
