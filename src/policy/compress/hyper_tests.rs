//! The streaming promise over a real HTTP/1.1 connection: hyper sends the compressed first chunk
//! while the backend body is still sleeping.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper_util::rt::TokioIo;

use super::{CompressFacts, compress};
use crate::exchange::{BoxError, ProxyBody};
use crate::policy::{Compression, Encoding};

/// A backend body: `first`, then a sleep far longer than the test, then more.
fn slow_backend(first: &'static [u8]) -> ProxyBody {
    let steps = futures_util::stream::unfold(0, move |step| async move {
        match step {
            0 => Some((Ok::<_, BoxError>(Frame::data(Bytes::from_static(first))), 1)),
            1 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Some((Ok(Frame::data(Bytes::from_static(b"late"))), 2))
            }
            _ => None,
        }
    });
    StreamBody::new(steps).boxed()
}

#[tokio::test]
async fn first_chunk_reaches_the_client_while_the_backend_sleeps() {
    const FIRST: &[u8] = b"<html><body>the first part of the page, already rendered</body>";
    let cfg = Compression {
        encodings: vec![Encoding::Gzip],
        types: vec![],
        min_length: 0,
        level: 1,
    };
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let service = hyper::service::service_fn(move |_req| {
        let cfg = cfg.clone();
        async move {
            let mut response = http::Response::new(slow_backend(FIRST));
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, "text/html".parse().unwrap());
            let facts = CompressFacts {
                head: false,
                encoding: Some(Encoding::Gzip),
            };
            Ok::<_, std::convert::Infallible>(compress(&cfg, facts, response))
        }
    });
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service),
    );
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::builder()
        .uri("/")
        .header("host", "a.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("no bytes while the backend sleeps")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    decoder.write_all(&first).unwrap();
    decoder.flush().unwrap();
    assert_eq!(decoder.get_ref(), FIRST);
}
