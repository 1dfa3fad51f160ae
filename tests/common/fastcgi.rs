//! Starts a real PHP-FPM (Debian `php-fpm`, binary `php-fpmX.Y`) in the foreground with its
//! own config in a temp dir, serving `tests/apps/php/` on a free loopback port; stops it on
//! drop. The kernel's socket table tells how many connections it was sent (keep-alive tests).

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running php-fpm master with `pm = static` children.
pub struct PhpFpm {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// The php-fpm binary: `php-fpm8.2` on Debian 12, whatever version is installed elsewhere.
pub fn binary() -> String {
    if let Ok(entries) = std::fs::read_dir("/usr/sbin") {
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("php-fpm"))
            .collect();
        found.sort();
        if let Some(last) = found.pop() {
            return format!("/usr/sbin/{last}");
        }
    }
    panic!("php-fpm is required by this test: apt-get install -y php-fpm")
}

impl PhpFpm {
    /// php-fpm with `children` workers on `127.0.0.1:<free port>`.
    pub fn start(children: usize) -> PhpFpm {
        let bin = binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = super::pebble::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let conf = dir.path().join("php-fpm.conf");
        std::fs::write(
            &conf,
            format!(
                "[global]\nerror_log = {log}\ndaemonize = no\n\n[test]\nlisten = {addr}\n\
                 pm = static\npm.max_children = {children}\npm.status_path = /fpm-status\n\
                 php_admin_value[output_buffering] = 0\nphp_admin_value[display_errors] = Off\n\
                 php_admin_value[log_errors] = On\nphp_admin_value[post_max_size] = 64M\n",
                log = dir.path().join("php-fpm.log").display(),
            ),
        )
        .expect("write php-fpm.conf");
        // As root, `-R` lets the children run as root too (no pool user to create).
        let mut cmd = Command::new(&bin);
        cmd.args(["-F", "-n", "-y"]).arg(&conf);
        if is_root() {
            cmd.arg("-R");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e} (apt-get install -y php-fpm)"));
        let mut fpm = PhpFpm { child, addr, dir };
        fpm.wait_ready();
        fpm
    }

    /// The scripts php-fpm runs (`VIRTUAL_ROOT` of the test sites).
    pub fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/php")
    }

    /// A directory that lives as long as the server (flag files for the streaming test).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(self.addr).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("php-fpm exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "php-fpm not accepting:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client-side ports of every TCP connection to php-fpm the kernel still knows
    /// (established, or closed less than a minute ago: TIME_WAIT on either side): the
    /// connections opened to it, told apart by their ephemeral port.
    pub fn connection_ports(&self) -> BTreeSet<u16> {
        let port = self.addr.port();
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let port_of = |field: &str| {
            field
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        };
        table
            .lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                let (local, remote, state) = (
                    port_of(cols.get(1)?)?,
                    port_of(cols.get(2)?)?,
                    *cols.get(3)?,
                );
                if state == "0A" {
                    return None; // the listening socket
                }
                match (local == port, remote == port) {
                    (true, _) => Some(remote),
                    (_, true) => Some(local),
                    _ => None,
                }
            })
            .collect()
    }

    /// What php-fpm logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("php-fpm.log")).unwrap_or_default()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        // SIGTERM stops the master and its children at once (SIGQUIT would wait for them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
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
