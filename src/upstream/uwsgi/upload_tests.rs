use super::*;
use http_body_util::StreamBody;

/// A chunked-like body (no declared length) of `chunks`.
fn body(chunks: &[&'static [u8]]) -> ProxyBody {
    let frames: Vec<Result<_, crate::exchange::BoxError>> = chunks
        .iter()
        .map(|c| Ok(http_body::Frame::data(Bytes::from_static(c))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

fn bounds<'a>(
    limit: Option<u64>,
    memory: usize,
    budget: &'a Arc<Semaphore>,
    dir: &'a Path,
) -> Spool<'a> {
    Spool {
        limit,
        memory,
        budget,
        dir,
        idle: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Arc::new(Semaphore::new(1 << 20));
    let b = bounds(Some(8), 1024, &budget, dir.path());
    let got = spool(body(&[b"12345", b"6789"]), b).await;
    assert!(matches!(got, Err(ProxyError::BodyTooLarge { limit: 8 })));
    let b = bounds(Some(9), 1024, &budget, dir.path());
    let got = spool(body(&[b"12345", b"6789"]), b).await.unwrap();
    assert!(matches!(got, Upload::Memory { length: 9, .. }));
}

#[tokio::test]
async fn a_body_past_its_memory_share_spills_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Arc::new(Semaphore::new(1 << 20));
    let b = bounds(None, 6, &budget, dir.path());
    let got = spool(body(&[b"12345", b"6789"]), b).await.unwrap();
    assert!(matches!(got, Upload::File { length: 9, .. }));
    assert_eq!(
        budget.available_permits(),
        1 << 20,
        "file bodies hold no memory budget"
    );
}

#[tokio::test]
async fn the_process_budget_bounds_memory_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Arc::new(Semaphore::new(10));
    let first = spool(
        body(&[b"12345678"]),
        bounds(None, 1024, &budget, dir.path()),
    )
    .await
    .unwrap();
    assert!(matches!(first, Upload::Memory { length: 8, .. }));
    assert_eq!(budget.available_permits(), 2);
    // Only 2 bytes of budget left: the next body goes to its file instead of growing memory.
    let second = spool(
        body(&[b"1234", b"5678"]),
        bounds(None, 1024, &budget, dir.path()),
    )
    .await
    .unwrap();
    assert!(matches!(second, Upload::File { length: 8, .. }));
    assert_eq!(budget.available_permits(), 2);
    drop(first);
    assert_eq!(budget.available_permits(), 10);
}
