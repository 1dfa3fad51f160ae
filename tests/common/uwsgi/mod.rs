//! Starts a real uWSGI 2.0 (Debian `uwsgi` + `uwsgi-plugin-python3`) serving
//! `tests/apps/uwsgi_app.py` on a free loopback port or a unix socket; stops it on drop.
//! `bodies` streams request bodies of any size; `proxy` puts dockside in front of it.

pub mod bodies;
pub mod proxy;

use std::{
    net::{SocketAddr, TcpStream},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use dockside::model::BackendAddr;

const PLUGIN: &str = "/usr/lib/uwsgi/plugins/python3_plugin.so";

/// A running uWSGI with two worker processes and `--buffer-size 32768` (the seed's uwsgi.ini).
pub struct Uwsgi {
    child: Child,
    pub addr: BackendAddr,
    dir: tempfile::TempDir,
}

impl Uwsgi {
    /// uWSGI on `127.0.0.1:<free port>`.
    pub fn tcp() -> Uwsgi {
        let port = super::pebble::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Uwsgi::start(BackendAddr::Tcp(addr), addr.to_string())
    }

    /// uWSGI on a unix socket in a temp dir.
    pub fn unix() -> Uwsgi {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("uwsgi.sock");
        let mut u = Uwsgi::start(BackendAddr::Unix(path.clone()), path.display().to_string());
        // Keep the socket's dir alive as long as the server.
        u.dir = dir;
        u
    }

    fn start(addr: BackendAddr, socket: String) -> Uwsgi {
        require_installed();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("uwsgi.log")).expect("log file");
        let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/uwsgi_app.py");
        let child = Command::new("uwsgi")
            .args(["--plugin", "python3", "--master", "--processes", "2"])
            .args(["--socket", &socket, "--wsgi-file"])
            .arg(&app)
            .args(["--disable-logging", "--buffer-size", "32768", "--need-app"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn uwsgi");
        let mut server = Uwsgi { child, addr, dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let up = match &self.addr {
                BackendAddr::Tcp(a) => TcpStream::connect(a).is_ok(),
                BackendAddr::Unix(p) => UnixStream::connect(p).is_ok(),
                BackendAddr::Name { .. } => unreachable!("harness uses Tcp or Unix"),
            };
            if up {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("uwsgi exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "uwsgi not accepting:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What uWSGI wrote to stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("uwsgi.log")).unwrap_or_default()
    }

    /// A directory that lives as long as the server (spool files go here).
    pub fn scratch_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Uwsgi {
    fn drop(&mut self) {
        // SIGTERM means "reload" to uWSGI 2.0; SIGINT stops it.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_installed() {
    let found = Command::new("uwsgi")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found && Path::new(PLUGIN).exists(),
        "real uWSGI is required: apt-get install uwsgi uwsgi-plugin-python3"
    );
}
