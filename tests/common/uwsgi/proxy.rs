//! Harness for the through-the-proxy uwsgi tests: dockside in-process with HTTP and HTTPS on
//! 127.0.0.1:0 (a self-signed rcgen certificate for the test host), uwsgi sites, and curl.

use std::net::SocketAddr;
use std::process::{Command, Output};

use dockside::model::{Backend, BackendAddr, Health, HttpsMethod, Location, Proto, Site};

use crate::common::Dockside;

/// The host every test site answers to.
pub const HOST: &str = "app.test";

/// Dockside with HTTPS on an ephemeral port and a certificate for [`HOST`] in its certs dir.
///
/// It pauses briefly before returning: the provider combiner publishes its (empty) first state
/// from a spawned task, and a test `publish` made before that task first runs is overwritten.
pub async fn start(trust_downstream: bool) -> Dockside {
    let d = Dockside::start(|cfg| {
        cfg.https = Some("127.0.0.1:0".parse().unwrap());
        cfg.trust_downstream_proxy = trust_downstream;
        let cert = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        dockside::certs::write_pair(
            &cfg.certs_dir,
            HOST,
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    d
}

/// One `VIRTUAL_PROTO=uwsgi` location.
pub fn uwsgi_location(path: &str, dest: &str, addr: &BackendAddr) -> Location {
    Location {
        path: path.to_owned(),
        dest: dest.to_owned(),
        proto: Proto::Uwsgi,
        keepalive: true,
        backends: vec![Backend {
            addr: addr.clone(),
            source: "uwsgi".to_owned(),
            health: Health::None,
        }],
        ..Default::default()
    }
}

/// A uwsgi site served over HTTP and HTTPS alike (`HTTPS_METHOD=noredirect`).
pub fn uwsgi_site(host: &str, locations: Vec<Location>) -> Site {
    Site {
        host: host.to_owned(),
        locations,
        https_method: Some(HttpsMethod::NoRedirect),
        ..Default::default()
    }
}

/// How curl reaches dockside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Via {
    Http1,
    /// HTTP/2 over TLS (ALPN).
    H2Tls,
    /// HTTP/2 with prior knowledge over plain TCP.
    H2c,
}

/// `curl` to `http(s)://HOST:port{path}` resolved to dockside, with `extra` args; panics with the
/// Debian package name when curl is missing. Adds `-sS --max-time 20`. Runs on a blocking
/// thread so the in-process dockside keeps serving.
pub async fn curl(d: &Dockside, via: Via, path: &str, extra: &[&str]) -> Output {
    let (scheme, addr): (&str, SocketAddr) = match via {
        Via::H2Tls => ("https", d.running.https_addr.expect("HTTPS listener")),
        _ => ("http", d.addr),
    };
    let port = addr.port();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-k", "--resolve"])
        .arg(format!("{HOST}:{port}:127.0.0.1"));
    match via {
        Via::Http1 => cmd.arg("--http1.1"),
        Via::H2Tls => cmd.arg("--http2"),
        Via::H2c => cmd.arg("--http2-prior-knowledge"),
    };
    cmd.args(extra)
        .arg(format!("{scheme}://{HOST}:{port}{path}"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("curl thread");
    match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("curl is not installed: apt-get install curl")
        }
        Err(e) => panic!("running curl: {e}"),
    }
}

/// curl's stdout parsed as JSON, failing with curl's stderr.
pub fn curl_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
