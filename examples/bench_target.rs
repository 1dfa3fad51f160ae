//! Benchmark target: dockside's real `app::start` serving one site, configured from the command
//! line so `scripts/bench.sh` can run before a routes file provider exists in a build.
//! `cargo run --release --example bench_target -- LISTEN HOST BACKEND`
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use dockside::config::AccessLog;
use dockside::model::{Backend, BackendAddr, DesiredState, Health, Location, Proto, Site};

/// mimalloc: hyper allocates and frees a read buffer per message; glibc's malloc spends ~10 %
/// of a proxied request there (perf), and musl's (static builds) is slower still.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut rt = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    rt.enable_all().build()?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, host, backend] = args.as_slice() else {
        anyhow::bail!(
            "usage: bench_target LISTEN HOST BACKEND (e.g. 127.0.0.1:18083 bench.local 127.0.0.1:18081)"
        );
    };
    let mut config = dockside::test_support::config(std::env::temp_dir());
    config.http = listen.parse()?;
    config.access_log = AccessLog::Off;
    let backend: SocketAddr = backend.parse()?;
    let running = dockside::app::start(config).await?;
    running.publish(DesiredState {
        sites: vec![std::sync::Arc::new(Site {
            host: host.clone(),
            locations: vec![Location {
                path: "/".into(),
                proto: Proto::Http,
                keepalive: true,
                backends: vec![Backend {
                    addr: BackendAddr::Tcp(backend),
                    source: "bench".into(),
                    health: Health::None,
                }],
                ..Default::default()
            }],
            ..Default::default()
        })],
        ..Default::default()
    });
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
