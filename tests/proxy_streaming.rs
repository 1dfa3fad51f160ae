//! 1 GiB streamed through the proxy in each direction with bounded memory: the test process
//! holds client, proxy and backend, so its peak RSS bounds all three.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;
/// Peak RSS may grow by at most this much while 2 GiB stream through.
const MAX_GROWTH_KIB: u64 = 96 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_each_way_with_bounded_memory() {
    let d = Dockside::start(|c| c.access_log = dockside::config::AccessLog::Off).await;
    let b = TestBackend::start("stream").await;
    d.publish(vec![site("big.tld", &[b.addr])]).await;
    let before = peak_rss_kib();
    let started = Instant::now();

    // Download: the backend streams 1 GiB of zeros.
    let req = Request::get(d.url(&format!("/bytes/{GIB}")))
        .header("host", "big.tld")
        .body(empty_body())
        .unwrap();
    let resp = client().request(req).await.expect("download starts");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut got: u64 = 0;
    while let Some(frame) = tokio::time::timeout(WAIT, body.frame())
        .await
        .expect("frame within WAIT")
    {
        got += frame
            .expect("frame")
            .data_ref()
            .map_or(0, |d| d.len() as u64);
    }
    assert_eq!(got, GIB);
    let download = started.elapsed();

    // Upload: 1 GiB chunked, counted by the backend.
    let chunk = Bytes::from(vec![7u8; CHUNK]);
    let frames =
        (0..GIB / CHUNK as u64).map(move |_| Ok::<_, std::io::Error>(Frame::data(chunk.clone())));
    let body = StreamBody::new(futures_util::stream::iter(frames))
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        .boxed();
    let req = Request::post(d.url("/upload"))
        .header("host", "big.tld")
        .body(body)
        .unwrap();
    let resp = client().request(req).await.expect("upload answered");
    assert_eq!(resp.status(), StatusCode::OK);
    let echo = resp.into_body().collect().await.unwrap().to_bytes();
    let echo: serde_json::Value = serde_json::from_slice(&echo).unwrap();
    assert_eq!(echo["received"].as_u64(), Some(GIB));

    let growth = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "1 GiB down in {download:?}, up in {:?}; peak RSS grew {growth} KiB",
        started.elapsed() - download
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "peak RSS grew {growth} KiB: something buffers bodies"
    );
}
