//! `forward()` behind a bare hyper HTTP/1.1 server, against real uWSGI: what the proxy service
//! relies on — a keep-alive client reuses its connection across uwsgi responses of unknown
//! length (re-framed as chunked), and a backend crash mid-body aborts the client connection
//! instead of ending the response cleanly.

mod common;

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use common::uwsgi::Uwsgi;
use dockside::exchange::{ConnInfo, ProxyBody, RequestMeta, Scheme, empty, full};
use dockside::model::BackendAddr;
use dockside::upstream::uwsgi::{UwsgiOptions, forward};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// A one-route proxy: every request goes to `backend` over uwsgi.
async fn spawn_proxy(backend: BackendAddr, opts: UwsgiOptions) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let shared = Arc::new((backend, opts));
    tokio::spawn(async move {
        loop {
            let Ok((stream, client)) = listener.accept().await else {
                return;
            };
            let shared = shared.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(req, client, local, &shared).await) }
            });
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    local
}

async fn handle(
    req: Request<Incoming>,
    client: SocketAddr,
    local: SocketAddr,
    (backend, opts): &(BackendAddr, UwsgiOptions),
) -> Response<ProxyBody> {
    let meta = RequestMeta {
        conn: std::sync::Arc::new(ConnInfo::new(client, local, Scheme::Http, None, None)),
        host: "app.example.test".into(),
        request_uri: req.uri().to_string(),
        path: req.uri().path().into(),
        query: req.uri().query().unwrap_or("").into(),
        body_limit: None,
        timeouts: Default::default(),
    };
    let req = req.map(|b| b.map_err(Into::into).boxed());
    forward(req, &meta, backend, opts)
        .await
        .unwrap_or_else(|e| {
            let mut resp = Response::new(full(e.to_string()));
            *resp.status_mut() = e.status();
            resp
        })
}

#[tokio::test]
async fn keep_alive_client_reuses_its_connection_and_sees_crashes_as_aborts() {
    let server = Uwsgi::tcp();
    let opts = UwsgiOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        spool_memory: 64 * 1024,
        spool_dir: server.scratch_dir(),
        spool_max: None,
        spool_budget: std::sync::Arc::new(tokio::sync::Semaphore::new(64 << 20)),
    };
    let proxy = spawn_proxy(server.addr.clone(), opts).await;
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, ProxyBody>(TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let get = |path: &str| {
        Request::get(path)
            .header("host", "app.example.test")
            .body(empty())
            .unwrap()
    };

    // No Content-Length from the app: re-framed as chunked, and the connection stays usable.
    for round in 0..2 {
        let resp = sender
            .send_request(get("/stream?n=3&delay_ms=50"))
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["transfer-encoding"],
            "chunked",
            "round {round}"
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"line 0\nline 1\nline 2\n");
        let resp = sender.send_request(get("/env")).await.unwrap();
        assert!(resp.status().is_success());
        resp.into_body().collect().await.unwrap();
    }

    // The app dies after 1000 of its declared 1,000,000 bytes: the client's body fails.
    let resp = sender.send_request(get("/crash")).await.unwrap();
    assert_eq!(resp.headers()["content-length"], "1000000");
    let err = resp.into_body().collect().await.unwrap_err();
    let cause = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<std::io::Error>());
    assert_eq!(
        cause.map(std::io::Error::kind),
        Some(std::io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    let _ = conn.await;
}
