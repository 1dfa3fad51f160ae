//! Tests for the watcher: a written pair is published after a requested rescan.

use super::*;

#[tokio::test]
async fn a_requested_rescan_publishes_a_written_pair() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let publish = move |map: Arc<CertMap>| drop(tx.send(map));
    let cancel = CancellationToken::new();
    let first = load_initial(dir.path());
    let rescan = spawn_watcher(dir.path().to_owned(), first, publish, cancel.clone());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["a.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (crt, key) = (cert.pem(), key.serialize_pem());
    crate::certs::write_pair(dir.path(), "a.test", crt.as_bytes(), key.as_bytes()).unwrap();
    rescan.now("a.test");
    let map = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("published")
        .unwrap();
    assert!(map.get("a.test").is_some_and(|c| c.covers("a.test")));
    cancel.cancel();
}
