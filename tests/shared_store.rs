//! Several dockside replicas sharing ACME state through a real three-member etcd cluster
//! (`--store`), against a real Pebble: one order per certificate whichever replica the CA
//! reaches, every replica serving it; the lock holder killed mid-order and another finishing;
//! etcd stopped (all keep serving, no order, `/status` says so) and back; a renewal reaching
//! every replica. Each replica is the real binary with its own ports and certificate directory.

mod common;

use std::path::Path;
use std::time::Duration;

use common::etcd::EtcdCluster;
use common::pebble::Pebble;
use common::replica::{Replica, Shared, close_gates, logs, open_gates};
use tokio::time::Instant;

const T: Duration = Duration::from_secs(40);
const LOCKS: &str = "/dockside/locks/";

/// Polls `check` until it returns `Some`, or panics naming `what` with every replica's log.
async fn until<R, F: Future<Output = Option<R>>>(
    what: &str,
    replicas: &[&Replica],
    mut check: impl FnMut() -> F,
) -> R {
    let deadline = Instant::now() + T;
    loop {
        if let Some(r) = check().await {
            return r;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: not within {T:?}\n{}",
                logs(replicas.iter().copied())
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A routes file with one site per host, each asking for its own certificate.
fn write_routes(path: &Path, hosts: &[&str]) {
    let text: String = hosts
        .iter()
        .map(|h| {
            format!(
                "[[site]]\nVIRTUAL_HOST = \"{h}\"\nLETSENCRYPT_HOST = \"{h}\"\nbackends = [\"127.0.0.1:9\"]\n\n"
            )
        })
        .collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Orders Pebble has accepted (its log line per new order).
fn orders(pebble: &Pebble) -> usize {
    pebble.log().matches("Added order").count()
}

/// The serial every replica serves for `host`, once they all serve the same one (other than
/// `not`).
async fn served_by_all(replicas: &[&Replica], host: &str, root: &str, not: &[u8]) -> Vec<u8> {
    until(
        &format!("every replica serves a new {host}"),
        replicas,
        || async {
            let mut serials = Vec::new();
            for r in replicas {
                serials.push(r.serial(host, root).await.ok()?);
            }
            let first = serials[0].clone();
            (first != not && serials.iter().all(|s| *s == first)).then_some(first)
        },
    )
    .await
}

/// The replica holding the order lock (its name in etcd).
async fn holder(etcd: &EtcdCluster, replicas: &[&Replica]) -> String {
    until("a replica takes the order lock", replicas, || async {
        etcd.values(LOCKS).into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_served_by_every_replica_and_renewals_reach_all() {
    let etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let key = dir.path().join("store.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    write_routes(&routes, &["one.example.test"]);
    let shared = Shared {
        key_file: Some(&key),
        ..Shared::new(etcd.url(), &pebble, &routes, 2)
    };
    let rs = Replica::start_all(&["r1", "r2", "r3"], &shared);
    let all: Vec<&Replica> = rs.iter().collect();

    // One replica holds the lock (waiting in ACME_PRE_HOOK); the CA will reach another one.
    let holder = holder(&etcd, &all).await;
    let other = rs.iter().find(|r| r.name != holder).unwrap();
    pebble.set_validation_ports(other.http.port(), other.https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    let first = served_by_all(&all, "one.example.test", &root, &[]).await;
    assert_eq!(orders(&pebble), 1, "exactly one order:\n{}", pebble.log());
    for r in &rs {
        let ordered = r.log().contains("ordering certificate");
        assert_eq!(
            ordered,
            r.name == holder,
            "{} ordered: {ordered}\n{}",
            r.name,
            r.log()
        );
    }
    // Stored once, its key sealed: nothing in etcd reads as a private key.
    let stored = etcd.values("/dockside/certs/");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].contains("aes-256-gcm:") && !stored[0].contains("PRIVATE KEY"));
    assert!(
        etcd.keys("/dockside/accounts/").len() == 1,
        "the account is shared"
    );
    assert!(
        etcd.keys("/dockside/challenges/").is_empty(),
        "answers are withdrawn"
    );
    assert!(etcd.keys(LOCKS).is_empty(), "the lock is released");
    for r in &rs {
        let key = r.certs.join("one.example.test/key.pem");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}: {}", r.name, key.display());
    }

    // `dockside renew --force` on a replica that did not order: its new certificate reaches all.
    let renewer = rs.iter().find(|r| r.name != holder).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
        .args([
            "--admin",
            &renewer.admin.to_string(),
            "renew",
            "--force",
            "one.example.test",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let second = served_by_all(&all, "one.example.test", &root, &first).await;
    assert_ne!(first, second);
    assert_eq!(orders(&pebble), 2, "one more order for the renewal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_holder_killed_mid_order_another_replica_finishes() {
    let etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let (_dir, routes) = routes_file(&["killed.example.test"]);
    let shared = Shared::new(etcd.url(), &pebble, &routes, 2);
    let mut rs = Replica::start_all(&["r1", "r2", "r3"], &shared);
    let first_holder = holder(&etcd, &rs.iter().collect::<Vec<_>>()).await;
    let at = rs.iter().position(|r| r.name == first_holder).unwrap();
    let mut dead = rs.remove(at);
    dead.kill();
    let alive: Vec<&Replica> = rs.iter().collect();
    pebble.set_validation_ports(alive[0].http.port(), alive[0].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    served_by_all(&alive, "killed.example.test", &root, &[]).await;
    assert_eq!(
        orders(&pebble),
        1,
        "the dead holder never reached the CA:\n{}",
        pebble.log()
    );
    let finishers = rs
        .iter()
        .filter(|r| r.log().contains("ordering certificate"))
        .count();
    assert_eq!(
        finishers, 1,
        "one survivor took the expired lock over and ordered"
    );
}

/// The etcd leader dies just before the order: its challenge answer is stored once etcd has a
/// new leader (the order is not thrown away), and the CA's TLS-ALPN-01 look reaches the replica
/// that did not order, which answers from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_lost_mid_order_tls_alpn_answered_by_the_other_replica() {
    let mut etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let site = "[[site]]\nVIRTUAL_HOST = \"alpn.example.test\"\nLETSENCRYPT_HOST = \"alpn.example.test\"\nACME_CHALLENGE = \"TLS-ALPN-01\"\nbackends = [\"127.0.0.1:9\"]\n";
    std::fs::write(&routes, site).unwrap();
    // A lock TTL longer than a stalled write during the election (3 s): the lock must outlive it.
    let shared = Shared::new(etcd.url(), &pebble, &routes, 10);
    let rs = Replica::start_all(&["r1", "r2"], &shared);
    let all: Vec<&Replica> = rs.iter().collect();
    let ordering = holder(&etcd, &all).await;
    let other = rs.iter().find(|r| r.name != ordering).unwrap();
    pebble.set_validation_ports(other.http.port(), other.https.port());
    etcd.stop_member(etcd.leader());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    served_by_all(&all, "alpn.example.test", &root, &[]).await;
    let logs = logs(&rs);
    assert_eq!(orders(&pebble), 1, "one order\n{}\n{logs}", pebble.log());
    assert!(
        other.log().contains("answered a TLS-ALPN-01 validation"),
        "{} (which did not order) answered the CA over TLS-ALPN-01\n{logs}",
        other.name
    );
    assert!(!logs.contains("ACME challenge failed"), "{logs}");
}

/// The etcd leader dies while an order waits at its pre-hook, the ACME account already known:
/// the next write to etcd is the challenge answer, which stalls until a new leader is elected.
/// The answer is stored then and the order goes on (before, the order was thrown away at the CA
/// and placed again: two orders).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_lost_before_the_answer_is_stored_the_order_goes_on() {
    let mut etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let (_dir, routes) = routes_file(&["warm.example.test"]);
    let shared = Shared::new(etcd.url(), &pebble, &routes, 10);
    let rs = Replica::start_all(&["r1", "r2"], &shared);
    let all: Vec<&Replica> = rs.iter().collect();
    pebble.set_validation_ports(rs[0].http.port(), rs[0].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    served_by_all(&all, "warm.example.test", &root, &[]).await;
    until("the first lock is released", &all, || async {
        etcd.keys(LOCKS).is_empty().then_some(())
    })
    .await;

    close_gates(&rs);
    write_routes(&routes, &["warm.example.test", "next.example.test"]);
    holder(&etcd, &all).await;
    etcd.stop_member(etcd.leader());
    open_gates(&rs);
    served_by_all(&all, "next.example.test", &root, &[]).await;
    let logs = logs(&rs);
    assert_eq!(
        orders(&pebble),
        2,
        "one order each\n{}\n{logs}",
        pebble.log()
    );
    assert!(!logs.contains("ACME challenge failed"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_keeps_serving_places_no_order_and_resumes() {
    let mut etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let (_dir, routes) = routes_file(&["before.example.test"]);
    let shared = Shared::new(etcd.url(), &pebble, &routes, 2);
    let rs = Replica::start_all(&["r1", "r2", "r3"], &shared);
    let all: Vec<&Replica> = rs.iter().collect();
    assert!(
        rs[0].log().contains("stored in etcd unencrypted"),
        "no encryption key: one warning at startup\n{}",
        rs[0].log()
    );
    pebble.set_validation_ports(rs[0].http.port(), rs[0].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    let before = served_by_all(&all, "before.example.test", &root, &[]).await;
    assert_eq!(orders(&pebble), 1);

    etcd.stop();
    for r in &rs {
        until(
            &format!("{} reports etcd unreachable", r.name),
            &all,
            || async { r.status().await.contains("UNREACHABLE").then_some(()) },
        )
        .await;
    }
    let store = rs[0].overview().await.unwrap()["acme"]["store"].clone();
    assert_eq!(
        store["reachable"], false,
        "the admin API says so too: {store}"
    );
    assert_eq!(store["replica"], "r1");
    // A new certificate is wanted while etcd is down: every replica decides not to order it.
    write_routes(&routes, &["before.example.test", "after.example.test"]);
    for r in &rs {
        let state = until(&format!("{} waits for the store", r.name), &all, || async {
            let c = r.cert_state("after.example.test").await?;
            (c["state"] == "waiting").then_some(c)
        })
        .await;
        let why = state["last_error"].as_str().unwrap_or_default();
        assert!(why.contains("unreachable"), "{state}");
        let metric = r.state_metric("after.example.test", "waiting").await;
        assert_eq!(metric.as_deref(), Some("1"), "{}'s /metrics", r.name);
        assert_eq!(
            r.serial("before.example.test", &root).await.unwrap(),
            before,
            "{} keeps serving",
            r.name
        );
    }
    assert_eq!(orders(&pebble), 1, "no order while etcd is down");

    etcd.start_members();
    served_by_all(&all, "after.example.test", &root, &[]).await;
    assert_eq!(
        orders(&pebble),
        2,
        "one order once etcd is back\n{}\n{}",
        pebble.log(),
        logs(&rs)
    );
    for r in &rs {
        until(
            &format!("{} reports etcd reachable", r.name),
            &all,
            || async { r.status().await.contains("reachable since").then_some(()) },
        )
        .await;
    }
}

/// Seconds since midnight (UTC) of a log line's RFC 3339 timestamp.
fn stamp(line: &str) -> Option<f64> {
    let time = line
        .split_whitespace()
        .next()?
        .split_once('T')?
        .1
        .trim_end_matches('Z');
    let mut parts = time.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
}

/// The time of the first log line of `r` saying `what` with the field `key` = `value`
/// (quoted or not).
fn logged(r: &Replica, what: &str, key: &str, value: &str) -> Option<f64> {
    let (plain, quoted) = (format!("{key}={value}"), format!("{key}=\"{value}\""));
    r.log()
        .lines()
        .find(|l| l.contains(what) && l.split_whitespace().any(|t| t == plain || t == quoted))
        .and_then(stamp)
}

/// For RUNS new hosts (1 in the suite; scripts/bench-shared-store.sh asks for 20 and runs the
/// replicas in release), each is served by every replica, and the time from the issuing replica
/// storing the certificate in etcd to each other replica serving it (its watcher's
/// "certificate written and live") is printed from the replicas' logs: figures, not a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_issued_on_one_served_by_all() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let etcd = EtcdCluster::start(3);
    let mut pebble = Pebble::held().await;
    let (_dir, routes) = routes_file(&[]);
    let shared = Shared::new(etcd.url(), &pebble, &routes, 15);
    let rs = Replica::start_all(&["r1", "r2", "r3"], &shared);
    let all: Vec<&Replica> = rs.iter().collect();
    pebble.set_validation_ports(rs[0].http.port(), rs[0].https.port());
    pebble.start_ca().await;
    let root = pebble.issuer_root().await;
    open_gates(&rs);
    let mut hosts: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for i in 0..=runs {
        hosts.push(format!("b{i}.example.test"));
        let list: Vec<&str> = hosts.iter().map(String::as_str).collect();
        write_routes(&routes, &list);
        let host = hosts.last().unwrap().clone();
        served_by_all(&all, &host, &root, &[]).await;
        let stored = "certificate stored in the shared store";
        let issuer = until("the issuer's stored line", &all, || async {
            rs.iter()
                .find(|r| logged(r, stored, "base", &host).is_some())
        })
        .await;
        let t0 = logged(issuer, stored, "base", &host).unwrap();
        for r in rs.iter().filter(|r| r.name != issuer.name) {
            let live = until("the live line", &all, || async {
                logged(r, "certificate written and live", "certificate", &host)
            })
            .await;
            // The first host registers the account: untimed warm-up.
            if i > 0 {
                samples.push(live - t0);
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize] * 1000.0;
    println!(
        "issued on one replica -> served by the other two: n={} p50={:.1} ms p95={:.1} ms max={:.1} ms (orders: {})",
        samples.len(),
        pct(0.5),
        pct(0.95),
        pct(1.0),
        orders(&pebble)
    );
}

/// A routes file serving `hosts`, in a directory that lives as long as the first value.
fn routes_file(hosts: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    write_routes(&routes, hosts);
    (dir, routes)
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn tls_files(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "etcd test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let leaf = |names: Vec<String>, cn: &str, name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    };
    leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        "etcd",
        "server",
    );
    leaf(vec![], "dockside", "client");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificate_and_password_reach_etcd() {
    common::require_tool("etcdctl", "etcd-client");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tls_files(d);
    let port = common::pebble::free_port();
    let url = format!("https://127.0.0.1:{port}");
    let peer = format!("http://127.0.0.1:{}", common::pebble::free_port());
    let mut etcd = std::process::Command::new("/usr/bin/etcd")
        .args(["--name", "tls", "--data-dir"])
        .arg(d.join("data"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("tls={peer}")])
        .arg("--cert-file")
        .arg(d.join("server.pem"))
        .arg("--key-file")
        .arg(d.join("server-key.pem"))
        .arg("--trusted-ca-file")
        .arg(d.join("ca.pem"))
        .arg("--client-cert-auth")
        .args(["--logger", "zap", "--log-level", "warn"])
        .env_clear()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start etcd with TLS");
    let ctl = |args: &[&str]| {
        std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &url, "--command-timeout=2s"])
            .arg(format!("--cacert={}", d.join("ca.pem").display()))
            .arg(format!("--cert={}", d.join("client.pem").display()))
            .arg(format!("--key={}", d.join("client-key.pem").display()))
            .args(args)
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + T;
    while !ctl(&["endpoint", "health"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "etcd with TLS never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for args in [
        &["user", "add", "root:rootpw"][..],
        &["user", "grant-role", "root", "root"],
        &["user", "add", "dockside:s3cret"],
        &["role", "add", "dockside"],
        &[
            "role",
            "grant-permission",
            "dockside",
            "readwrite",
            "--prefix=true",
            "/dockside/",
        ],
        &["user", "grant-role", "dockside", "dockside"],
        &["auth", "enable"],
    ] {
        let out = ctl(args);
        assert!(out.status.success(), "etcdctl {args:?}: {out:?}");
    }
    let flags = |password: &str| {
        vec![
            format!("--store=etcd://127.0.0.1:{port}"),
            format!("--store-ca={}", d.join("ca.pem").display()),
            format!("--store-client-cert={}", d.join("client.pem").display()),
            format!("--store-client-key={}", d.join("client-key.pem").display()),
            "--store-user=dockside".into(),
            format!("--store-password={password}"),
            "--store-replica=tls-1".into(),
        ]
    };
    let run = |password: &str| Replica::start_plain(&flags(password));
    // The right password: the mirror announces itself in etcd and /status says reachable.
    let good = run("s3cret");
    let mut present = false;
    while Instant::now() < deadline && !present {
        let out = ctl(&[
            "--user=root:rootpw",
            "get",
            "--prefix",
            "--keys-only",
            "/dockside/replicas/",
        ]);
        present = String::from_utf8_lossy(&out.stdout).contains("/dockside/replicas/tls-1");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        present,
        "replica never present over TLS + auth:\n{}",
        good.log()
    );
    assert!(
        good.status().await.contains("reachable since"),
        "{}",
        good.log()
    );
    drop(good);
    // A wrong password: /status says so, naming etcd's refusal.
    let bad = run("wrong");
    let mut status = String::new();
    while Instant::now() < deadline && !status.contains("authentication failed") {
        status = bad.status().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        status.contains("UNREACHABLE") && status.contains("authentication failed"),
        "{status}"
    );
    let _ = etcd.kill();
    let _ = etcd.wait();
}
