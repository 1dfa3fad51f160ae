//! `wait_visible`'s bound and `DNS_SLEEP`, on paused time, with a provider whose records reach
//! every server after a number of looks (the real server is driven in tests/acme_dns01.rs).

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

struct Appears {
    after_looks: u32,
    looks: AtomicU32,
}

impl DnsProvider for Appears {
    fn add_txt<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async { Ok(()) })
    }
    fn remove_txt<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async { Ok(()) })
    }
    fn propagation<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Propagation, DnsError>> {
        let n = self.looks.fetch_add(1, Ordering::Relaxed) + 1;
        let lagging = if n > self.after_looks {
            Vec::new()
        } else {
            vec![
                "ns2.example.test (192.0.2.2:53)".into(),
                "ns3.example.test (192.0.2.3:53)".into(),
            ]
        };
        Box::pin(async move {
            Ok(Propagation {
                zone: "example.test".into(),
                lagging,
            })
        })
    }
}

fn records() -> Vec<(String, String)> {
    vec![(challenge_owner("*.example.test"), "v".into())]
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_the_bound_naming_the_zone_and_lagging_servers() {
    let p = Appears {
        after_looks: u32::MAX,
        looks: AtomicU32::new(0),
    };
    let started = tokio::time::Instant::now();
    let max = Duration::from_secs(120);
    let e = wait_visible(&p, &records(), max, None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "TXT _acme-challenge.example.test of zone example.test not answered by \
         ns2.example.test (192.0.2.2:53), ns3.example.test (192.0.2.3:53) after 120s \
         (the CA was not asked to validate)"
    );
    let waited = started.elapsed();
    assert!(
        waited <= max && waited > max - Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn returns_once_seen_then_waits_dns_sleep() {
    let p = Appears {
        after_looks: 3,
        looks: AtomicU32::new(0),
    };
    let started = tokio::time::Instant::now();
    let extra = Some(Duration::from_secs(30));
    wait_visible(&p, &records(), Duration::from_secs(120), extra)
        .await
        .unwrap();
    // Three flat 50 ms pauses of polling, then DNS_SLEEP.
    assert_eq!(started.elapsed(), Duration::from_millis(30_150));
    assert_eq!(p.looks.load(Ordering::Relaxed), 4);
}

#[tokio::test(start_paused = true)]
async fn a_late_record_is_seen_within_one_poll_of_appearing() {
    // The record appears after 2 s of looks: seen 2 s in, not at the next step of a backoff.
    let p = Appears {
        after_looks: 40,
        looks: AtomicU32::new(0),
    };
    let started = tokio::time::Instant::now();
    wait_visible(&p, &records(), Duration::from_secs(120), None)
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}
