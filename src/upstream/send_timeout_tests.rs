use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};

use super::*;
use crate::exchange::full;

const LIMIT: Duration = Duration::from_secs(2);

/// Whether `stalled` resolves within `within` (paused clock: time only moves when idle).
async fn fires_within(progress: &Progress, within: Duration) -> bool {
    tokio::time::timeout(within, stalled(progress, LIMIT))
        .await
        .is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_stops_polling_is_stalled_after_the_limit() {
    let chunks = futures_util::stream::iter(
        (0..3).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"x")))),
    );
    let (mut body, progress) = watch(StreamBody::new(chunks).boxed());
    // Not polled yet (still connecting): no stall, however long.
    assert!(!fires_within(&progress, LIMIT * 3).await);
    // One frame taken, then the backend takes nothing more.
    body.frame().await.unwrap().unwrap();
    assert!(!fires_within(&progress, LIMIT / 2).await);
    assert!(fires_within(&progress, LIMIT * 2).await);
}

#[tokio::test(start_paused = true)]
async fn waiting_on_the_client_is_not_a_stall() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let (body, progress) = watch(StreamBody::new(stream).boxed());
    let mut body = Box::pin(body);
    // The backend polls; the client has nothing yet.
    let polled = futures_util::poll!(body.as_mut().frame());
    assert!(polled.is_pending());
    assert!(!fires_within(&progress, LIMIT * 5).await);
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn a_body_sent_whole_never_stalls() {
    let (mut body, progress) = watch(full("hello"));
    while body.frame().await.is_some() {}
    assert!(!fires_within(&progress, LIMIT * 5).await);
}

#[tokio::test]
async fn an_empty_body_is_sent_at_once_and_a_streamed_one_at_its_end() {
    let (_body, sent) = watch(crate::exchange::empty());
    sent.sent().await;

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    });
    let (mut body, sent) = watch(StreamBody::new(stream).boxed());
    tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
        .await
        .unwrap();
    assert!(body.frame().await.is_some());
    let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), sent.sent());
    assert!(waiting.await.is_err(), "not sent before the body ends");
    drop(tx);
    assert!(body.frame().await.is_none());
    sent.sent().await;

    let (mut body, sent) = watch(
        Full::new(Bytes::from_static(b"x"))
            .map_err(|e| match e {})
            .boxed(),
    );
    assert!(body.frame().await.is_some());
    sent.sent().await;
}
