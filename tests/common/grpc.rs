//! Harness for the gRPC tests: a real grpcio server (`tests/apps/grpc_server.py`, plain or TLS)
//! on 127.0.0.1:0, the grpcio client script, and `VIRTUAL_PROTO=grpc`/`grpcs` sites. Debian's
//! `python3-grpcio` is for Debian's `/usr/bin/python3`, so that interpreter runs both scripts.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use dockside::model::{Backend, BackendAddr, Health, HttpsMethod, Location, Proto, Site};

use super::WAIT;

const PYTHON: &str = "/usr/bin/python3";

fn app(name: &str) -> String {
    format!("{}/tests/apps/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Fails (never skips) without Debian's python3 and its grpcio package.
pub fn require_grpcio() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import grpc"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the gRPC tests need Python's grpcio for {PYTHON}: apt-get install -y python3 python3-grpcio"
    );
}

/// A running grpcio server, killed on drop.
pub struct GrpcServer {
    child: Child,
    pub addr: SocketAddr,
}

impl GrpcServer {
    /// Starts the server (with TLS when `tls` names a certificate chain and key) and waits for
    /// its `PORT <n>` line.
    pub fn start(tls: Option<(&Path, &Path)>) -> GrpcServer {
        require_grpcio();
        let mut cmd = Command::new(PYTHON);
        cmd.arg(app("grpc_server.py"));
        if let Some((cert, key)) = tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start grpc_server.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("PORT ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let port = match rx.recv_timeout(WAIT) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("grpc_server.py did not report its port: {other:?}");
            }
        };
        GrpcServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `calls` (see `tests/apps/grpc_client.py`) through one grpcio channel to `target`,
/// with `:authority` `authority`, over TLS trusting `ca` when given; one result per call.
pub async fn calls(
    target: SocketAddr,
    authority: &str,
    ca: Option<&Path>,
    calls: serde_json::Value,
) -> Vec<serde_json::Value> {
    require_grpcio();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(app("grpc_client.py"))
        .arg(target.to_string())
        .arg(authority);
    if let Some(ca) = ca {
        cmd.arg("--tls").arg(ca);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = calls.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("start grpc_client.py");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        child.wait_with_output().expect("grpc_client.py output")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "grpc_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("grpc_client.py prints JSON")
}

/// One `VIRTUAL_PROTO=grpc`/`grpcs` location at `/` over `addr`.
pub fn grpc_site(host: &str, proto: Proto, addr: SocketAddr) -> Site {
    Site {
        host: host.to_owned(),
        locations: vec![Location {
            path: "/".to_owned(),
            proto,
            keepalive: true,
            backends: vec![Backend {
                addr: BackendAddr::Tcp(addr),
                source: "grpc".to_owned(),
                health: Health::None,
            }],
            ..Default::default()
        }],
        https_method: Some(HttpsMethod::NoRedirect),
        ..Default::default()
    }
}

/// A gRPC message frame: uncompressed flag, big-endian length, the bytes.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    out
}
