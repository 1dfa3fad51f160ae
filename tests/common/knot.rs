//! A real authoritative DNS server (Knot DNS's `knotd`, Debian package `knot`) on loopback for
//! DNS-01 tests: one zone with SOA/NS, dynamic updates allowed for one TSIG key, a temp dir per
//! test, killed on drop. `kdig` (`knot-dnsutils`) looks at what it serves.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pebble::free_port;

/// The TSIG key knot accepts updates with (base64, as `keymgr -t` prints it).
pub const KEY_NAME: &str = "acme-key";
pub const KEY_SECRET: &str = "Yy1tYWNoaW5lLWtleS1mb3ItdGhlLWRvY2tzaWRlLWRuczAxLXRlc3Q=";

pub struct Knot {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub zone: String,
    child: Option<Child>,
}

fn require(bin: &str, package: &str) {
    let found = Path::new(bin).exists();
    assert!(found, "{bin} is missing: apt-get install {package}");
}

impl Knot {
    /// Starts knotd serving `zone` (e.g. `example.test`) and waits until it answers its SOA.
    pub async fn start(zone: &str) -> Knot {
        require("/usr/sbin/knotd", "knot");
        require("/usr/bin/kdig", "knot-dnsutils");
        let mut dir = tempfile::tempdir().unwrap();
        let zone_text = format!(
            "$ORIGIN {zone}.\n$TTL 60\n@ SOA ns.{zone}. admin.{zone}. 1 3600 600 86400 60\n@ NS ns.{zone}.\nns A 127.0.0.1\n"
        );
        std::fs::write(dir.path().join(format!("{zone}.zone")), zone_text).unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let zone_file = dir.path().join(format!("{zone}.zone"));
        for _ in 0..3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut knot = Knot {
                addr,
                zone: zone.to_owned(),
                child: None,
                dir,
            };
            if knot.try_start().await {
                return knot;
            }
            // Another process took the port: same files, another port.
            dir = std::mem::replace(&mut knot.dir, tempfile::tempdir().unwrap());
            assert!(zone_file.exists());
        }
        panic!("knotd did not start");
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        let (ip, port, zone) = (self.addr.ip(), self.addr.port(), &self.zone);
        format!(
            "server:\n  rundir: \"{d}\"\n  listen: {ip}@{port}\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n  storage: \"{d}/db\"\n\
             control:\n  listen: \"{d}/knot.sock\"\n\
             key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {KEY_SECRET}\n\
             acl:\n  - id: acme_update\n    key: {KEY_NAME}\n    action: update\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n\
             zone:\n  - domain: {zone}\n    file: \"{zone}.zone\"\n    acl: acme_update\n"
        )
    }

    async fn try_start(&mut self) -> bool {
        let conf = self.dir.path().join("knot.conf");
        std::fs::write(&conf, self.config()).unwrap();
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("knot.log"))
            .unwrap();
        let child = Command::new("/usr/sbin/knotd")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start knotd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self
                .dig(&self.zone.clone(), "SOA")
                .iter()
                .any(|l| l.contains("ns."))
            {
                return true;
            }
            if self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop();
        false
    }

    /// `kdig +short` over TCP: the records' data, one per line.
    pub fn dig(&self, owner: &str, rtype: &str) -> Vec<String> {
        let out = Command::new("/usr/bin/kdig")
            .arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.addr.port().to_string()])
            .args(["+tcp", "+short", "+time=2", "+retry=0", rtype, owner])
            .output()
            .expect("run kdig");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().trim_matches('"').to_owned())
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .collect()
    }

    /// The TXT values at `owner`.
    pub fn txt(&self, owner: &str) -> Vec<String> {
        self.dig(owner, "TXT")
    }

    /// `ACMESH_DNS_API_CONFIG` for this server, with `secret` as the inline TSIG secret.
    pub fn dns_api_config(&self, secret: &str) -> String {
        serde_json::json!({
            "DNS_API": "dns_nsupdate",
            "NSUPDATE_SERVER": self.addr.ip().to_string(),
            "NSUPDATE_SERVER_PORT": self.addr.port(),
            "NSUPDATE_KEY_NAME": KEY_NAME,
            "NSUPDATE_KEY_SECRET": secret,
        })
        .to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("knot.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        self.stop();
    }
}
