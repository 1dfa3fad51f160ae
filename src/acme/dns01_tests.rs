//! `DnsRecords`: no challenge record is left in the zone when an update's answer is lost or the
//! order is cancelled mid-removal. A provider that keeps the zone in memory stands in for the
//! server here; tests/acme_dns01.rs drives a real one.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;

use super::*;

/// A zone in memory: `add_txt` can apply the record and still fail (the answer lost), and the
/// first `remove_txt` can hang (the order cancelled while it waits).
#[derive(Default)]
struct Zone {
    txt: Mutex<BTreeSet<(String, String)>>,
    fail_after_adding: Option<&'static str>,
    hang_first_removal: AtomicBool,
}

impl Zone {
    fn records(&self) -> BTreeSet<(String, String)> {
        self.txt.lock().unwrap().clone()
    }
}

impl DnsProvider for Zone {
    fn add_txt<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            self.txt
                .lock()
                .unwrap()
                .insert((owner.into(), value.into()));
            if self.fail_after_adding == Some(value) {
                return Err(DnsError::Timeout {
                    server: "ns:53".into(),
                    after: Duration::from_secs(10),
                });
            }
            Ok(())
        })
    }
    fn remove_txt<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            if self.hang_first_removal.swap(false, Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
            self.txt
                .lock()
                .unwrap()
                .remove(&(owner.into(), value.into()));
            Ok(())
        })
    }
    fn propagation<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<dns::Propagation, DnsError>> {
        Box::pin(async {
            Ok(dns::Propagation {
                zone: "example.test".into(),
                lagging: Vec::new(),
            })
        })
    }
}

fn wanted() -> Vec<(String, String)> {
    ["a", "b", "c"]
        .into_iter()
        .map(|v| ("_acme-challenge.example.test".to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn a_record_whose_update_answer_was_lost_is_removed_too() {
    let zone = Arc::new(Zone {
        fail_after_adding: Some("b"),
        ..Zone::default()
    });
    let provider: Arc<dyn DnsProvider> = zone.clone();
    let mut published = DnsRecords::default();
    let e = published
        .publish(&provider, wanted(), "ns")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Timeout { .. }), "{e}");
    assert_eq!(
        zone.records().len(),
        2,
        "a and b were applied by the server"
    );
    published.remove_all().await;
    assert_eq!(zone.records(), BTreeSet::new());
}

#[tokio::test(start_paused = true)]
async fn a_removal_cancelled_midway_is_finished_on_drop() {
    let zone = Arc::new(Zone::default());
    let provider: Arc<dyn DnsProvider> = zone.clone();
    let mut published = DnsRecords::default();
    published.publish(&provider, wanted(), "ns").await.unwrap();
    zone.hang_first_removal.store(true, Ordering::Relaxed);
    // The order is cancelled while the first removal waits for the server.
    let cancelled = tokio::time::timeout(Duration::from_secs(1), published.remove_all()).await;
    assert!(cancelled.is_err());
    assert_eq!(zone.records().len(), 3);
    drop(published);
    for _ in 0..100 {
        if zone.records().is_empty() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("left in the zone: {:?}", zone.records());
}
