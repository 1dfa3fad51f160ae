//! nginx-proxy's configuration files (`vhost.d/`, `htpasswd/`, `conf.d/*.conf`,
//! `html/errors/`): read at start, watched (inotify on each folder plus a 2 s poll, like the
//! routes file and certificates) and published as one `NginxFiles` snapshot for
//! `settings::build`. A file that does not parse keeps its last good version, as a bad
//! certificate does; a folder that does not exist is empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::NginxDirs;
use crate::settings::nginx::{self, NginxFiles};

/// Files larger than this are not configuration; they are reported and skipped.
const MAX_FILE: u64 = 1 << 20;

/// Reads every folder. `last` gives the version kept for a file that no longer parses.
pub fn load(dirs: &NginxDirs, last: &NginxFiles) -> NginxFiles {
    let keep_good =
        |kind: &str, read: BTreeMap<String, String>, last: &BTreeMap<String, String>| {
            read.into_iter()
                .filter_map(
                    |(name, text)| match nginx::check(&format!("{kind}/{name}"), &text) {
                        Ok(()) => Some((name, text)),
                        Err(e) => {
                            let kept = last.get(&name).cloned();
                            tracing::error!(
                                "{e}; {}",
                                if kept.is_some() {
                                    "keeping its last good version"
                                } else {
                                    "the file is not applied"
                                }
                            );
                            kept.map(|t| (name, t))
                        }
                    },
                )
                .collect()
        };
    let vhost_d = keep_good("vhost.d", read_dir(&dirs.vhost_d, |_| true), &last.vhost_d);
    let conf_d = keep_good(
        "conf.d",
        // nginx-proxy generates `default.conf` (its whole vhost table): never ours to apply.
        read_dir(&dirs.conf_d, |n| {
            n.ends_with(".conf") && n != "default.conf"
        }),
        &last.conf_d,
    );
    let htpasswd = read_dir(&dirs.htpasswd, |_| true);
    let errors = dirs.html.join("errors");
    let mut error_pages = BTreeMap::new();
    for (name, text) in read_dir(&errors, |n| n.ends_with(".html")) {
        error_pages.insert(name, text);
    }
    if let Ok(entries) = std::fs::read_dir(&errors) {
        for entry in entries.flatten() {
            let Ok(host) = entry.file_name().into_string() else {
                continue;
            };
            if entry.path().is_dir() && !host.starts_with('.') {
                for (name, text) in read_dir(&entry.path(), |n| n.ends_with(".html")) {
                    error_pages.insert(format!("{host}/{name}"), text);
                }
            }
        }
    }
    NginxFiles {
        vhost_d,
        htpasswd,
        conf_d,
        errors_50x: error_pages.remove("50x.html"),
        error_pages,
    }
}

/// The regular files of `dir` whose names `want` accepts (editor leftovers skipped), as text.
fn read_dir(dir: &Path, want: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") || !want(&name) {
            continue;
        }
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() <= MAX_FILE => {}
            Ok(m) if m.is_file() => {
                tracing::warn!(file = %path.display(), "larger than {MAX_FILE} bytes: not read");
                continue;
            }
            _ => continue,
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                out.insert(name, text);
            }
            Err(e) => tracing::warn!(file = %path.display(), "cannot read: {e}"),
        }
    }
    out
}

/// What changes when any file of the folders changes: names, sizes and modification times.
type Stamp = Vec<(PathBuf, Option<SystemTime>, u64)>;

fn stamp(dirs: &NginxDirs) -> Stamp {
    let mut out = Vec::new();
    let errors = dirs.html.join("errors");
    let mut folders = vec![
        dirs.vhost_d.clone(),
        dirs.htpasswd.clone(),
        dirs.conf_d.clone(),
        errors.clone(),
    ];
    if let Ok(entries) = std::fs::read_dir(&errors) {
        folders.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for dir in folders {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if let Ok(m) = std::fs::metadata(&path) {
                out.push((path, m.modified().ok(), m.len()));
            }
        }
    }
    out.sort();
    out
}

/// Publishes a new snapshot whenever a file of the folders changes (within 2 s; usually at
/// once, from inotify).
pub fn spawn(
    dirs: NginxDirs,
    tx: watch::Sender<Arc<NginxFiles>>,
    token: CancellationToken,
    status: Arc<super::ProviderStatus>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (ev_tx, mut ev_rx) = mpsc::channel::<()>(1);
        let _watchers = watchers(&dirs, &ev_tx);
        // `None`: the first tick (at once) reads the folders, so an edit made between the
        // caller's first `load` and this task's start is not missed.
        let mut last_stamp: Option<Stamp> = None;
        let mut poll = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                Some(()) = ev_rx.recv() => tokio::time::sleep(Duration::from_millis(30)).await,
                _ = poll.tick() => {}
            }
            let now = Some(stamp(&dirs));
            if now == last_stamp {
                continue;
            }
            last_stamp = now;
            let last = tx.borrow().clone();
            let files = load(&dirs, &last);
            if tx.send_if_modified(|current| {
                let differs = **current != files;
                if differs {
                    *current = Arc::new(files);
                }
                differs
            }) {
                tracing::info!(
                    "nginx-proxy files (vhost.d, htpasswd, conf.d, html/errors) reloaded"
                );
                status.nginx_files_reloaded();
            }
        }
    })
}

/// inotify on each folder that exists; a folder created later, or a system without inotify,
/// is seen by the 2 s poll.
fn watchers(dirs: &NginxDirs, tx: &mpsc::Sender<()>) -> Vec<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut out = Vec::new();
    let errors = dirs.html.join("errors");
    for (dir, mode) in [
        (&dirs.vhost_d, notify::RecursiveMode::NonRecursive),
        (&dirs.htpasswd, notify::RecursiveMode::NonRecursive),
        (&dirs.conf_d, notify::RecursiveMode::NonRecursive),
        (&errors, notify::RecursiveMode::Recursive),
    ] {
        if !dir.is_dir() {
            continue;
        }
        let tx = tx.clone();
        let Ok(mut w) = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if super::is_change(&ev) {
                let _ = tx.try_send(());
            }
        }) else {
            continue;
        };
        if w.watch(dir, mode).is_ok() {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
#[path = "nginx_files_tests.rs"]
mod tests;
