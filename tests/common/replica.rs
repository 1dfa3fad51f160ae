//! One dockside replica as a real process (the binary, killable with SIGKILL) sharing ACME
//! state through `--store`: its own listeners, admin port, certificate directory and log, and
//! an order gate — its `ACME_PRE_HOOK` waits until the test opens the gate, so a test can hold
//! an order (and its lock) as long as it needs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pebble::{Pebble, free_port};
use super::responders::https_get;

/// What every replica of a test shares.
pub struct Shared<'a> {
    pub store: String,
    pub pebble: &'a Pebble,
    pub routes: &'a Path,
    pub lock_ttl: u64,
    /// `--store-encryption-key-file`.
    pub key_file: Option<&'a Path>,
}

impl<'a> Shared<'a> {
    /// `store` (`--store`), no encryption key file.
    pub fn new(store: String, pebble: &'a Pebble, routes: &'a Path, lock_ttl: u64) -> Shared<'a> {
        Shared {
            store,
            pebble,
            routes,
            lock_ttl,
            key_file: None,
        }
    }
}

pub struct Replica {
    pub name: String,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub certs: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// More environment for every start of this replica.
    env: Vec<(String, String)>,
}

impl Replica {
    /// A dockside with only the `--store*` flags in `args` (no ACME CA, no sites): for checking
    /// how it reaches etcd.
    pub fn start_plain(args: &[String]) -> Replica {
        let mut r = Replica::unstarted("plain");
        let mut cmd = r.command();
        cmd.args(args);
        r.run(cmd);
        r
    }

