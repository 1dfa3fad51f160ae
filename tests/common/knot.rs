//! A real authoritative DNS server (Knot DNS's `knotd`, Debian package `knot`) on loopback for
//! DNS-01 tests: one zone with SOA/NS, dynamic updates allowed for one TSIG key, a temp dir per
//! test, killed on drop. `kdig` (`knot-dnsutils`) looks at what it serves.
//!
//! `start_with_secondary` adds a second knotd listed in the zone as `ns2` (with glue), on port
//! 53 of its own loopback address `127.1.<port>` derived from the primary's reserved port, so
//! parallel tests never share it (binding port 53 needs root, as in CI).

use std::net::{Ipv4Addr, SocketAddr};
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
    role: Role,
    child: Option<Child>,
}

/// How the secondary gets the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// NOTIFY from the primary, then IXFR/AXFR: updates arrive within milliseconds.
    Transfers,
    /// Its own copy of the zone as first loaded: it never sees an update (a broken transfer).
    Never,
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Primary { secondary: Option<SocketAddr> },
    Secondary { primary: SocketAddr, feed: Feed },
}

fn require(bin: &str, package: &str) {
    let found = Path::new(bin).exists();
    assert!(found, "{bin} is missing: apt-get install {package}");
}

impl Knot {
    /// Starts knotd serving `zone` (e.g. `example.test`) and waits until it answers its SOA.
    pub async fn start(zone: &str) -> Knot {
        Self::primary(zone, false, true).await
    }

    /// Like `start`, but the zone's NS name (`ns.<zone>`) has no address record anywhere.
    pub async fn start_with_unresolvable_ns(zone: &str) -> Knot {
        Self::primary(zone, false, false).await
    }

    /// A primary for `zone` whose NS set also names a secondary knotd (`ns2`, glue in the
    /// zone) fed as `feed` says; both answer the zone's SOA when this returns.
    pub async fn start_with_secondary(zone: &str, feed: Feed) -> (Knot, Knot) {
        let primary = Self::primary(zone, true, true).await;
        let Role::Primary {
            secondary: Some(addr),
        } = primary.role
        else {
            unreachable!("started with a secondary")
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        if feed == Feed::Never {
            std::fs::copy(
                primary.dir.path().join(format!("{zone}.zone")),
                dir.path().join(format!("{zone}.zone")),
            )
            .unwrap();
        }
        let mut secondary = Knot {
            dir,
            addr,
            zone: zone.to_owned(),
            role: Role::Secondary {
                primary: primary.addr,
                feed,
            },
            child: None,
        };
        assert!(
            secondary.try_start().await,
            "the secondary knotd did not load {zone} on {addr}:\n{}",
            secondary.log()
        );
        (primary, secondary)
    }

    async fn primary(zone: &str, with_secondary: bool, ns_address: bool) -> Knot {
        require("/usr/sbin/knotd", "knot");
        require("/usr/bin/kdig", "knot-dnsutils");
        let mut dir = tempfile::tempdir().unwrap();
        for _ in 0..3 {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            // 127.1.<port high>.<port low>: unique while the port is reserved.
            let [hi, lo] = port.to_be_bytes();
            let secondary =
                with_secondary.then(|| SocketAddr::from((Ipv4Addr::new(127, 1, hi, lo), 53)));
            let mut zone_text = format!(
                "$ORIGIN {zone}.\n$TTL 60\n@ SOA ns.{zone}. admin.{zone}. 1 3600 600 86400 60\n@ NS ns.{zone}.\n"
            );
            if ns_address {
                zone_text.push_str("ns A 127.0.0.1\n");
            }
            if let Some(s) = secondary {
                zone_text.push_str(&format!("@ NS ns2.{zone}.\nns2 A {}\n", s.ip()));
            }
            std::fs::write(dir.path().join(format!("{zone}.zone")), zone_text).unwrap();
            let db = dir.path().join("db");
            if !db.exists() {
                std::fs::create_dir(db).unwrap();
            }
            let mut knot = Knot {
                addr,
                zone: zone.to_owned(),
                role: Role::Primary { secondary },
                child: None,
                dir,
            };
            if knot.try_start().await {
                return knot;
            }
            // Another process took the port: another port (and secondary address).
            dir = std::mem::replace(&mut knot.dir, tempfile::tempdir().unwrap());
        }
        panic!("knotd did not start");
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        let (ip, port, zone) = (self.addr.ip(), self.addr.port(), &self.zone);
        // Transfers and NOTIFYs between the two come from 127.0.0.1 or the secondary's address.
        let peers = "127.0.0.0/8";
        let (remote, acl, zone_extra) = match self.role {
            Role::Primary { secondary: None } => (String::new(), String::new(), String::new()),
            Role::Primary { secondary: Some(s) } => (
                format!(
                    "remote:\n  - id: secondary\n    address: {}@{}\n",
                    s.ip(),
                    s.port()
                ),
                format!("  - id: transfer\n    address: {peers}\n    action: transfer\n"),
                "    notify: secondary\n".to_owned(),
            ),
            Role::Secondary {
                feed: Feed::Never, ..
            } => (String::new(), String::new(), String::new()),
            Role::Secondary {
                primary,
                feed: Feed::Transfers,
            } => (
                format!(
                    "remote:\n  - id: primary\n    address: {}@{}\n",
                    primary.ip(),
                    primary.port()
                ),
                format!("  - id: notify\n    address: {peers}\n    action: notify\n"),
                "    master: primary\n".to_owned(),
            ),
        };
        let zone_acl = match self.role {
            Role::Primary { secondary: None } => "acme_update",
            Role::Primary { .. } => "[acme_update, transfer]",
            Role::Secondary {
                feed: Feed::Transfers,
                ..
            } => "notify",
            Role::Secondary { .. } => "acme_update",
        };
        format!(
            "server:\n  rundir: \"{d}\"\n  listen: {ip}@{port}\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n  storage: \"{d}/db\"\n\
             control:\n  listen: \"{d}/knot.sock\"\n\
             key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {KEY_SECRET}\n\
             {remote}\
             acl:\n  - id: acme_update\n    key: {KEY_NAME}\n    action: update\n{acl}\
             template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n\
             zone:\n  - domain: {zone}\n    file: \"{zone}.zone\"\n    acl: {zone_acl}\n{zone_extra}"
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
