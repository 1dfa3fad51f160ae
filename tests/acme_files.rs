//! acme-companion's file and process settings against a real Pebble: `ACME_PRE_HOOK` /
//! `ACME_POST_HOOK` around real orders, `<host>.crt` links following a host into a SAN
//! certificate while the user's own files stay untouched, standalone certificates from the
//! routes file's `[[certificate]]` entries, and `dockside renew --force` (the real binary) on a
//! running dockside replacing a valid certificate.

mod common;

use std::path::Path;
use std::time::Duration;

use common::acme::{ThroughDockside, harness, request};
use common::pebble::Options;
use common::require_tool;
use common::responders::verify_served;
use tokio::time::Instant;

const T: Duration = Duration::from_secs(30);

/// Polls `check` until it holds, or panics naming `what`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {T:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Replaces the routes file the way editors do (write a new file, rename it over).
fn write_routes(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn serial(certs: &Path, host: &str) -> Vec<u8> {
    let pem = std::fs::read(certs.join(format!("{host}.crt"))).unwrap();
    let info = x509_parser::pem::parse_x509_pem(&pem).unwrap().1;
    info.parse_x509().unwrap().raw_serial().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_around_each_order_with_acme_sh_variables() {
    require_tool("sh", "dash");
    let h = harness(Options::default()).await;
    let log = h.certs.path().join("hooks.log");
    let script = |stage: &str| {
        format!(
            r#"sh -c 'echo "{stage} $Le_Domain $Le_Alt ${{DOCKSIDE_ORDER_RESULT:-}} $(test -f "${{CERT_FULLCHAIN_PATH:-/nonexistent}}" && echo file)" >> {}'"#,
            log.display()
        )
    };
    let mut globals = h.globals();
    globals.pre_hook = Some(script("pre"));
    globals.post_hook = Some("false".into());
    let reqs = vec![
        // The container's own post hook replaces dockside's failing one; a failing hook
        // (dockside's `false`, on the second certificate) never stops the order.
        request(
            &["hook.example.test", "www.hook.example.test"],
            &[("ACME_POST_HOOK", &script("post"))],
        ),
        request(&["plain.example.test"], &[]),
    ];
    let mut run = h.run(globals, reqs);
    run.issued_n(2, T).await;
    let root = h.pebble.issuer_root().await;
    verify_served(h.certs.path(), "plain.example.test", &root).await;
    until("post hook ran", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("post "))
    })
    .await;
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "post hook.example.test www.hook.example.test ok file",
            "pre hook.example.test www.hook.example.test",
            "pre plain.example.test no",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_follow_a_host_into_a_san_certificate_and_spare_user_files() {
    let h = harness(Options::default()).await;
    let certs = h.certs.path();
    // The user's own files: a plain pair, a link into a folder without `.companion`, default.crt.
    std::fs::create_dir_all(certs.join("mine")).unwrap();
    std::fs::write(certs.join("user.example.test.crt"), "user cert").unwrap();
    std::fs::write(certs.join("user.example.test.key"), "user key").unwrap();
    std::fs::write(certs.join("mine/fullchain.pem"), "mine").unwrap();
    std::os::unix::fs::symlink(
        "./mine/fullchain.pem",
        certs.join("linked.example.test.crt"),
    )
    .unwrap();
    std::fs::write(certs.join("default.crt"), "default").unwrap();

    let mut run = h.run(
        h.globals(),
        vec![
            request(&["a.example.test"], &[]),
            request(&["gone.example.test"], &[]),
        ],
    );
    run.issued_n(2, T).await;
    let link = |host: &str| std::fs::read_link(certs.join(format!("{host}.crt"))).ok();
    assert_eq!(
        link("a.example.test").unwrap(),
        Path::new("./a.example.test/fullchain.pem")
    );

    // a.example.test moves into main.example.test's SAN certificate; gone.example.test is dropped.
    let san = request(&["main.example.test", "a.example.test"], &[]);
    run.desired
        .send_replace(std::sync::Arc::new(dockside::model::DesiredState {
            certificates: vec![san],
            ..Default::default()
        }));
    assert_eq!(run.next_issued(T).await, "main.example.test");
    let san_target = Path::new("./main.example.test/fullchain.pem");
    assert_eq!(link("a.example.test").as_deref(), Some(san_target));
    assert_eq!(
        std::fs::read_link(certs.join("a.example.test.key")).unwrap(),
        Path::new("./main.example.test/key.pem")
    );
    until("gone.example.test unlinked", || {
        link("gone.example.test").is_none()
    })
    .await;
    for suffix in ["key", "chain.pem"] {
        assert!(
            std::fs::symlink_metadata(certs.join(format!("gone.example.test.{suffix}"))).is_err()
        );
    }
    assert!(
        certs.join("gone.example.test/fullchain.pem").is_file(),
        "folders are kept"
    );
    let root = h.pebble.issuer_root().await;
    let leaf = verify_served(certs, "a.example.test", &root).await;
    let mut names = dockside::certs::CertInfo::from_der(&leaf).unwrap().names;
    names.sort();
    assert_eq!(names, ["a.example.test", "main.example.test"]);

    let read = |f: &str| std::fs::read_to_string(certs.join(f)).unwrap();
    assert_eq!(read("user.example.test.crt"), "user cert");
    assert_eq!(read("user.example.test.key"), "user key");
    assert_eq!(read("default.crt"), "default");
    assert_eq!(
        link("linked.example.test").unwrap(),
        Path::new("./mine/fullchain.pem")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_file_certificate_entries_are_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    // Entries are added once Pebble is up (it starts after dockside): orders then succeed at once.
    std::fs::write(&routes, "# nothing yet\n").unwrap();
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.routes = Some(routes.clone());
    })
    .await;
    write_routes(
        &routes,
        "[[certificate]]\nACME_HOST = \"mail.example.test, smtp.example.test\"\n",
    );
    let cert = t.certs.path().join("smtp.example.test.crt");
    until("standalone certificate written", || cert.exists()).await;
    let leaf = verify_served(t.certs.path(), "smtp.example.test", &t.root).await;
    let names = dockside::certs::CertInfo::from_der(&leaf).unwrap().names;
    assert_eq!(names, ["mail.example.test", "smtp.example.test"]);
    assert!(
        running.routes().sites().next().is_none(),
        "nothing is routed"
    );
    // Removing the entry removes the links, keeps the folder.
    write_routes(&routes, "# no certificates\n");
    until("links removed", || {
        std::fs::symlink_metadata(&cert).is_err()
    })
    .await;
    assert!(
        t.certs
            .path()
            .join("mail.example.test/fullchain.pem")
            .is_file()
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_force_replaces_a_valid_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let text = "[[certificate]]\nACME_HOST = \"renew.example.test\"\n[[certificate]]\nACME_HOST = \"keep.example.test\"\n";
    std::fs::write(&routes, "# nothing yet\n").unwrap();
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.routes = Some(routes.clone());
        c.admin = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    write_routes(&routes, text);
    let admin = running.admin_addr.expect("admin listener");
    let certs = t.certs.path();
    for host in ["renew.example.test", "keep.example.test"] {
        let link = certs.join(format!("{host}.crt"));
        let what = format!("{host} ({:?})", running.acme.as_ref().map(|s| s.snapshot()));
        until(&what, || link.exists()).await;
    }
    let (before, kept) = (
        serial(certs, "renew.example.test"),
        serial(certs, "keep.example.test"),
    );
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dockside"))
            .args(["--admin", &admin.to_string(), "renew"])
            .args(args)
            .output()
            .unwrap()
    };
    // Without --force a valid certificate is only looked at.
    let out = cli(&["renew.example.test"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "checking now: renew.example.test\n"
    );
    let out = cli(&["--force", "renew.example.test", "nope.example.test"]);
    assert!(
        !out.status.success(),
        "an unknown host fails the command: {out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ordering now: renew.example.test\nno certificate is wanted for nope.example.test\n"
    );
    until("new serial", || {
        serial(certs, "renew.example.test") != before
    })
    .await;
    verify_served(certs, "renew.example.test", &t.root).await;
    assert_eq!(
        serial(certs, "keep.example.test"),
        kept,
        "only the named certificate"
    );
    let stats = running.acme.as_ref().unwrap();
    assert_eq!(
        stats
            .orders_started
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    running.shutdown().await;
}
