//! `least_conn` through the real forwarding path: a response whose body the client has not read
//! yet keeps its backend busy (also across a route-table rebuild for another site), so new
//! requests go to the idle one; once the client lets go, the count drops and the backends take
//! turns again.

mod common;

use std::time::{Duration, Instant};

use common::{Dockside, TestBackend, WAIT, client, empty_body, get, location};
use dockside::model::{Balance, Site};
use dockside::routing::Action;
use http::Request;

/// The in-flight counts of `host`'s `/` location.
fn in_flight(d: &Dockside, host: &str) -> Option<Vec<usize>> {
    let table = d.running.routes();
    match &table.default_hosts(false).site(host)?.locations[0].action {
        Action::Forward(up) => up.in_flight(),
        Action::Return(_) => None,
    }
}

async fn wait_counts(d: &Dockside, host: &str, want: &[Vec<usize>]) -> Vec<usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = in_flight(d, host).unwrap_or_default();
        if want.contains(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "in flight {now:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_conn_sends_new_requests_to_the_backend_without_a_response_in_flight() {
    let (a, b) = (TestBackend::start("a").await, TestBackend::start("b").await);
    let d = Dockside::start(|_| {}).await;
    let mut loc = location("/", "", &[a.addr, b.addr]);
    loc.balance = Balance::LeastConn;
    let lc = Site {
        host: "lc.test".into(),
        locations: vec![loc],
        ..Default::default()
    };
    d.publish(vec![lc.clone()]).await;
    assert_eq!(in_flight(&d, "lc.test"), Some(vec![0, 0]));

    // A large download whose body the client does not read: its backend stays busy.
    let req = Request::get(d.url("/bytes/1073741824"))
        .header("host", "lc.test")
        .body(empty_body())
        .unwrap();
    let held = tokio::time::timeout(WAIT, client().request(req))
        .await
        .expect("head within WAIT")
        .expect("head");
    let busy = wait_counts(&d, "lc.test", &[vec![1, 0], vec![0, 1]]).await;
    let idle = if busy[0] == 0 { &a.name } else { &b.name };
    // A rebuild for another site's sake keeps counting the response still running.
    d.publish(vec![lc, common::site("other.test", &[a.addr])])
        .await;
    assert_eq!(in_flight(&d, "lc.test"), Some(busy.clone()));
    for _ in 0..6 {
        let r = get(&d, "lc.test", "/").await;
        assert_eq!(&r.backend(), idle, "least_conn picks the idle backend");
    }
    // The client lets go: the count drops, and ties go in turn.
    drop(held);
    wait_counts(&d, "lc.test", &[vec![0, 0]]).await;
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..4 {
        seen.push(get(&d, "lc.test", "/").await.backend());
    }
    seen.sort();
    assert_eq!(seen, ["a", "a", "b", "b"]);
}
