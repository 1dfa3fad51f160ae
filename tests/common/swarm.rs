//! Swarm for tests: a single-node swarm on the local engine (`docker swarm init
//! --advertise-addr 127.0.0.1`, left again on drop, also when a test fails), services removed
//! on drop, and this branch's dockside image for running it on an overlay network. Swarm
//! tests take [`SERIAL`]: `swarm init`/`leave` is engine-wide (cargo runs test binaries one
//! after another, so one lock per binary is enough).

use std::time::{Duration, Instant};

use super::docker::{Container, IMAGE, Network, Scope, docker, ensure_image, unique};
use super::image;

/// One swarm at a time: `swarm init`/`leave` is engine-wide. tokio's lock: it is held across
/// awaits, and a failed test does not poison it for the next.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The engine in swarm mode for one test; leaves the swarm on drop unless it was already in
/// one (then it is someone else's and stays).
pub struct Swarm {
    ours: bool,
    /// `swarm init` creates the `docker_gwbridge` network and `leave` keeps it: removed again
    /// when it was not there before, so the engine is left as found.
    gwbridge_ours: bool,
}

impl Swarm {
    pub fn init() -> Swarm {
        ensure_image();
        let state = cli(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state.trim() == "active" {
            return Swarm {
                ours: false,
                gwbridge_ours: false,
            };
        }
        let gwbridge_ours = !cli(&["network", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|n| n == "docker_gwbridge");
        let out = std::process::Command::new("docker")
            .args(["swarm", "init", "--advertise-addr", "127.0.0.1"])
            .output()
            .expect("run docker swarm init");
        assert!(
            out.status.success(),
            "docker swarm init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Swarm {
            ours: true,
            gwbridge_ours,
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.ours {
            let _ = std::process::Command::new("docker")
                .args(["swarm", "leave", "--force"])
                .output();
        }
        if self.gwbridge_ours {
            let _ = std::process::Command::new("docker")
                .args(["network", "rm", "docker_gwbridge"])
                .output();
        }
    }
}

/// A service removed on drop (declare it after its network and the `Swarm`).
pub struct Service {
    pub name: String,
}

impl Service {
    /// `docker service create` with the test image; `args` go before the image.
    pub async fn create(tag: &str, args: &[&str]) -> Service {
        let svc = Service { name: unique(tag) };
        let mut all = vec![
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            &svc.name,
        ];
        all.extend_from_slice(args);
        all.push(IMAGE);
        docker(&all).await;
        svc
    }

    pub async fn scale(&self, n: usize) {
        docker(&[
            "service",
            "scale",
            "--detach",
            &format!("{}={n}", self.name),
        ])
        .await;
    }

    /// `ip:80` of each running task on `net`, from the tasks' own `NetworksAttachments` (not
    /// the network's service table dockside reads), sorted.
    pub async fn task_backends(&self, net: &Network) -> Vec<String> {
        let ids = docker(&[
            "service",
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            &self.name,
        ])
        .await;
        let mut out = Vec::new();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let format = format!(
                "{{{{if eq .Status.State \"running\"}}}}{{{{range .NetworksAttachments}}}}\
                 {{{{if eq .Network.Spec.Name \"{}\"}}}}{{{{range .Addresses}}}}{{{{.}}}}\
                 {{{{end}}}}{{{{end}}}}{{{{end}}}}{{{{end}}}}",
                net.name
            );
            let addr = docker(&["inspect", "--format", &format, id]).await;
            if let Some(ip) = addr.split('/').next().filter(|s| !s.is_empty()) {
                out.push(format!("{ip}:80"));
            }
        }
        out.sort();
        out
    }
}

impl Service {
    /// Waits until the service's rolling update has finished (`UpdateStatus.State` is
    /// `completed`); panics on `paused`/`rollback_*` or after `within`.
    pub async fn wait_updated(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let state = docker(&[
                "service",
                "inspect",
                "--format",
                "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
                &self.name,
            ])
            .await;
            match state.as_str() {
                "completed" => return,
                "paused" | "rollback_started" | "rollback_completed" | "rollback_paused" => {
                    panic!("update of {} ended {state}", self.name)
                }
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "update of {} not done within {within:?}: {state:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ids of the service's task containers running on this node.
    pub async fn containers(&self) -> Vec<String> {
        let filter = format!("label=com.docker.swarm.service.name={}", self.name);
        let out = docker(&["ps", "-q", "--filter", &filter]).await;
        out.lines().map(str::to_owned).collect()
    }
}

/// dockside's image as a container on `net` (as it would run in a swarm, so the task
/// addresses it routes to are reachable from it), publishing port 80 on loopback; scoped to
/// `scope`'s containers. Returns it and its published address.
pub async fn dockside_on(net: &Network, scope: &Scope) -> (Container, String) {
    let c = image::run(
        "dockside",
        &[
            "--network",
            &net.name,
            "-p",
            "127.0.0.1::80",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-e",
            &format!("DOCKER_CONTAINER_FILTERS={}", scope.env_filters()),
            SWARM_IMAGE,
        ],
    )
    .await;
    let addr = image::published(&c, "80/tcp").await;
    (c, addr)
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["service", "rm", &self.name])
            .output();
    }
}

pub fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// This branch's deployment image under its own tag: `dockside:latest` is shared with other
/// test runs on the engine.
pub const SWARM_IMAGE: &str = "dockside-swarm-test:latest";

pub fn ensure_swarm_image() {
    ensure_image();
    image::build(SWARM_IMAGE);
}
