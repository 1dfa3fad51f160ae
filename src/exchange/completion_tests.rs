use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};

use super::*;
use crate::exchange::full;

/// Records every report it gets.
struct Probe(Arc<Mutex<Vec<u64>>>);

impl OnComplete for Probe {
    fn complete(self, sent: u64, _end: Instant) {
        self.0.lock().unwrap().push(sent);
    }
}

fn probe() -> (Probe, Arc<Mutex<Vec<u64>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    (Probe(seen.clone()), seen)
}

#[tokio::test]
async fn reports_the_bytes_sent_once_at_the_end() {
    let (done, seen) = probe();
    let chunks = ["abc", "defgh", ""].map(|c| Ok::<_, BoxError>(Frame::data(Bytes::from(c))));
    let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let body = on_complete(body, done);
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(bytes.len(), 8);
    assert_eq!(*seen.lock().unwrap(), vec![8]);
}

#[tokio::test]
async fn a_full_body_reports_after_its_only_frame() {
    let (done, seen) = probe();
    let mut body = on_complete(full("hello"), done);
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.data_ref().map(Bytes::len), Some(5));
    assert_eq!(*seen.lock().unwrap(), vec![5]);
    drop(body);
    assert_eq!(*seen.lock().unwrap(), vec![5], "reported once");
}

#[test]
fn a_dropped_body_reports_what_was_sent() {
    let (done, seen) = probe();
    drop(on_complete(full("never sent"), done));
    assert_eq!(*seen.lock().unwrap(), vec![0]);
}
