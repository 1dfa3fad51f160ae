use super::*;
use crate::certs::CertMap;
use crate::routing::RouteTable;

fn acceptor(timeout: Duration) -> TlsAcceptor {
    let state = Live::new(
        Arc::new(RouteTable::default()),
        Arc::new(CertMap::default()),
        "Mozilla-Intermediate",
        true,
    );
    TlsAcceptor::new(state, Arc::new(Challenges::default()), timeout).unwrap()
}

fn addr() -> SocketAddr {
    ([127, 0, 0, 1], 1).into()
}

#[tokio::test(start_paused = true)]
async fn silent_client_times_out() {
    let (_client, server) = tokio::io::duplex(1024);
    let err = acceptor(Duration::from_secs(10))
        .accept(server, addr())
        .await
        .unwrap_err();
    assert!(matches!(err, TlsError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn unknown_name_gets_exactly_the_unrecognized_name_alert() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let name = "nowhere.test".try_into().unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    client.write_all(&hello).await.unwrap();
    let err = acceptor(Duration::from_secs(5))
        .accept(server, addr())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TlsError::Refused { ref sni, .. } if sni.as_deref() == Some("nowhere.test")),
        "{err}"
    );
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, UNRECOGNIZED_NAME);
}
