//! The response body type over an in-memory pipe: framing by length, truncation, idle timer.
//! (The whole exchange is tested against real uWSGI in `tests/uwsgi.rs`.)

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncWriteExt, DuplexStream, duplex};

use super::*;

fn body(pending: &'static [u8], remaining: Option<u64>) -> (UwsgiBody, DuplexStream) {
    let (ours, theirs) = duplex(1024);
    let writer = KeepWriter::Task(AbortOnDrop(tokio::spawn(async {}).abort_handle()));
    let idle = Duration::from_secs(5);
    let pending = Bytes::from_static(pending);
    (
        UwsgiBody::new(Box::new(ours), pending, remaining, idle, writer),
        theirs,
    )
}

async fn next(b: &mut UwsgiBody) -> Option<Result<Bytes, String>> {
    let frame = b.frame().await?;
    Some(
        frame
            .map(|f| f.into_data().unwrap())
            .map_err(|e| e.to_string()),
    )
}

#[tokio::test]
async fn declared_length_caps_the_body_and_ends_it() {
    let (mut b, _backend) = body(b"abcdef", Some(3));
    assert_eq!(b.size_hint().exact(), Some(3));
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"abc"))));
    assert!(b.is_end_stream());
    assert_eq!(next(&mut b).await, None);
}

#[tokio::test]
async fn early_close_with_a_declared_length_is_an_error() {
    let (mut b, mut backend) = body(b"ab", Some(5));
    backend.write_all(b"c").await.unwrap();
    drop(backend);
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"ab"))));
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"c"))));
    let err = next(&mut b).await.unwrap().unwrap_err();
    assert!(err.contains("2 bytes before the declared end"), "{err}");
    assert_eq!(next(&mut b).await, None, "an error ends the body");
}

#[tokio::test]
async fn without_a_length_close_is_the_end() {
    let (mut b, mut backend) = body(b"", None);
    backend.write_all(b"xyz").await.unwrap();
    drop(backend);
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"xyz"))));
    assert_eq!(next(&mut b).await, None);
}

#[tokio::test(start_paused = true)]
async fn idle_backend_is_an_error_but_a_slow_client_is_not() {
    let (mut b, mut backend) = body(b"", None);
    backend.write_all(b"1").await.unwrap();
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"1"))));
    // The client stops reading for longer than the idle timeout: not the backend's fault.
    // When it reads again the backend needs another second: the timer starts now, not at the
    // last read.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        backend.write_all(b"2").await.unwrap();
        backend
    });
    assert_eq!(next(&mut b).await, Some(Ok(Bytes::from_static(b"2"))));
    let _backend = late.await.unwrap();
    // Now the backend goes quiet while the client waits.
    let started = tokio::time::Instant::now();
    let err = next(&mut b).await.unwrap().unwrap_err();
    assert!(err.contains("sent nothing for 5s"), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}
