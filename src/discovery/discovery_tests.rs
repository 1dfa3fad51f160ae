use super::*;
use crate::model::{BackendAddr, Reach};
use crate::settings::test_support::source_item;
use std::time::Duration;

fn item(host: &str) -> SourceItem {
    SourceItem {
        created: 0,
        reach: Reach::Addresses(vec![BackendAddr::Tcp(([127, 0, 0, 1], 1).into())]),
        ..source_item(host, &[("VIRTUAL_HOST", host)])
    }
}

fn hosts(state: &DesiredState) -> Vec<&str> {
    state.sites.iter().map(|s| s.host.as_str()).collect()
}

#[tokio::test]
async fn combines_providers_keeps_ended_ones_and_skips_identical_states() {
    let (docker_tx, docker_rx) = tokio::sync::watch::channel(vec![item("a.tld")]);
    let (file_tx, file_rx) = tokio::sync::watch::channel(vec![item("b.tld")]);
    let (out, mut rx) = tokio::sync::watch::channel(Arc::new(DesiredState::default()));
    let token = CancellationToken::new();
    let (_files_tx, files_rx) = tokio::sync::watch::channel(Arc::new(NginxFiles::default()));
    let task = spawn_combiner(vec![docker_rx, file_rx], files_rx, out, token.clone());
    let wait = |rx: &mut Receiver<Arc<DesiredState>>| {
        let mut rx = rx.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(1), rx.changed())
                .await
                .unwrap()
                .unwrap()
        }
    };
    wait(&mut rx).await;
    assert_eq!(hosts(&rx.borrow_and_update()), ["a.tld", "b.tld"]);

    drop(file_tx);
    docker_tx.send(vec![item("a.tld"), item("c.tld")]).unwrap();
    wait(&mut rx).await;
    assert_eq!(
        hosts(&rx.borrow_and_update()),
        ["a.tld", "b.tld", "c.tld"],
        "an ended provider keeps its items"
    );

    docker_tx.send(vec![item("c.tld"), item("a.tld")]).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !rx.has_changed().unwrap(),
        "an identical state is not published again"
    );
    token.cancel();
    task.await.unwrap();
}
