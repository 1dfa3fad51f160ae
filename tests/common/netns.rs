//! A network namespace joined to this one by a veth pair, so a test can reach a listener bound
//! to a non-loopback address of this machine from another address (`ip netns exec … curl`),
//! with no traffic leaving the machine. Needs root and iproute2; removed on drop.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A namespace with `peer_ip`, linked to `host_ip` on this side (a /30 in 198.18.0.0/15, the
/// benchmarking range, picked from the process id so parallel test binaries differ).
pub struct Netns {
    name: String,
    host_if: String,
    pub host_ip: IpAddr,
    pub peer_ip: IpAddr,
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "running `ip {}` ({e}): install iproute2 (apt-get install -y iproute2)",
            args.join(" ")
        )
    })
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "`ip {}` failed (this test needs root to make a network namespace): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    pub fn create() -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let block = (pid.wrapping_mul(4).wrapping_add(n)) % 32_768;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + block * 4;
        let ns = Netns {
            name: format!("dockside-t{pid}-{n}"),
            host_if: format!("dst{}h{n}", pid % 1_000_000),
            host_ip: IpAddr::V4(Ipv4Addr::from(base + 1)),
            peer_ip: IpAddr::V4(Ipv4Addr::from(base + 2)),
        };
        let peer_if = format!("dst{}p{n}", pid % 1_000_000);
        // Leftovers of a killed run with the same pid.
        let _ = ip(&["link", "del", &ns.host_if]);
        let _ = ip(&["netns", "del", &ns.name]);
        ip_ok(&["netns", "add", &ns.name]);
        ip_ok(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        ip_ok(&["link", "set", &peer_if, "netns", &ns.name]);
        ip_ok(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &ns.host_if,
        ]);
        ip_ok(&["link", "set", &ns.host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut full = vec!["netns", "exec", &ns.name, "ip"];
            full.extend_from_slice(args);
            ip_ok(&full);
        };
        inside(&[
            "addr",
            "add",
            &format!("{}/30", ns.peer_ip),
            "dev",
            &peer_if,
        ]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// `curl -sS --max-time 10 ARGS` run inside the namespace (its address is `peer_ip`).
    pub fn curl(&self, args: &[&str]) -> Output {
        super::require_tool("curl", "curl");
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "curl",
                "-sS",
                "--max-time",
                "10",
            ])
            .args(args)
            .output()
            .expect("ip netns exec runs")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
