//! HTTPS through the whole proxy: dockside with its HTTPS listener on 127.0.0.1:0 over a given
//! certificate directory, and curl on both listeners with `--resolve` and the test CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dockside::config::Config;
use dockside::model::Site;

use super::Dockside;

/// dockside with HTTPS on, plus what curl needs to reach it by name.
pub struct HttpsProxy {
    pub d: Dockside,
    pub https: SocketAddr,
    pub ca: PathBuf,
}

/// One curl exchange: status, lower-cased response headers, body.
#[derive(Debug)]
pub struct Exchange {
    /// 0 when curl got no HTTP answer (handshake refused, ...).
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// curl's stderr (handshake errors).
    pub stderr: String,
    /// `%{http_version}`: "1.1" or "2".
    pub version: String,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The backend's JSON echo.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} / {}", self.body, self.stderr))
    }
}

impl HttpsProxy {
    /// Starts dockside on `certs` with HTTPS on; `tweak` adjusts the config further.
    pub async fn start(certs: &Path, ca: &Path, tweak: impl FnOnce(&mut Config)) -> HttpsProxy {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("dockside=debug")
            .with_test_writer()
            .try_init();
        let certs = certs.to_owned();
        let d = Dockside::start(|cfg| {
            cfg.https = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
            cfg.certs_dir = certs;
            tweak(cfg);
        })
        .await;
        let https = d.running.https_addr.expect("HTTPS listener");
        HttpsProxy {
            d,
            https,
            ca: ca.to_owned(),
        }
    }

    /// Publishes `sites` and waits until they route (see `Dockside::publish`).
    pub async fn publish(&self, sites: Vec<Site>) {
        self.d.publish(sites).await;
    }

    /// curl `scheme://host:port/path` (port of that listener) with `extra` arguments.
    pub async fn curl(&self, scheme: &str, host: &str, path: &str, extra: &[&str]) -> Exchange {
        let port = match scheme {
            "https" => self.https.port(),
            _ => self.d.addr.port(),
        };
        self.curl_to(scheme, host, port, host, path, extra).await
    }

    /// curl with a Host header (`host`) that differs from the name connected to (`sni`).
    pub async fn curl_to(
        &self,
        scheme: &str,
        sni: &str,
        port: u16,
        host: &str,
        path: &str,
        extra: &[&str],
    ) -> Exchange {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "-D", "-", "--resolve"])
            .arg(format!("{sni}:{port}:127.0.0.1"))
            .arg("--cacert")
            .arg(&self.ca)
            .args(["-w", "\n%{http_version}"]);
        if host != sni {
            cmd.arg("-H").arg(format!("Host: {host}"));
        }
        cmd.args(extra)
            .arg(format!("{scheme}://{sni}:{port}{path}"));
        let out = match cmd.output().await {
            Ok(out) => out,
            Err(e) => panic!("running curl ({e}): apt-get install -y curl"),
        };
        parse(
            &String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn parse(stdout: &str, stderr: String) -> Exchange {
    let (text, version) = stdout.rsplit_once('\n').unwrap_or((stdout, ""));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", text));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Exchange {
        status,
        headers,
        body: body.to_owned(),
        stderr,
        version: version.trim().to_owned(),
    }
}
