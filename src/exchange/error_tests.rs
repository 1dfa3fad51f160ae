use super::*;

#[test]
fn faults_map_to_their_status_class() {
    let b = BackendAddr::Tcp(([127, 0, 0, 1], 1).into());
    let io = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let cases = [
        (ProxyError::BodyTooLarge { limit: 1 }, 413, Fault::Client),
        (ProxyError::HeadersTooLarge("x".into()), 431, Fault::Client),
        (
            ProxyError::Coding(crate::exchange::CodingError::Unsupported("gzip".into())),
            501,
            Fault::Client,
        ),
        (
            ProxyError::Coding(crate::exchange::CodingError::ChunkedTwice),
            400,
            Fault::Client,
        ),
        (ProxyError::NoSite { host: "h".into() }, 503, Fault::Config),
        (
            ProxyError::NoBackend {
                host: "h".into(),
                path: "/".into(),
                excluded: 1,
            },
            503,
            Fault::Config,
        ),
        // nginx-proxy's `server 127.0.0.1 down;`: a known host none of whose containers is
        // reachable answers 502, not the unknown host's 503.
        (
            ProxyError::Unreachable {
                host: "h".into(),
                path: "/".into(),
            },
            502,
            Fault::Config,
        ),
        (
            ProxyError::Connect {
                backend: b.clone(),
                source: io(),
            },
            502,
            Fault::Upstream,
        ),
        (
            ProxyError::Timeout {
                backend: b,
                secs: 1,
            },
            504,
            Fault::Upstream,
        ),
    ];
    for (err, status, fault) in cases {
        assert_eq!(
            (err.status().as_u16(), err.fault()),
            (status, fault),
            "{err}"
        );
    }
}

#[test]
fn grpc_locations_get_a_grpc_status_for_every_failure_but_an_http1_client() {
    let b = || BackendAddr::Tcp(([127, 0, 0, 1], 1).into());
    let io = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let cases = [
        (
            ProxyError::Connect {
                backend: b(),
                source: io(),
            },
            Some(14),
        ),
        (
            ProxyError::Timeout {
                backend: b(),
                secs: 60,
            },
            Some(4),
        ),
        (
            ProxyError::Deadline {
                backend: b(),
                after: std::time::Duration::from_millis(200),
            },
            Some(4),
        ),
        (
            ProxyError::Unreachable {
                host: "h".into(),
                path: "/".into(),
            },
            Some(14),
        ),
        (ProxyError::BodyTooLarge { limit: 1 }, Some(8)),
        (ProxyError::GrpcNeedsHttp2 { host: "h".into() }, None),
    ];
    for (err, code) in cases {
        assert_eq!(err.grpc_status(), code, "{err}");
    }
    let http1 = ProxyError::GrpcNeedsHttp2 { host: "h".into() };
    assert_eq!(
        (http1.status(), http1.fault()),
        (StatusCode::BAD_REQUEST, Fault::Client)
    );
}
