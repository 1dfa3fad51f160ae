//! The shared store with one etcd member (a follower) of three down: the cluster still has its quorum, so
//! every store call a replica makes must still succeed (the client tries another member
//! instead of failing the call), and the store must stay "reachable". Before the fix, about one
//! call in three went to the dead member and failed with "tcp connect error": an order whose
//! challenge answer hit it was abandoned at the CA, and `/status` flapped.

mod common;

use std::time::Duration;

use common::etcd::EtcdCluster;
use dockside::store::{Acquire, SharedStore, StoreSettings};

fn settings(cluster: &EtcdCluster) -> StoreSettings {
    StoreSettings {
        endpoints: cluster
            .endpoints()
            .split(',')
            .map(|e| format!("http://{e}"))
            .collect(),
        prefix: "/dockside-members/".into(),
        tls: None,
        user: None,
        encryption_key_file: None,
        lock_ttl: Duration::from_secs(5),
        replica: "r1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_down_fails_no_store_call() {
    let mut etcd = EtcdCluster::start(3);
    let store = SharedStore::new(&settings(&etcd)).unwrap();
    // Connected to all three first, as a replica that ran before the member went away.
    for i in 0..6 {
        store
            .publish_account(&format!("warm-{i}.json"), b"{}")
            .await
            .unwrap();
    }
    // A follower: killing the leader stalls writes until etcd elects another (docs/shared-store.md).
    etcd.stop_member((etcd.leader() + 1) % 3);
    let mut failures = Vec::new();
    for i in 0..40 {
        let base = format!("site-{i}.example.test");
        let lock = match store.lock(&base).await {
            Ok(Acquire::Held(lock)) => lock,
            Ok(Acquire::Busy { holder }) => panic!("{base}: nobody else holds it, got {holder}"),
            Err(e) => {
                failures.push(format!("lock {base}: {e}"));
                continue;
            }
        };
        let (key, answer) = store.http01_answer(&base, &format!("token{i}"), "ka");
        if let Err(e) = lock.publish_answer(&key, &answer).await {
            failures.push(format!("answer {base}: {e}"));
        }
        match store.bundle(&base).await {
            Ok(None) => {}
            Ok(Some(_)) => panic!("{base}: nothing was stored"),
            Err(e) => failures.push(format!("read {base}: {e}")),
        }
        lock.release().await;
    }
    assert!(
        failures.is_empty(),
        "{} store calls failed with one member of three down:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        store.health().reachable,
        "the store is reachable: {:?}",
        store.health()
    );
}