    fn unstarted(name: &str) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Replica {
            name: name.to_owned(),
            http: addr(free_port()),
            https: addr(free_port()),
            admin: addr(free_port()),
            certs: dir.path().join("certs"),
            dir,
            child: None,
            env: Vec::new(),
        }
    }

    /// The binary with this replica's listeners and directory.
    fn command(&self) -> Command {
        // DOCKSIDE_BIN: a release binary for scripts/bench-shared-store.sh.
        let bin = std::env::var_os("DOCKSIDE_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_dockside").into());
        let mut cmd = Command::new(bin);
        cmd.args(["--http", &self.http.to_string()])
            .args(["--https", &self.https.to_string()])
            .args(["--admin", &self.admin.to_string()])
            .args(["--docker-host", "off"])
            .arg("--certs-dir")
            .arg(&self.certs)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                "info,dockside::store=debug,dockside::acme=debug",
            );
        cmd
    }

    /// Starts `cmd` logging to this replica's log and waits until it serves.
    fn run(&mut self, mut cmd: Command) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the dockside binary");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.log().contains("dockside is serving") {
            assert!(
                Instant::now() < deadline,
                "replica {} never served:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts replica `name` and waits until it serves.
    pub fn start(name: &str, shared: &Shared<'_>) -> Replica {
        Replica::start_with(name, shared, &[])
    }

    /// Replicas `names`, started one after the other.
    pub fn start_all(names: &[&str], shared: &Shared<'_>) -> Vec<Replica> {
        names.iter().map(|n| Replica::start(n, shared)).collect()
    }

    /// [`Replica::start`] with more environment (`ON_DEMAND_TLS`, …).
    pub fn start_with(name: &str, shared: &Shared<'_>, env: &[(&str, &str)]) -> Replica {
        let mut r = Replica::unstarted(name);
        r.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        r.spawn(shared);
        r
    }

    fn spawn(&mut self, shared: &Shared<'_>) {
        let gate = self.dir.path().join("gate");
        let hook = format!(
            "sh -c 'while [ ! -e {} ]; do sleep 0.02; done'",
            gate.display()
        );
        let mut cmd = self.command();
        cmd.arg("--routes")
            .arg(shared.routes)
            .args(["--store", &shared.store])
            .args(["--store-lock-ttl", &shared.lock_ttl.to_string()])
            .args(["--store-replica", &self.name])
            .args(
                shared
                    .key_file
                    .map(|k| format!("--store-encryption-key-file={}", k.display())),
            )
            .env("ACME_CA_URI", &shared.pebble.url)
            .env("CA_BUNDLE", &shared.pebble.listener_ca)
            .env("DEFAULT_EMAIL", "ops@example.test")
            .env("ACME_PRE_HOOK", hook)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        self.run(cmd);
    }

    /// Lets this replica's orders go past `ACME_PRE_HOOK`.
    pub fn open_gate(&self) {
        std::fs::write(self.dir.path().join("gate"), "").unwrap();
    }

    /// Holds this replica's next orders at `ACME_PRE_HOOK` again.
    pub fn close_gate(&self) {
        std::fs::remove_file(self.dir.path().join("gate")).unwrap();
    }

    /// SIGKILL: no cleanup, no lock release (its lease must expire).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The serial of the certificate this replica serves for `host` (the handshake must
    /// verify against `root`), or why not.
    pub async fn serial(&self, host: &str, root: &str) -> Result<Vec<u8>, String> {
        let reply = https_get(self.https, host, "/", root).await?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&reply.leaf).map_err(|e| e.to_string())?;
        Ok(cert.raw_serial().to_vec())
    }

    /// `GET /status` on the admin listener.
    pub async fn status(&self) -> String {
        self.admin_get("/status").await
    }

    /// The value of `dockside_acme_certificate_state` for certificate `base` in `state`.
    pub async fn state_metric(&self, base: &str, state: &str) -> Option<String> {
        let text = self.admin_get("/metrics").await;
        let (cert, state) = (
            format!("certificate=\"{base}\""),
            format!("state=\"{state}\""),
        );
        text.lines()
            .filter(|l| l.starts_with("dockside_acme_certificate_state{"))
            .find(|l| l.contains(&cert) && l.contains(&state))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    }

    /// `GET path` on the admin listener: the body.
    async fn admin_get(&self, path: &str) -> String {
        let url = format!("http://{}{path}", self.admin);
        let rsp = super::client()
            .get(url.parse().unwrap())
            .await
            .unwrap_or_else(|e| panic!("admin {path} answers: {e}"));
        let body = http_body_util::BodyExt::collect(rsp.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    }

    /// The ACME state of certificate `base` in the admin API (`valid`, `waiting`, ...).
    pub async fn cert_state(&self, base: &str) -> Option<serde_json::Value> {
        find_cert(&self.overview().await?, base)
    }

    /// The admin API's overview (`/api/v1/overview`).
    pub async fn overview(&self) -> Option<serde_json::Value> {
        let url = format!("http://{}/api/v1/overview", self.admin);
        let rsp = super::client().get(url.parse().unwrap()).await.ok()?;
        let body = http_body_util::BodyExt::collect(rsp.into_body())
            .await
            .ok()?
            .to_bytes();
        serde_json::from_slice(&body).ok()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("dockside.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// The certificate object named `base` anywhere in the admin overview.
fn find_cert(v: &serde_json::Value, base: &str) -> Option<serde_json::Value> {
    match v {
        serde_json::Value::Object(map) => {
            if map.get("name").and_then(|n| n.as_str()) == Some(base)
                && map.contains_key("renew_at")
            {
                return Some(v.clone());
            }
            map.values().find_map(|x| find_cert(x, base))
        }
        serde_json::Value::Array(items) => items.iter().find_map(|x| find_cert(x, base)),
        _ => None,
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Lets every replica's orders go past `ACME_PRE_HOOK`.
pub fn open_gates(replicas: &[Replica]) {
    replicas.iter().for_each(Replica::open_gate);
}

/// Holds every replica's next orders at `ACME_PRE_HOOK` again.
pub fn close_gates(replicas: &[Replica]) {
    replicas.iter().for_each(Replica::close_gate);
}

/// Every replica's log under its name: for assertion messages.
pub fn logs<'a>(replicas: impl IntoIterator<Item = &'a Replica>) -> String {
    replicas
        .into_iter()
        .map(|r| format!("--- {} ---\n{}", r.name, r.log()))
        .collect::<Vec<_>>()
        .join("\n")
}
