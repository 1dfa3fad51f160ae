//! A real etcd cluster on loopback (Debian's `etcd-server`): `n` members with free client and
//! peer ports and their own data directories, stopped (all members killed, data kept) and
//! started again by the test; killed on drop. `etcdctl` (Debian's `etcd-client`) looks inside.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::pebble::free_port;
use super::require_tool;

struct Member {
    name: String,
    client: u16,
    peer: u16,
    child: Option<Child>,
}

pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    token: String,
}

impl EtcdCluster {
    /// Starts `n` members and waits until the cluster has a leader and takes writes.
    pub fn start(n: usize) -> EtcdCluster {
        assert!(
            std::path::Path::new("/usr/bin/etcd").exists(),
            "/usr/bin/etcd is missing: apt-get install etcd-server (scripts/install-test-deps.sh)"
        );
        require_tool("etcdctl", "etcd-client");
        let members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: free_port(),
                peer: free_port(),
                child: None,
            })
            .collect();
        let mut cluster = EtcdCluster {
            dir: tempfile::tempdir().unwrap(),
            members,
            token: format!("dockside-test-{}", free_port()),
        };
        cluster.start_members();
        cluster
    }

    /// `etcd://127.0.0.1:a,127.0.0.1:b,...`: dockside's `--store`.
    pub fn url(&self) -> String {
        format!("etcd://{}", self.endpoints())
    }

    /// `127.0.0.1:a,127.0.0.1:b,...`
    pub fn endpoints(&self) -> String {
        let list: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client))
            .collect();
        list.join(",")
    }

    /// Kills every member (their data stays): etcd is unreachable.
    pub fn stop(&mut self) {
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The index of the member that leads the cluster now.
    pub fn leader(&self) -> usize {
        let out = self.ctl(&["endpoint", "status", "-w", "json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "etcdctl endpoint status: {e}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let list = status.as_array().expect("a list of endpoints");
        let leads =
            |s: &serde_json::Value| s["Status"]["header"]["member_id"] == s["Status"]["leader"];
        let endpoint = list.iter().find(|s| leads(s)).expect("a leader")["Endpoint"]
            .as_str()
            .unwrap()
            .to_owned();
        self.members
            .iter()
            .position(|m| endpoint.ends_with(&format!(":{}", m.client)))
            .expect("the leader is a member")
    }

    /// Kills member `i` only (its data stays): the cluster keeps its quorum with the others.
    pub fn stop_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts every stopped member again on the same ports and data, and waits for a leader.
    pub fn start_members(&mut self) {
        let cluster: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect();
        let cluster = cluster.join(",");
        for m in &mut self.members {
            if m.child.is_some() {
                continue;
            }
            let log = std::fs::File::options()
                .create(true)
                .append(true)
                .open(self.dir.path().join(format!("{}.log", m.name)))
                .unwrap();
            let (client, peer) = (
                format!("http://127.0.0.1:{}", m.client),
                format!("http://127.0.0.1:{}", m.peer),
            );
            let child = Command::new("/usr/bin/etcd")
                .args(["--name", &m.name])
                .arg("--data-dir")
                .arg(self.dir.path().join(&m.name))
                .args(["--listen-client-urls", &client])
                .args(["--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &cluster])
                .args(["--initial-cluster-token", &self.token])
                .args(["--initial-cluster-state", "new"])
                // Loopback: elect within a second, not the WAN defaults.
                .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
                .args(["--logger", "zap", "--log-level", "warn"])
                .env_clear()
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start etcd");
            m.child = Some(child);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.ctl(&["put", "/test/ready", "1"]);
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd cluster not ready: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `etcdctl` against the cluster (v3 API, 2 s timeout).
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoints(), "--command-timeout=2s"])
            .args(args)
            .output()
            .expect("run etcdctl")
    }

    /// The values under `prefix` (`etcdctl get --prefix --print-value-only`), one per key.
    pub fn values(&self, prefix: &str) -> Vec<String> {
        let out = self.ctl(&["get", "--prefix", "--print-value-only", prefix]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The keys under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.ctl(&["get", "--prefix", "--keys-only", prefix]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every member's log (shown when a test fails).
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let path: PathBuf = self.dir.path().join(format!("{}.log", m.name));
                format!(
                    "--- {} ---\n{}",
                    m.name,
                    std::fs::read_to_string(path).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
