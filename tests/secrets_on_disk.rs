//! Private keys on disk and in logs (issue 20, "Secrets and surfaces"): after a real ACME flow
//! through dockside (Pebble validating HTTP-01 on dockside's listener) and the default
//! certificate it creates, every private key and the ACME account key are mode 0600, no temp
//! file of an atomic write is left behind, and nothing of any key appears in the log — captured
//! at TRACE, every crate included.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::acme::{ThroughDockside, request};
use common::pebble::Options;
use common::responders::https_get;
use common::{TestBackend, site};
use dockside::model::DesiredState;

const T: Duration = Duration::from_secs(20);

/// Every file under `dir`, symlinks not followed.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(files(&path));
        } else if kind.is_file() {
            out.push(path);
        }
    }
    out
}

/// The secret text a key file holds: a PEM key's base64 lines, or an account's `key_pkcs8`.
fn secrets(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    if path.file_name().is_some_and(|n| n == "account.json") {
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let key = json["key_pkcs8"]
            .as_str()
            .expect("account.json has key_pkcs8");
        // Any 24-character window of the key would be a leak; checking aligned ones is enough
        // to catch a logged key, whole or wrapped.
        return key
            .as_bytes()
            .chunks(24)
            .filter(|c| c.len() == 24)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
    }
    assert!(
        text.contains("PRIVATE KEY"),
        "{} is a PEM key",
        path.display()
    );
    text.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 24)
        .map(|l| l[..24].to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_0600_atomic_and_never_logged() {
    common::logs::capture_at(tracing::Level::TRACE);
    let backend = TestBackend::start("web").await;
    let (t, running) = ThroughDockside::start(Options::default(), |c| {
        c.create_default_certificate = true;
    })
    .await;
    running.publish(DesiredState {
        sites: vec![std::sync::Arc::new(site("keys.e2e.test", &[backend.addr]))],
        certificates: vec![request(&["keys.e2e.test"], &[])],
        ..DesiredState::default()
    });
    let deadline = tokio::time::Instant::now() + T;
    loop {
        match https_get(t.https, "keys.e2e.test", "/", &t.root).await {
            Ok(reply) if reply.status == 200 => break,
            last => assert!(
                tokio::time::Instant::now() < deadline,
                "no verified HTTPS 200 within {T:?}: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.shutdown().await;

    let all = files(t.certs.path());
    let keys: Vec<&PathBuf> = all
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".key") || name == "key.pem" || name == "account.json"
        })
        .collect();
    let names: Vec<String> = keys
        .iter()
        .map(|p| {
            p.strip_prefix(t.certs.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    for want in ["default.key", "keys.e2e.test/key.pem"] {
        assert!(names.iter().any(|n| n == want), "{want} written: {names:?}");
    }
    assert!(
        names.iter().any(|n| n.ends_with("account.json")),
        "account stored: {names:?}"
    );
    for key in &keys {
        let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", key.display());
    }
    let leftovers: Vec<&PathBuf> = all
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".dockside-")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );

    let log = common::logs::text();
    assert!(log.contains("keys.e2e.test"), "the capture saw the flow");
    assert!(!log.contains("PRIVATE KEY"), "a PEM key header was logged");
    for key in &keys {
        for secret in secrets(key) {
            assert!(
                !log.contains(&secret),
                "part of {} appears in the log",
                key.display()
            );
        }
    }
}
