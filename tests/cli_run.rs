//! The `dockside` binary: a port it cannot bind is one line saying what to do (exit 1),
//! SIGTERM drains and exits 0, and clients' TLS oddities do not flood the log.

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

fn dockside() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dockside"));
    c.args(["--https", "off", "--admin", "off", "--docker-host", "off"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

/// Waits for a child with a deadline; kills it and panics on timeout.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dockside did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's stderr lines, after the one saying it is serving (panics after 10 s).
fn serving(child: &mut Child) -> Lines<BufReader<ChildStderr>> {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < deadline,
            "dockside never said it is serving"
        );
        match lines.next() {
            Some(Ok(l)) if l.contains("dockside is serving") => return lines,
            Some(_) => {}
            None => panic!("dockside exited before serving"),
        }
    }
}

/// SIGTERM, then the exit status (within 10 s).
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_exit(child, Duration::from_secs(10))
}

#[test]
fn taken_port_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut child = dockside()
        .args(["--http", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockside binary runs");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("cannot bind"))
        .unwrap_or_else(|| panic!("no bind error in {stderr:?}"));
    assert!(
        line.contains(&addr) && line.contains("choose another port"),
        "{line}"
    );
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut child = dockside()
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockside binary runs");
    let lines = serving(&mut child);
    assert_eq!(terminate(&mut child).code(), Some(0));
    drop(lines);
}

/// wrk and many monitors send the IP address they connect to as SNI; rustls warns about that
/// on every handshake. Even with `RUST_LOG=info` set explicitly, the log stays quiet.
#[test]
fn an_ip_address_as_sni_is_not_logged_per_handshake() {
    let port = common::pebble::free_port();
    let https = format!("127.0.0.1:{port}");
    let certs = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args(["--http", "127.0.0.1:0", "--https", &https, "--admin", "off"])
        .args(["--docker-host", "off", "--certs-dir"])
        .arg(certs.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockside binary runs");
    let lines = serving(&mut child);
    for _ in 0..3 {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &https, "-servername", "127.0.0.1"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl is required: apt-get install -y openssl");
        // No certificate for it: refused with unrecognized_name, which is not the point here.
        assert!(!out.status.success());
    }
    assert_eq!(terminate(&mut child).code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let noisy: Vec<&String> = rest.iter().filter(|l| l.contains("SNI")).collect();
    assert!(noisy.is_empty(), "{noisy:#?}");
}

/// Two instances on one machine (blue/green): both keep the default admin address, the second
/// finds it taken, says so once, and serves anyway.
#[test]
fn a_second_instance_with_the_admin_port_taken_still_serves() {
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dockside"))
            .args([
                "--http",
                "127.0.0.1:0",
                "--https",
                "off",
                "--docker-host",
                "off",
            ])
            .env("RUST_LOG", "info")
            .env_remove("DOCKSIDE_ADMIN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dockside binary runs");
        let (http, before) = common::serving_on(&mut child);
        (child, http, before)
    };
    let (mut first, first_http, _) = start();
    let (mut second, second_http, second_log) = start();
    assert_ne!(first_http, second_http);
    for http in [&first_http, &second_http] {
        // No site: the unknown-host answer proves the instance serves.
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(format!("http://{http}/"))
            .output()
            .expect("curl runs (apt-get install -y curl)");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "503", "{http}");
    }
    let warnings: Vec<&String> = second_log
        .iter()
        .filter(|l| l.contains("serving without the admin listener"))
        .collect();
    assert_eq!(warnings.len(), 1, "{second_log:#?}");
    assert!(
        warnings[0].contains("127.0.0.1:8099") && warnings[0].contains("--admin"),
        "{}",
        warnings[0]
    );
    assert_eq!(terminate(&mut second).code(), Some(0));
    assert_eq!(terminate(&mut first).code(), Some(0));
}
