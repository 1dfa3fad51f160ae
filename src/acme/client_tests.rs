use super::*;

#[test]
fn retry_after_accepts_seconds_and_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    assert_eq!(
        parse_retry_after(" 120 ", now),
        Some(now + Duration::from_secs(120))
    );
    let date = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now).unwrap();
    assert_eq!(
        date.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        784_111_777
    );
    assert_eq!(parse_retry_after("soon", now), None);
}

#[test]
fn a_bundle_without_certificates_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "").unwrap();
    assert!(matches!(
        AcmeHttp::new(Some(&path), Duration::from_secs(1)),
        Err(ClientSetupError::EmptyBundle { .. })
    ));
    assert!(AcmeHttp::new(None, Duration::from_secs(1)).is_ok());
}

/// A server that answers every request with `status` + `Retry-After: 120`, or never.
async fn server(status: Option<u16>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(status) = status else {
                    let _keep_open = stream;
                    return std::future::pending::<()>().await;
                };
                let svc = hyper::service::service_fn(move |_req| async move {
                    let body = Full::new(Bytes::from_static(
                        br#"{"type":"urn:ietf:params:acme:error:rateLimited"}"#,
                    ));
                    Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .status(status)
                            .header("retry-after", "120")
                            .body(body)
                            .unwrap(),
                    )
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn error_answers_record_retry_after() {
    let (url, task) = server(Some(429)).await;
    let http = AcmeHttp::new(None, Duration::from_secs(5)).unwrap();
    let (client, slot, _) = http.for_order();
    let rsp = client
        .request(Request::get(&url).body(BodyWrapper::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(rsp.parts.status, StatusCode::TOO_MANY_REQUESTS);
    let wait = slot
        .get()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
    let (ok_url, ok_task) = server(Some(200)).await;
    let (client, slot, _) = http.for_order();
    client
        .request(Request::get(&ok_url).body(BodyWrapper::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(slot.get(), None, "only error answers carry a retry hint");
    task.abort();
    ok_task.abort();
}

#[tokio::test]
async fn a_silent_ca_times_out() {
    let (url, task) = server(None).await;
    let http = AcmeHttp::new(None, Duration::from_millis(200)).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        http.get(&url).await,
        Err(RequestError::Timeout(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    task.abort();
}

fn parts(status: u16, content_type: Option<&str>) -> http::response::Parts {
    let mut b = Response::builder().status(status);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn an_html_error_page_is_said_as_such() {
    let page = b"<html>\r\n<body>\t<h1>502 Bad Gateway</h1>\n</body></html>";
    let err = not_acme(&parts(502, Some("text/html")), page).expect("not ACME");
    assert_eq!(
        err.to_string(),
        "the CA answered 502 Bad Gateway with \"text/html\", not an ACME problem document: \
         <html> <body> <h1>502 Bad Gateway</h1> </body></html>"
    );
    let long = vec![b'x'; 5000];
    let err = not_acme(&parts(503, None), &long).unwrap().to_string();
    assert!(err.len() < 400, "bounded: {}", err.len());
}

#[test]
fn problem_documents_and_successes_pass_through() {
    let problem = br#"{"type":"urn:ietf:params:acme:error:rateLimited"}"#;
    assert!(not_acme(&parts(429, Some("application/problem+json")), problem).is_none());
    assert!(
        not_acme(&parts(429, None), problem).is_none(),
        "unlabelled JSON"
    );
    assert!(not_acme(&parts(200, Some("text/html")), b"<html>").is_none());
    assert!(not_acme(&parts(201, None), b"").is_none());
}
