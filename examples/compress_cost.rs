//! What compressing one response costs dockside alone, without a network: a ~100 KiB JSON body
//! (as `scripts/bench-gzip.sh` serves) through `policy::compress` in each coding, timed on one
//! thread. Puts the proxy-level numbers of bench-gzip.sh in proportion (how much of the CPU per
//! request is the coder), and, built with the image's static flags, shows the coders link.
//!
//!   cargo run --release --example compress_cost [LEVEL] [ROUNDS]

use std::time::Instant;

use dockside::exchange::{ProxyBody, full};
use dockside::policy::{CompressFacts, Compression, Encoding, compress};
use http_body_util::BodyExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let level = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let body = json(100 * 1024);
    let cfg = Compression {
        encodings: vec![Encoding::Gzip, Encoding::Brotli, Encoding::Zstd],
        types: vec!["application/json".into()],
        min_length: 20,
        level,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    println!(
        "{} bytes of JSON, level {level}, {rounds} rounds",
        body.len()
    );
    for encoding in cfg.encodings.clone() {
        let facts = CompressFacts {
            head: false,
            encoding: Some(encoding),
        };
        let start = Instant::now();
        let mut out = 0;
        for _ in 0..rounds {
            let response = compress(&cfg, facts, response(body.clone()));
            out = rt
                .block_on(response.into_body().collect())
                .unwrap()
                .to_bytes()
                .len();
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "{:>4}: {us:8.1} µs per response, {out} bytes out",
            encoding.token()
        );
    }
}

fn response(body: bytes::Bytes) -> http::Response<ProxyBody> {
    http::Response::builder()
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap()
}

/// Records like bench-gzip.sh's (a fixed pseudo-random sequence), just over `n` bytes.
fn json(n: usize) -> bytes::Bytes {
    let mut s = String::from("[");
    let mut x: u64 = 14;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    for i in 1.. {
        if s.len() >= n {
            break;
        }
        s.push_str(&format!(
            "{}{{\"id\":{i},\"name\":\"user-{:06}\",\"email\":\"u{i}@example.com\",\"score\":{}.{:04},\"active\":{},\"tags\":[\"t{}\",\"t{}\"]}}",
            if i > 1 { "," } else { "" },
            next() % 1_000_000,
            next() % 100,
            next() % 10_000,
            next() % 2 == 0,
            next() % 50,
            next() % 50
        ));
    }
    s.push(']');
    s.into()
}
