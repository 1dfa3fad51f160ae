use super::*;

/// An admin listener on a free loopback port with no ACME behind it, and what stops it.
async fn start_admin() -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_tx, rx) = watch::channel(Arc::new(DesiredState::default()));
    let admin = AdminState {
        state: rx,
        live: Live::http_only(Arc::new(crate::routing::RouteTable::default())),
        renewer: None,
        acme: None,
        providers: Default::default(),
        health: Default::default(),
        traffic: Default::default(),
        metrics: None,
        auth: Arc::default(),
        store: None,
    };
    let token = CancellationToken::new();
    let task = spawn(listener, admin, token.clone());
    (addr, token, task)
}

#[tokio::test]
async fn healthz_and_status_answer() {
    let (addr, token, task) = start_admin().await;
    assert!(healthcheck(addr).await);
    token.cancel();
    task.await.unwrap();
    assert!(
        !healthcheck(addr).await,
        "a stopped admin listener must fail the check"
    );
}

#[tokio::test]
async fn renew_without_acme_says_so() {
    let (addr, token, _task) = start_admin().await;
    let (status, body) = request_renew(addr, None, vec![], true).await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("ACME is off"), "{body}");
    token.cancel();
}
