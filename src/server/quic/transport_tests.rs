//! The flow-control limits of `transport()`, seen by a real QUIC client (quinn) writing to a
//! server that never reads: what it can make the server hold is bounded.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{CONNECTION_WINDOW, MAX_REQUESTS, STREAM_WINDOW, transport};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A quinn server with dockside's transport config, and a client trusting it.
fn endpoints() -> (quinn::Endpoint, quinn::Endpoint, quinn::ClientConfig) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let pkcs8 = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(pkcs8))
        .unwrap();
    tls.alpn_protocols = vec![b"test".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport(Duration::from_secs(30))));
    let server = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"test".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut client_config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut client_transport = quinn::TransportConfig::default();
    // The client may buffer all it likes: only the server's windows limit it.
    client_transport.send_window(1 << 30);
    client_config.transport_config(Arc::new(client_transport));
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    (server, client, client_config)
}

/// What one write of `len` bytes is accepted at once (0 when it would wait for credit).
async fn write_now(send: &mut quinn::SendStream, len: usize) -> usize {
    let data = vec![0u8; len];
    match tokio::time::timeout(Duration::from_millis(300), send.write(&data)).await {
        Ok(written) => written.unwrap(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_client_cannot_make_a_connection_buffer_more_than_its_windows() {
    let (server, client, config) = endpoints();
    let addr = server.local_addr().unwrap();
    let accepted = tokio::spawn(async move {
        // The server accepts the connection and never reads a stream.
        let conn = server.accept().await.unwrap().await.unwrap();
        conn.closed().await;
    });
    let conn = client
        .connect_with(config, addr, "localhost")
        .unwrap()
        .await
        .unwrap();

    // One stream: at most the stream window.
    let (mut first, _recv) = conn.open_bi().await.unwrap();
    let one = write_now(&mut first, 8 * 1024 * 1024).await;
    assert_eq!(one, STREAM_WINDOW as usize, "one stream's credit");

    // More streams: together at most the connection window (quinn's default has none).
    let mut total = one;
    let mut streams = Vec::new();
    for _ in 0..10 {
        let (mut send, recv) = conn.open_bi().await.unwrap();
        total += write_now(&mut send, 8 * 1024 * 1024).await;
        streams.push((send, recv));
    }
    assert_eq!(total, CONNECTION_WINDOW as usize, "the connection's credit");

    // And the streams a client may open at once.
    let mut opened = 1 + streams.len();
    while let Ok(Ok(pair)) = tokio::time::timeout(Duration::from_millis(300), conn.open_bi()).await
    {
        streams.push(pair);
        opened += 1;
        assert!(opened <= 1000, "no stream limit");
    }
    assert_eq!(opened, MAX_REQUESTS as usize);
    conn.close(0u32.into(), b"");
    accepted.abort();
}
