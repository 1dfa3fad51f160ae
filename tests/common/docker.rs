//! Real-engine harness: the busybox test image, uniquely named containers and networks that
//! are removed on drop (also when a test fails), a running Docker provider, and a unix-socket
//! relay in front of the engine that a test can stop and restart.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dockside::discovery::{self, DockerSettings};
use dockside::model::{Reach, SourceItem};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const IMAGE: &str = "dockside-test-backend:latest";
pub const ENGINE_SOCKET: &str = "/var/run/docker.sock";
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds the test image once per test binary; fails (never skips) without a usable engine.
pub fn ensure_image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let ok = std::process::Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "Docker engine not reachable at {ENGINE_SOCKET}: these tests need a real engine \
             (is dockerd running and may this user use its socket?)"
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-image.sh");
        let out = std::process::Command::new(&script)
            .output()
            .expect("run scripts/build-test-image.sh");
        assert!(
            out.status.success(),
            "building {IMAGE} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A unique name `dockside-test-<pid>-<n>-<tag>` so parallel tests and runs never collide.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("dockside-test-{}-{n}-{tag}", std::process::id())
}

/// Runs the docker CLI, panicking with its stderr on failure; returns trimmed stdout.
pub async fn docker(args: &[&str]) -> String {
    let run = tokio::process::Command::new("docker")
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CLI_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("docker {args:?} timed out"))
        .unwrap_or_else(|e| panic!("docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn remove_now(args: &[&str]) {
    let _ = std::process::Command::new("docker")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// A user network removed on drop. Declare it before the containers on it (drop order).
pub struct Network {
    pub name: String,
}

impl Network {
    pub async fn create(tag: &str) -> Network {
        Network::create_with(tag, &[]).await
    }

    /// With extra `docker network create` flags (`--ipv6 --subnet ...`, `--internal`).
    pub async fn create_with(tag: &str, args: &[&str]) -> Network {
        let net = Network { name: unique(tag) };
        let mut all = vec!["network", "create"];
        all.extend_from_slice(args);
        all.push(&net.name);
        docker(&all).await;
        net
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        remove_now(&["network", "rm", &self.name]);
    }
}

/// A container removed (forcefully) on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker create` with the test image; `args` go before the image (env, labels, ...).
    /// Every container gets `scope` as a label, which the provider filters on.
    pub async fn create(tag: &str, scope: &Scope, args: &[&str]) -> Container {
        ensure_image();
        let c = Container { name: unique(tag) };
        let label = format!("dockside-test-scope={}", scope.0);
        let mut all = vec!["create", "--name", &c.name, "--label", &label];
        all.extend_from_slice(args);
        all.push(IMAGE);
        docker(&all).await;
        c
    }

    /// Created and started.
    pub async fn run(tag: &str, scope: &Scope, args: &[&str]) -> Container {
        let c = Container::create(tag, scope, args).await;
        c.start().await;
        c
    }

    pub async fn start(&self) {
        docker(&["start", &self.name]).await;
    }

    pub async fn stop(&self) {
        docker(&["stop", "-t", "0", &self.name]).await;
    }

    /// What the test image's page says: the container's hostname.
    pub async fn page(&self) -> String {
        docker(&["inspect", "-f", "{{.Config.Hostname}}", &self.name]).await
    }

    /// Makes the image's `/bin/healthy` check pass (`true`) or fail (`false`).
    pub async fn set_healthy(&self, healthy: bool) {
        let op: &[&str] = if healthy { &["touch"] } else { &["rm", "-f"] };
        let mut args = vec!["exec", &self.name, "/bin/busybox"];
        args.extend_from_slice(op);
        args.push("/tmp/ok");
        docker(&args).await;
    }
}

/// `docker create` flags for a healthcheck on the image's `/bin/healthy` (unhealthy until
/// `set_healthy(true)`), checked every 300 ms.
pub const HEALTHCHECK: &[&str] = &[
    "--health-cmd",
    "/bin/healthy",
    "--health-interval",
    "300ms",
    "--health-retries",
    "1",
    "--health-timeout",
    "2s",
];

impl Drop for Container {
    fn drop(&mut self) {
        remove_now(&["rm", "-f", "-v", &self.name]);
    }
}

/// One test's containers: the provider under test sees only those (`DOCKER_CONTAINER_FILTERS`
/// = `label=dockside-test-scope=<id>`), so parallel tests and other users of the engine
/// never disturb each other.
pub struct Scope(pub String);

impl Scope {
    pub fn new() -> Scope {
        Scope(unique("scope"))
    }

    /// Provider settings for this scope against `socket`.
    pub fn settings(&self, socket: &Path) -> DockerSettings {
        let mut s = DockerSettings::with_host(format!("unix://{}", socket.display()));
        s.container_filters = vec![self.filter()];
        s
    }

    /// The `docker ps --filter` pair selecting this scope's containers.
    pub fn filter(&self) -> (String, String) {
        ("label".into(), format!("dockside-test-scope={}", self.0))
    }

    /// `DOCKER_CONTAINER_FILTERS` for a dockside binary run in this scope.
    pub fn env_filters(&self) -> String {
        let (k, v) = self.filter();
        format!("{k}={v}")
    }
}

/// A running Docker provider; cancelled on drop.
pub struct Provider {
    pub rx: watch::Receiver<Vec<SourceItem>>,
    /// What the provider reports to the admin listener (connection, events, syncs).
    pub status: std::sync::Arc<discovery::ProviderStatus>,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Provider {
    pub fn start(settings: DockerSettings) -> Provider {
        let (tx, rx) = watch::channel(Vec::new());
        let token = CancellationToken::new();
        let status = std::sync::Arc::new(discovery::ProviderStatus::default());
        let task = discovery::spawn_observed(settings, tx, token.clone(), status.clone());
        Provider {
            rx,
            status,
            token,
            task: Some(task),
        }
    }

    /// Waits until `pred` holds for the published items; panics with the last items.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[SourceItem]) -> bool,
    ) -> Vec<SourceItem> {
        let res = tokio::time::timeout(timeout, self.rx.wait_for(|items| pred(items)))
            .await
            .map(|r| r.map(|items| items.clone()));
        match res {
            Ok(Ok(items)) => items,
            _ => panic!(
                "{what}: not within {timeout:?}; last published: {:#?}",
                *self.rx.borrow()
            ),
        }
    }

    /// Cancels the provider; whether its task ended within `within`.
    pub async fn stop(mut self, within: Duration) -> bool {
        self.token.cancel();
        match self.task.take() {
            Some(task) => tokio::time::timeout(within, task).await.is_ok(),
            None => true,
        }
    }

    /// The currently published items.
    /// Waits until the provider's reported Docker state satisfies `pred`; panics with it.
    pub async fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&discovery::DockerView) -> bool,
    ) -> discovery::DockerView {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.status.view().docker.unwrap_or_default();
            if pred(&view) {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {timeout:?}; last: {view:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn items(&self) -> Vec<SourceItem> {
        self.rx.borrow().clone()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The item named `name`, if published.
pub fn item<'a>(items: &'a [SourceItem], name: &str) -> Option<&'a SourceItem> {
    items.iter().find(|i| i.name == name)
}

/// The reachable item's exposed ports (panics on `Unreachable`).
pub fn ports(item: &SourceItem) -> Vec<u16> {
    match &item.reach {
        Reach::Container { exposed_ports, .. } => exposed_ports.clone(),
        other => panic!("{} not reachable: {other:?}", item.name),
    }
}

/// The container's IP on `network`, as the engine reports it.
pub async fn ip_on(container: &Container, network: &Network) -> String {
    let fmt = format!(
        "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
        network.name
    );
    docker(&["inspect", "-f", &fmt, &container.name]).await
}

/// A unix-socket relay in front of the engine: `stop` drops the listener and every relayed
/// connection (the provider's event stream included), `start` binds the same path again.
/// It notes every request line it relays (`calls`).
pub struct Relay {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    task: Option<JoinHandle<()>>,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Relay {
    pub fn start() -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        let mut relay = Relay {
            path,
            _dir: dir,
            task: None,
            calls: Default::default(),
        };
        relay.resume();
        relay
    }

    pub fn resume(&mut self) {
        let listener = UnixListener::bind(&self.path).expect("bind relay socket");
        let calls = self.calls.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                while conns.try_join_next().is_some() {}
                let calls = calls.clone();
                conns.spawn(async move {
                    if let Ok(engine) = UnixStream::connect(ENGINE_SOCKET).await {
                        relay_noting(client, engine, calls).await;
                    }
                });
            }
        }));
    }

    /// Every request line relayed so far (`GET /v1.41/containers/json?… HTTP/1.1`), in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies both ways; the client's bytes are scanned for request lines (bollard sends no body
/// that could look like one: its only request bodies are JSON).
async fn relay_noting(
    client: UnixStream,
    engine: UnixStream,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_engine, mut to_engine) = engine.into_split();
    let upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending = Vec::new();
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&pending[..end]).into_owned();
                pending.drain(..end + 2);
                if line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0") {
                    calls.lock().unwrap().push(line);
                }
            }
            if to_engine.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_engine.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut from_engine, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Predicate: an item named `name` is published.
pub fn has(name: &str) -> impl Fn(&[SourceItem]) -> bool + '_ {
    move |items| item(items, name).is_some()
}

/// Predicate: no item named `name` is published.
pub fn lacks(name: &str) -> impl Fn(&[SourceItem]) -> bool + '_ {
    move |items| item(items, name).is_none()
}

/// A provider for this test's scope, on the engine socket (dockside "standalone on the host").
pub async fn provider(scope: &Scope) -> Provider {
    ensure_image();
    let settings = scope.settings(Path::new(ENGINE_SOCKET));
    if let Err(e) = dockside::discovery::probe(&settings).await {
        panic!("Docker engine not reachable: {e}");
    }
    Provider::start(settings)
}
