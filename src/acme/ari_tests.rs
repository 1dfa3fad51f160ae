//! ARI tests: pure window logic, and the fetch against a test double of ONLY the renewalInfo
//! endpoint (no CA offers ARI on this machine: Pebble 2.4 has none).

use super::*;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[test]
fn rfc3339_variants() {
    assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(rfc3339("2025-01-02T03:04:05Z"), Some(1_735_787_045));
    assert_eq!(rfc3339("2025-01-02T03:04:05.123456Z"), Some(1_735_787_045));
    assert_eq!(rfc3339("2025-01-02T05:04:05+02:00"), Some(1_735_787_045));
    assert_eq!(rfc3339("2025-01-02T01:04:05-02:00"), Some(1_735_787_045));
    assert_eq!(rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    for bad in [
        "",
        "2025-01-02",
        "2025-13-02T03:04:05Z",
        "2025-01-02T03:04:05",
        "2025-01-02T03:04:05.Z",
        "2025-01-02X03:04:05Z",
    ] {
        assert_eq!(rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn windows_parse_and_pick_inside() {
    let json = serde_json::json!({"suggestedWindow": {"start": "2025-01-02T00:00:00Z", "end": "2025-01-03T00:00:00Z"}});
    let w = parse_window(&json).unwrap();
    assert_eq!(w.end - w.start, 86_400);
    let now = w.start - 1000;
    assert_eq!(pick(w, now, 0.0), w.start);
    assert_eq!(pick(w, now, 0.5), w.start + 43_200);
    assert!(pick(w, now, 0.999) < w.end);
    assert_eq!(
        pick(w, w.start + 100, 0.0),
        w.start + 100,
        "window began: renew now"
    );
    assert_eq!(
        pick(w, w.end + 5, 0.7),
        w.end + 5,
        "window passed: renew now"
    );
    let inverted = serde_json::json!({"suggestedWindow": {"start": "2025-01-03T00:00:00Z", "end": "2025-01-02T00:00:00Z"}});
    assert_eq!(parse_window(&inverted), None);
    assert_eq!(parse_window(&serde_json::json!({})), None);
}

/// Serves `GET /renewalInfo/<id>` for one certificate id; anything else is 404.
async fn renewal_info_double(
    cert_id: String,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/renewalInfo", listener.local_addr().unwrap());
    let expected = Arc::new(format!("/renewalInfo/{cert_id}"));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let expected = expected.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let hit = req.uri().path() == expected.as_str();
                    async move {
                        let rsp = hyper::Response::builder()
                            .status(if hit { 200 } else { 404 })
                            .header("retry-after", "21600");
                        Ok::<_, std::convert::Infallible>(
                            rsp.body(Full::new(Bytes::from_static(if hit {
                                body.as_bytes()
                            } else {
                                b""
                            })))
                            .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (base, task)
}

#[tokio::test]
async fn fetches_the_window_for_a_certificate_and_schedules_inside_it() {
    // A real certificate with an AKI, so the id is computed the way a CA expects.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["a.test".to_string()]).unwrap();
    leaf.use_authority_key_identifier_extension = true;
    leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x02, 0x03]));
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    let info = crate::certs::CertInfo::from_der(leaf.der()).unwrap();
    let id = info.ari_id.clone().expect("AKI present");
    assert!(id.ends_with(".AQID"), "base64url of the DER serial: {id}");

    let body = r#"{"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"},"explanationURL":"https://ca.test/why"}"#;
    let (base, task) = renewal_info_double(id.clone(), body).await;
    let http = AcmeHttp::new(None, Duration::from_secs(5)).unwrap();
    let (window, recheck) = fetch(&http, &base, &id).await.unwrap();
    assert_eq!(
        window,
        Window {
            start: 1_893_456_000,
            end: 1_893_542_400
        }
    );
    assert!(
        recheck > Duration::from_secs(21_000) && recheck <= Duration::from_secs(21_600),
        "{recheck:?}"
    );
    let at = pick(window, 1_800_000_000, 0.25);
    assert_eq!(at, 1_893_456_000 + 21_600);
    // The ARI time wins over the certificate's own 2/3 rule.
    let hosts = vec!["a.test".to_string()];
    let decision =
        crate::acme::schedule::decide(1_800_000_000, Some(&info), &hosts, None, Some(at));
    assert_eq!(decision, crate::acme::schedule::Decision::ValidUntil(at));
    // Unknown certificate → a clear error (the reconciler then uses the local rule).
    assert!(matches!(
        fetch(&http, &base, "AA.AA").await,
        Err(AriError::Status { status: 404, .. })
    ));
    task.abort();
}
