//! A small HTTP/3 load client (there is no h3load on Debian): N QUIC connections × M
//! concurrent request streams each, GET of one URL for a fixed time, then the request rate.
//! Used by `scripts/bench-h3.sh` beside h2load for h2; built with `cargo bench --bench h3load
//! --no-run` and run as a plain binary:
//!
//! `h3load ADDR SNI PATH CONNECTIONS STREAMS SECONDS CA_PEM`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

struct Args {
    addr: SocketAddr,
    sni: String,
    path: String,
    connections: usize,
    streams: usize,
    seconds: u64,
    ca: String,
}

fn args() -> Args {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 7 || a.iter().any(|s| s == "--bench") {
        eprintln!("usage: h3load ADDR SNI PATH CONNECTIONS STREAMS SECONDS CA_PEM");
        std::process::exit(if a.iter().any(|s| s == "--bench") {
            0
        } else {
            2
        });
    }
    Args {
        addr: a[0].parse().expect("ADDR"),
        sni: a[1].clone(),
        path: a[2].clone(),
        connections: a[3].parse().expect("CONNECTIONS"),
        streams: a[4].parse().expect("STREAMS"),
        seconds: a[5].parse().expect("SECONDS"),
        ca: a[6].clone(),
    }
}

fn client_config(ca: &str) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA_PEM") {
        roots.add(cert.expect("a PEM certificate")).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    quinn::ClientConfig::new(Arc::new(crypto))
}

struct Counters {
    done: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let config = client_config(&args.ca);
    let counters = Arc::new(Counters {
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let uri = format!("https://{}:{}{}", args.sni, args.addr.port(), args.path);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("endpoint");
        let conn = endpoint
            .connect_with(config.clone(), args.addr, &args.sni)
            .expect("connect")
            .await
            .expect("QUIC handshake");
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
            .await
            .expect("h3 connection");
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            drop(endpoint);
        });
        for _ in 0..args.streams {
            let (mut send, counters, uri) = (send.clone(), counters.clone(), uri.clone());
            tasks.push(tokio::spawn(async move {
                while !counters.stop.load(Ordering::Relaxed) {
                    match one(&mut send, &uri).await {
                        Ok(()) => counters.done.fetch_add(1, Ordering::Relaxed),
                        Err(()) => counters.errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    counters.stop.store(true, Ordering::Relaxed);
    let done = counters.done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "requests {done} seconds {elapsed:.2} req/s {:.0} errors {}",
        done as f64 / elapsed,
        counters.errors.load(Ordering::Relaxed)
    );
}

async fn one(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    uri: &str,
) -> Result<(), ()> {
    let req = http::Request::get(uri).body(()).map_err(drop)?;
    let mut stream = send.send_request(req).await.map_err(drop)?;
    stream.finish().await.map_err(drop)?;
    let resp = stream.recv_response().await.map_err(drop)?;
    while let Some(mut chunk) = stream.recv_data().await.map_err(drop)? {
        chunk.advance(chunk.remaining());
    }
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(())
    }
}
